"""A disk that fills during a PATCH: 507 problem+json, the offset stays at what was durably written, and the
upload resumes to a byte-exact finish once space is back.

The server's data dir is a small tmpfs mounted by the test (this needs root or CAP_SYS_ADMIN; without it the
test fails and says so). A filler file leaves only a few MiB free; deleting it gives the space back.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import Source, make_source
from tests.faults.rawhttp import RawRequest
from tests.faults.tus_ops import PROBLEM_JSON, create, finish_and_verify, metadata, open_patch
from tests.interop.support import OCTETS, TUS, MiB, durable_offset, upload_path
from tests.server_process import FabricServer

DISK = 64 * MiB  # the tmpfs: room for the embedded graph (under 1 MiB when new) and a little more
LEFT_FREE = 6 * MiB  # free space once the filler is written
UPLOAD = 16 * MiB


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A `DISK`-byte tmpfs at tmp_path/data (so the server's log, beside it, stays on the big disk)."""
    mount_point = tmp_path / "data"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK},mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, (
        f"the disk-full test mounts a tmpfs and needs root (CAP_SYS_ADMIN): {done.stderr.strip()}"
    )
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def fill(directory: Path, leave_free: int) -> Path:
    """Write a filler file so that about `leave_free` bytes stay free."""
    filler = directory / "filler.bin"
    size = free_bytes(directory) - leave_free
    assert size > 0, f"the small disk has only {free_bytes(directory)} bytes free before filling"
    block = b"\0" * MiB
    with open(filler, "wb") as out:
        while size > 0:
            size -= out.write(block[: min(len(block), size)])
        out.flush()
        os.fsync(out.fileno())
    return filler


def fill_completely(directory: Path) -> Path:
    """Write a filler file until the disk refuses another byte."""
    filler = directory / "filler-rest.bin"
    block = b"\0" * (64 << 10)
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        try:
            while out.write(b"\0"):
                pass
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def assert_507_problem(status: int, headers: dict[str, str] | httpx.Headers, body: bytes, what: str) -> None:
    assert status == 507, f"{what}: expected 507 Insufficient Storage, got {status} {body[:300]!r}"
    assert headers.get("content-type", "").startswith(PROBLEM_JSON), f"{what}: {dict(headers)}"
    problem = json.loads(body)
    assert problem.get("status") == 507 and problem.get("title"), f"{what}: {problem}"


@pytest.mark.slow
def test_patch_that_fills_the_disk_gets_507_and_resumes_once_space_is_back(small_disk: Path, tmp_path: Path) -> None:
    source: Source = make_source(tmp_path, UPLOAD)
    with FabricServer(small_disk) as server:
        url = create(server.url, source.size)
        filler = fill(small_disk, LEFT_FREE)
        free = free_bytes(small_disk)

        request = open_patch(server.port, url, 0, source.size)
        request.send_file(source.path, 0, source.size)  # stops once the server answers
        answer = request.read_response()
        request.close()
        assert_507_problem(answer.status, answer.headers, answer.body, "PATCH past the free space")

        offset = durable_offset(server.url, url)
        assert 0 <= offset <= min(free, request.sent), f"offset {offset} with {free} bytes free and {request.sent} sent"
        told = answer.headers.get("upload-offset")
        assert told is None or int(told) == offset, (
            f"the 507 said Upload-Offset {told} but HEAD says {offset} is durable"
        )

        # Still full: a retry is refused the same way and loses nothing.
        again = open_patch(server.port, url, offset, source.size - offset)
        again.send_file(source.path, offset, source.size - offset)
        retry = again.try_response()
        again.close()
        assert retry is not None and retry.status == 507, f"a PATCH on a still-full disk was answered {retry}"
        offset_after_retry = durable_offset(server.url, url)
        assert offset <= offset_after_retry <= free

        filler.unlink()
        resumed_from = finish_and_verify(server.url, url, source.path, source.sha256, source.size)
        assert resumed_from == offset_after_retry


@pytest.mark.slow
def test_creation_with_upload_that_fills_the_disk_answers_507_with_a_location_to_resume(
    small_disk: Path, tmp_path: Path
) -> None:
    source: Source = make_source(tmp_path, UPLOAD)
    with FabricServer(small_disk) as server:
        filler = fill(small_disk, LEFT_FREE)
        free = free_bytes(small_disk)
        request = RawRequest(
            server.port,
            "POST",
            "/v1/uploads",
            {**OCTETS, "Upload-Length": str(source.size), "Upload-Metadata": metadata(filename="full.bin")},
            source.size,
        )
        request.send_file(source.path, 0, source.size)
        answer = request.read_response()
        request.close()
        assert_507_problem(answer.status, answer.headers, answer.body, "POST with a body past the free space")
        url = answer.headers.get("location", "")
        upload_path(url)
        offset = durable_offset(server.url, url)
        assert 0 <= offset <= min(free, request.sent)
        told = answer.headers.get("upload-offset")
        assert told is None or int(told) == offset, (
            f"the 507 said Upload-Offset {told} but HEAD says {offset} is durable"
        )

        filler.unlink()
        assert finish_and_verify(server.url, url, source.path, source.sha256, source.size) == offset


@pytest.mark.slow
def test_creation_on_a_full_disk_answers_507_and_works_again_once_space_is_back(small_disk: Path) -> None:
    with FabricServer(small_disk) as server:
        filler = fill_completely(small_disk)
        r = httpx.post(f"{server.url}/v1/uploads", headers={**TUS, "Upload-Length": "1000"}, timeout=30)
        assert_507_problem(r.status_code, r.headers, r.content, "POST on a full disk")
        assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200

        filler.unlink()
        r = httpx.post(f"{server.url}/v1/uploads", headers={**TUS, "Upload-Length": "1000"}, timeout=30)
        assert r.status_code == 201, r.text


@pytest.mark.slow
def test_small_upload_whose_last_patch_meets_a_full_disk_answers_507_and_completes_once_space_is_back(
    small_disk: Path,
) -> None:
    """The PATCH that completes a small upload goes through a batch (`append_completed_many`): on a full disk it is
    refused alone with 507, the upload stays at its offset, and the same PATCH completes it once space is back."""
    body = os.urandom(4096)
    patch_headers = {**OCTETS, "Upload-Offset": "0"}
    with FabricServer(small_disk) as server:
        created = httpx.post(f"{server.url}/v1/uploads", headers={**TUS, "Upload-Length": str(len(body))}, timeout=30)
        assert created.status_code == 201, created.text
        location = created.headers["Location"]
        filler = fill_completely(small_disk)
        r = httpx.patch(location, headers=patch_headers, content=body, timeout=30)
        assert_507_problem(r.status_code, r.headers, r.content, "the last PATCH of a small upload on a full disk")
        assert durable_offset(server.url, location) == 0

        filler.unlink()
        r = httpx.patch(location, headers=patch_headers, content=body, timeout=30)
        assert r.status_code == 204, r.text
        urn = created.headers["Artifact-Urn"]
        assert httpx.get(f"{server.url}/v1/artifacts/{urn}", timeout=30).json()["status"] == "ready"
        assert httpx.get(f"{server.url}/v1/artifacts/{urn}/blob", timeout=30).content == body
