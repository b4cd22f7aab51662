"""Uploads and downloads that survive cut connections and a killed server by resuming, not restarting."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pytest

from fabric.client import Fabric, UploadFailed
from fabric.client.sidecar import sidecar_path
from tests.client.proxy import CountingProxy
from tests.fixtures_client import request_counts
from tests.server_process import FabricServer

MiB = 1 << 20


def creations(server_url: str) -> int:
    return request_counts(server_url).get(("POST", "/v1/uploads"), 0)


def big_file(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    return path, data


@pytest.mark.parametrize("cut_at", [1, 3 * MiB + 12345, 13 * MiB])
def test_upload_resumes_after_the_connection_is_cut(
    tmp_path: Path, client_server: FabricServer, proxy: CountingProxy, cut_at: int
) -> None:
    path, data = big_file(tmp_path, 16 * MiB)
    created_before = creations(client_server.url)
    cut = proxy.cut_after(cut_at, "up")
    with Fabric(url=proxy.url) as fab:
        artifact = fab.upload_artifact(file_path=path, chunk_size=8 * MiB, retry_delay=0.05)
    assert cut.done.is_set()
    assert artifact.sha256 == hashlib.sha256(data).hexdigest()
    assert creations(client_server.url) - created_before == 1  # one upload, resumed: never started over
    assert proxy.bytes_up < len(data) + 2 * MiB  # what was cut off is resent, not the whole file


def test_upload_stream_resumes_after_a_cut(tmp_path: Path, client_server: FabricServer, proxy: CountingProxy) -> None:
    """A one-way stream of unknown size resends from its spooled chunk."""
    import io

    data = os.urandom(6 * MiB)

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            chunk = self.inner.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    proxy.cut_after(4 * MiB, "up")
    with Fabric(url=proxy.url) as fab:
        artifact = fab.upload_artifact(name="pipe.bin", io_stream=Pipe(), chunk_size=3 * MiB, retry_delay=0.05)
    assert artifact.size == len(data)
    assert artifact.sha256 == hashlib.sha256(data).hexdigest()


def test_upload_survives_kill_9_and_restart_of_the_server(tmp_path: Path) -> None:
    path, data = big_file(tmp_path, 24 * MiB)
    server = FabricServer(tmp_path / "data").start()
    killed = threading.Event()
    offsets: list[int] = []

    def progress(done: int, total: int | None) -> None:
        offsets.append(done)
        if done >= 10 * MiB and not killed.is_set():
            killed.set()
            server.kill()  # SIGKILL mid-PATCH, then back up on the same port and data dir
            server.start()

    try:
        with Fabric(url=server.url) as fab:
            artifact = fab.upload_artifact(file_path=path, chunk_size=4 * MiB, retry_delay=0.1, progress=progress)
            assert killed.is_set()
            assert artifact.sha256 == hashlib.sha256(data).hexdigest()
            assert b"".join(artifact.as_stream()) == data
            # after the restart the upload went on from the durable offset (≥ 8 MiB, two whole 4 MiB PATCHes),
            # it did not start again from 0
            restart = (
                offsets.index(max(o for o in offsets[: offsets.index(next(o for o in offsets if o >= 10 * MiB)) + 1]))
                + 1
            )
            assert min(offsets[restart:]) >= 8 * MiB
            assert (
                request_counts(server.url).get(("POST", "/v1/uploads"), 0) == 0
            )  # the restarted server saw no new upload
    finally:
        server.stop()


class Interrupted(Exception):
    pass


def test_interrupted_upload_is_resumed_from_the_sidecar_on_the_next_call(
    tmp_path: Path, client_server: FabricServer, proxy: CountingProxy
) -> None:
    path, data = big_file(tmp_path, 12 * MiB)
    created_before = creations(client_server.url)

    def stop_midway(done: int, total: int | None) -> None:
        if done >= 7 * MiB:
            raise Interrupted()

    with Fabric(url=proxy.url) as fab:
        with pytest.raises(Interrupted):
            fab.upload_artifact(file_path=path, chunk_size=2 * MiB, progress=stop_midway)
        entry = json.loads(sidecar_path(path).read_text())["destinations"][fab.destination]
        assert entry["artifact"] is None
        assert entry["upload"]["url"].startswith(proxy.url + "/v1/uploads/")
        assert entry["upload"]["size"] == len(data)
        assert fab.artifact_for_file(path) is None

        proxy.reset_counters()
        starts: list[int] = []
        artifact = fab.upload_artifact(
            file_path=path, chunk_size=2 * MiB, progress=lambda done, total: starts.append(done)
        )
    assert starts[0] >= 6 * MiB  # the first progress report is the offset the server already had
    assert proxy.bytes_up < len(data) - 3 * MiB  # 6 MiB resumed (plus at most one refused 2 MiB chunk), not 12
    assert creations(client_server.url) - created_before == 1
    assert artifact.sha256 == hashlib.sha256(data).hexdigest()
    assert json.loads(sidecar_path(path).read_text())["destinations"][proxy.url]["upload"] is None


def test_changed_file_does_not_resume_a_stale_upload(
    tmp_path: Path, client_server: FabricServer, proxy: CountingProxy
) -> None:
    path, _ = big_file(tmp_path, 4 * MiB)

    def stop(done: int, total: int | None) -> None:
        if done >= 2 * MiB:
            raise Interrupted()

    with Fabric(url=proxy.url) as fab:
        with pytest.raises(Interrupted):
            fab.upload_artifact(file_path=path, chunk_size=1 * MiB, progress=stop)
        new = os.urandom(4 * MiB + 1)
        path.write_bytes(new)
        artifact = fab.upload_artifact(file_path=path, chunk_size=1 * MiB)
    assert artifact.sha256 == hashlib.sha256(new).hexdigest()


def test_upload_gives_up_after_its_retries(tmp_path: Path) -> None:
    path, _ = big_file(tmp_path, 1000)
    with Fabric(url="http://127.0.0.1:9") as fab:  # nothing listens on the discard port
        with pytest.raises(Exception) as caught:
            fab.upload_artifact(file_path=path, retries=2, retry_delay=0.01)
    assert "connect" in str(caught.value).lower() or isinstance(caught.value, UploadFailed)


# ---- downloads ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cut_at", [300_000, 5 * MiB + 7])
def test_download_resumes_with_range_after_a_cut(tmp_path: Path, proxy: CountingProxy, cut_at: int) -> None:
    data = os.urandom(8 * MiB)
    with Fabric(url=proxy.url) as fab:
        src = tmp_path / "d.bin"
        src.write_bytes(data)
        artifact = fab.upload_artifact(file_path=src)
        proxy.reset_counters()
        cut = proxy.cut_after(cut_at, "down")
        path = artifact.as_local_file(tmp_path / "out.bin")
    assert cut.done.is_set()
    assert path.read_bytes() == data
    assert proxy.connections >= 1  # a new connection after the cut (the first request reused the upload's)
    assert proxy.bytes_down < len(data) + MiB  # the rest was fetched, not the whole again
    headers = bytes(proxy.captured_up).lower()
    assert b"range: bytes=" in headers
    assert b'if-range: "' + artifact.sha256.encode() + b'"' in headers


def test_stream_and_open_resume_too(tmp_path: Path, proxy: CountingProxy) -> None:
    data = os.urandom(4 * MiB)
    src = tmp_path / "s.bin"
    src.write_bytes(data)
    with Fabric(url=proxy.url) as fab:
        artifact = fab.upload_artifact(file_path=src)
        proxy.cut_after(MiB + 3, "down")
        assert b"".join(artifact.as_stream()) == data
        proxy.cut_after(2 * MiB + 5, "down")
        with artifact.open() as f:
            assert f.read() == data
