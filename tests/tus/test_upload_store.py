"""The upload store seam: the server offers what the store's capabilities allow, and a finished upload reaches the
blob store through the interface (a rename for the file store, a streamed copy for a store that cannot move)."""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

import fabric.blobs as blobs_module
from fabric.blobs import BlobStore
from tests.tus.helpers import TUS, create, patch
from tests.tus.test_hooks import Recorder, serving
from tus_server import CompletedUpload, FileUploadStore, TusConfig, TusServer, UploadInfo
from tus_server.errors import storage_error
from tus_server.file_store import FileWriter


class CoreOnlyStore:
    """The file store seen through the core interface only: no termination, concatenation, deferral or move."""

    def __init__(self, directory: Path) -> None:
        self._files = FileUploadStore(directory)

    def create(self, info: UploadInfo) -> None:
        self._files.create(info)

    def load(self, upload_id: str) -> UploadInfo | None:
        return self._files.load(upload_id)

    def save(self, info: UploadInfo) -> None:
        self._files.save(info)

    def writer(self, upload_id: str, offset: int) -> FileWriter:
        return self._files.writer(upload_id, offset)

    def finish(self, info: UploadInfo) -> None:
        self._files.finish(info)

    def read(self, upload_id: str, length: int, block_size: int = 8 << 20) -> Iterator[bytes]:
        return self._files.read(upload_id, length, block_size)

    def release(self, upload_id: str) -> None:
        self._files.release(upload_id)

    def ids(self) -> Iterator[str]:
        return self._files.ids()

    def recover(self) -> list[UploadInfo]:
        return self._files.recover()


def test_a_core_only_store_offers_only_the_extensions_it_can_serve(tmp_path: Path) -> None:
    server = TusServer(CoreOnlyStore(tmp_path), TusConfig())
    with serving(server) as client:
        extensions = client.options("/v1/uploads", headers=TUS).headers["Tus-Extension"].split(",")
        assert extensions == ["creation", "creation-with-upload", "checksum"]
        location = create(client, 3).headers["Location"]
        assert client.delete(location, headers=TUS).status_code == 405
        assert create(client, None, **{"Upload-Defer-Length": "1"}).status_code == 400
        assert create(client, None, **{"Upload-Concat": "partial", "Upload-Length": "1"}).status_code == 400
        assert patch(client, location, 0, b"abc").status_code == 204


def test_file_store_hands_over_by_rename_and_other_stores_by_copy(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    digest = hashlib.sha256(data).hexdigest()
    for name, store in (("file", FileUploadStore(tmp_path / "a")), ("core", CoreOnlyStore(tmp_path / "b"))):
        recorder = Recorder()
        with serving(TusServer(store, TusConfig(), on_complete=recorder.on_complete)) as client:
            location = create(client, len(data)).headers["Location"]
            assert patch(client, location, 0, data).status_code == 204
        (upload,) = recorder.completed
        blobs = BlobStore(tmp_path / f"blobs-{name}")
        target = blobs.ingest_upload(upload, digest)
        assert target.read_bytes() == data, name
        assert blobs.ingest_upload(upload, digest) == target  # a repeat after a crash finds the blob
        assert list((tmp_path / ("a" if name == "file" else "b")).glob(upload.info.id)) == []  # released
        assert store.load(upload.info.id) is not None  # the info stays for HEAD


def test_completed_upload_streams_its_bytes(tmp_path: Path) -> None:
    recorder = Recorder()
    data = os.urandom(100_000)
    with serving(TusServer(FileUploadStore(tmp_path), TusConfig(), on_complete=recorder.on_complete)) as client:
        location = create(client, len(data)).headers["Location"]
        assert patch(client, location, 0, data).status_code == 204
    upload: CompletedUpload = recorder.completed[0]
    assert [len(block) for block in upload.read(40_000)] == [40_000, 40_000, 20_000]


def test_disk_full_and_quota_are_both_507_and_other_failures_500() -> None:
    assert storage_error(OSError(errno.ENOSPC, "full")).status == 507
    assert storage_error(OSError(errno.EDQUOT, "quota")).status == 507
    assert storage_error(OSError(errno.EIO, "io")).status == 500


def test_lane_futures_are_awaited_under_anyio() -> None:
    from tus_server.lanes import SerialLane, wait

    async def main() -> list[int]:
        lane = SerialLane()
        return [await wait(lane.submit(lambda n=n: n * n)) for n in range(5)]

    assert anyio.run(main) == [0, 1, 4, 9, 16]


def test_a_new_shard_directory_is_made_durable_in_its_parent_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blob's name is durable through its shard's fsync; the shard's own name through its parent's, done the
    first time this process uses the shard (also one another process made), never again after."""
    synced: list[Path] = []
    real_sync = blobs_module.fsync_directory
    monkeypatch.setattr(blobs_module, "fsync_directory", lambda path: (synced.append(Path(path)), real_sync(path)))
    root = tmp_path / "blobs"
    source = tmp_path / "source"

    def ingest(blobs: BlobStore, data: bytes, sha256: str) -> None:
        source.write_bytes(data)
        assert blobs.ingest(source, sha256).read_bytes() == data

    first, second = "abcd" + "0" * 60, "abcd" + "1" * 60
    blobs = BlobStore(root)
    ingest(blobs, b"one", first)
    shard = root / "sha256" / "ab" / "cd"
    assert synced == [root / "sha256", root / "sha256" / "ab", shard]  # both new levels in their parents, the blob
    synced.clear()
    ingest(blobs, b"two", second)
    assert synced == [shard]  # the shard is known durable now: only the blob's own name
    synced.clear()
    ingest(BlobStore(root), b"three", "abcd" + "2" * 60)  # another process: it syncs what it has not seen
    assert synced == [root / "sha256", root / "sha256" / "ab", shard]
