"""A PATCH into the S3 store streams its bytes into UploadPart as they arrive: a real `fabric serve` on versitygw
takes one PATCH of 192 MiB (24 parts) with an upload buffer budget of 8 MiB, and the growth of its peak resident
memory (VmHWM, reset through `/proc/<pid>/clear_refs` first) stays below four parts (it grew 12 to 18 MiB here:
the budget, socket buffers, threads). Parts gathered in memory (four in flight per request plus the one
gathering, as before) grew it by 63 MiB. No timing is measured."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures_services import S3Target
from tests.lifecycle.test_archive_memory import memory_kib, reset_peak
from tests.server_process import FabricServer
from tests.tus.helpers import create
from tus_server.s3_store import PART_SIZE

MIB = 1 << 20
BODY = 192 * MIB
BUDGET = 8 * MIB

pytestmark = pytest.mark.slow


def body(sha256: hashlib._Hash) -> Iterator[bytes]:
    """`BODY` random bytes, 1 MiB at a time (the client holds no more than that either)."""
    for _ in range(BODY // MIB):
        chunk = os.urandom(MIB)
        sha256.update(chunk)
        yield chunk


def test_a_large_patch_on_s3_holds_no_part_in_memory(tmp_path: Path, s3_target: S3Target) -> None:
    args = ["--upload-buffer-budget", str(BUDGET)]
    with (
        FabricServer(tmp_path / "data", args=args, env=s3_target.env()) as server,
        httpx.Client(base_url=server.url, timeout=300) as client,
    ):
        assert server.process is not None
        pid = server.process.pid
        created = create(client, BODY)
        assert created.status_code == 201, created.text
        url = created.headers["Location"]
        sha256 = hashlib.sha256()
        reset_peak(pid)
        before = memory_kib(pid, "VmRSS")
        headers = {
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
            "Content-Length": str(BODY),
        }
        done = client.patch(url, content=body(sha256), headers=headers)
        growth = (memory_kib(pid, "VmHWM") - before) * 1024
        assert done.status_code == 204, done.text
        assert done.headers["Upload-Offset"] == str(BODY)
        urn = done.headers["Artifact-Urn"]
        artifact = client.get(f"/v1/artifacts/{urn}")
        assert artifact.status_code == 200 and sha256.hexdigest() in artifact.text
        print(f"peak resident memory grew {growth / MIB:.1f} MiB during the PATCH")
        assert growth < 4 * PART_SIZE, growth // MIB
