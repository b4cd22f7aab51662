"""A streamed archive's memory does not grow with its size: a real `fabric serve` process streams a tar and a zip
of one file and of eight files of 32 MiB (256 MiB, the same blob linked under eight paths, so only 32 MiB is
uploaded), and the growth of its peak resident memory (VmHWM, reset through `/proc/<pid>/clear_refs` before each
download) is compared between the two in the same run. An archive built in memory, or any whole file held, would
grow by hundreds of MiB; streaming grows by the same few MiB for both. No timing is measured."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import httpx
import pytest

from tests.server_process import FabricServer
from tests.tus.helpers import upload

MIB = 1 << 20
FILE_SIZE = 32 * MIB
LARGE_FILES = 8
SLACK = 64 * MIB  # what the large archive may grow beyond the small one: well below the 224 MiB more it carries

pytestmark = pytest.mark.slow


def memory_kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB$", status, re.MULTILINE)
    assert match, status
    return int(match.group(1))


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current resident size


def draft_of(client: httpx.Client, name: str, sha256: str, paths: list[str]) -> str:
    made = client.post("/v1/artifacts", json={"name": name})
    assert made.status_code == 201, made.text
    urn = made.json()["urn"]
    for path in paths:
        linked = client.post(f"/v1/artifacts/{urn}/files", json={"path": path, "sha256": sha256, "size": FILE_SIZE})
        assert linked.status_code == 201, linked.text
    assert client.post(f"/v1/artifacts/{urn}/seal").status_code == 200
    return urn


def streamed_growth(client: httpx.Client, pid: int, urn: str, kind: str) -> tuple[int, int]:
    """(bytes received, growth of the server's peak resident memory in bytes) for one archive download."""
    reset_peak(pid)
    before = memory_kib(pid, "VmRSS")
    received = 0
    tail = b""
    with client.stream("GET", f"/v1/artifacts/{urn}/archive", params={"format": kind}) as answer:
        assert answer.status_code == 200, answer.read()
        for chunk in answer.iter_bytes(MIB):
            received += len(chunk)
            tail = (tail + chunk)[-1024:]
    if kind == "tar":
        assert tail == b"\0" * 1024  # the end-of-archive blocks: the stream was whole
    else:
        assert b"PK\x05\x06" in tail  # the end of central directory
    return received, (memory_kib(pid, "VmHWM") - before) * 1024


def test_archive_memory_does_not_grow_with_its_size(tmp_path: Path) -> None:
    data = os.urandom(FILE_SIZE)
    sha256 = hashlib.sha256(data).hexdigest()
    with FabricServer(tmp_path / "data") as server, httpx.Client(base_url=server.url, timeout=120) as client:
        assert server.process is not None
        pid = server.process.pid
        done = upload(client, data, filename="weights.bin")
        assert done.status_code == 204, done.text
        del data
        small = draft_of(client, "small", sha256, ["weights.bin"])
        large = draft_of(client, "large", sha256, [f"shard-{i}/weights.bin" for i in range(LARGE_FILES)])
        for kind in ("tar", "zip"):
            streamed_growth(client, pid, small, kind)  # warm up: the first download's allocations
            small_size, small_growth = streamed_growth(client, pid, small, kind)
            large_size, large_growth = streamed_growth(client, pid, large, kind)
            assert small_size > FILE_SIZE and large_size > LARGE_FILES * FILE_SIZE
            assert large_growth < small_growth + SLACK, (kind, small_growth // MIB, large_growth // MIB)
            assert large_growth < FILE_SIZE, (kind, large_growth // MIB)  # not even one file is held
