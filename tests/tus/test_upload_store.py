"""The upload store seam: the server offers what the store's capabilities allow, and a finished upload reaches the
blob store through the interface (a rename for the file store, a streamed copy for a store that cannot move)."""

from __future__ import annotations

import errno
import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

import fabric.blobs as blobs_module
from fabric.blobs import BlobStore
from tests.tus.helpers import TUS, create, patch
from tests.tus.test_hooks import Recorder, serving
from tus_server import CompletedUpload, FileUploadStore, TusConfig, TusServer, UploadInfo
from tus_server import syncfs as syncfs_module
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


def _complete_info(data: bytes) -> UploadInfo:
    return UploadInfo(id=uuid.uuid4().hex, length=len(data), offset=len(data), sha256=hashlib.sha256(data).hexdigest())


def test_a_batch_of_small_creations_is_made_durable_with_two_syncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every upload's bytes, one syncfs, every info, one syncfs (where `create_completed` fsyncs three times per
    upload); an upload whose file cannot be made fails alone and touches nothing that was there."""
    synced: list[Path] = []
    real = syncfs_module.syncfs
    monkeypatch.setattr(syncfs_module, "syncfs", lambda path: (synced.append(Path(path)), real(path))[1])
    store = FileUploadStore(tmp_path)
    assert store.can_create_many()
    infos = [_complete_info(b"abcd") for _ in range(3)]
    taken = tmp_path / infos[1].id
    taken.write_bytes(b"somebody else's")  # as if the id were taken: its creation fails, the file stays
    outcomes = store.create_completed_many([(info, [b"ab", b"cd"]) for info in infos])
    assert [outcome is None for outcome in outcomes] == [True, False, True]
    assert isinstance(outcomes[1], FileExistsError)
    assert synced == [tmp_path, tmp_path]
    assert taken.read_bytes() == b"somebody else's" and store.load(infos[1].id) is None
    for info in (infos[0], infos[2]):
        assert (tmp_path / info.id).read_bytes() == b"abcd"
        loaded = store.load(info.id)
        assert loaded is not None and (loaded.offset, loaded.sha256) == (4, info.sha256)


def test_a_batch_whose_sync_fails_keeps_none_of_its_uploads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0

    def failing_second(path: Path) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(errno.EIO, "the disk failed")

    monkeypatch.setattr(syncfs_module, "syncfs", failing_second)
    store = FileUploadStore(tmp_path)
    outcomes = store.create_completed_many([(_complete_info(b"xy"), [b"xy"]) for _ in range(2)])
    assert [getattr(outcome, "errno", None) for outcome in outcomes] == [errno.EIO, errno.EIO]
    assert list(tmp_path.iterdir()) == []


def test_recovery_removes_an_info_a_crash_left_unreadable_with_its_bytes(tmp_path: Path) -> None:
    """An info written without a sync of its own may be empty or torn after a crash that came before its
    batch's sync (no client was answered for it): the next start removes it and its bytes, and keeps the rest."""
    store = FileUploadStore(tmp_path)
    kept, lost = _complete_info(b"keep"), _complete_info(b"lost")
    assert store.create_completed_many([(kept, [b"keep"]), (lost, [b"lost"])]) == [None, None]
    for torn in (b"", b'{"id": "' + lost.id.encode()):
        (tmp_path / f"{lost.id}.info").write_bytes(torn)
        (tmp_path / lost.id).write_bytes(b"lost")
        assert [info.id for info in FileUploadStore(tmp_path).recover()] == [kept.id]
        assert sorted(path.name for path in tmp_path.iterdir()) == [kept.id, f"{kept.id}.info"]


def test_blob_storage_takes_a_batch_in_with_one_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each upload renamed into its shard (new shards made without a sync of their own), then one syncfs for the
    batch; if that sync fails, every upload of the batch fails with it and no shard is taken for durable."""
    synced: list[Path] = []
    real = syncfs_module.syncfs
    monkeypatch.setattr(syncfs_module, "syncfs", lambda path: (synced.append(Path(path)), real(path))[1])
    monkeypatch.setattr(blobs_module, "fsync_directory", lambda path: synced.append(Path(path)))
    uploads_dir, blobs = tmp_path / "uploads", BlobStore(tmp_path / "blobs")
    store = FileUploadStore(uploads_dir)
    data = [b"one", b"two", b"one"]
    infos = [_complete_info(d) for d in data]
    assert store.create_completed_many([(info, [d]) for info, d in zip(infos, data, strict=True)]) == [None] * 3
    synced.clear()
    batch = [(CompletedUpload(info, store), info.sha256 or "") for info in infos]
    assert blobs.ingest_uploads(batch) == ([None, None, None], 1)  # the second "one" found its bytes stored
    assert synced == [tmp_path / "blobs"]  # one sync, no fsync of a shard or its parent
    for info, d in zip(infos, data, strict=True):
        assert blobs.path(info.sha256 or "").read_bytes() == d
    assert sorted(path.name for path in uploads_dir.iterdir()) == sorted(f"{info.id}.info" for info in infos)

    def failing(path: Path) -> None:
        raise OSError(errno.EIO, "the disk failed")

    monkeypatch.setattr(syncfs_module, "syncfs", failing)
    more = _complete_info(b"three")
    (uploads_dir / more.id).write_bytes(b"three")
    (error,), _ = blobs.ingest_uploads([(CompletedUpload(more, store), more.sha256 or "")])
    assert isinstance(error, OSError) and error.errno == errno.EIO
    assert bytes(blobs.shards._seen) == bytes(len(blobs.shards._seen))  # every shard to be synced again


def test_an_info_saved_is_durable_when_save_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`save` (a PATCH's new offset, a completion's digests): the new info fsync'ed beside its place, renamed into
    place, then the directory fsync'ed. Without the last sync a crash could undo the rename, and an offset the
    client was told is durable would go back to the one before (a client streaming from a pipe cannot resend)."""
    store = FileUploadStore(tmp_path)
    info = UploadInfo(id=uuid.uuid4().hex, length=10)
    store.create(info)
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def rename(source: str | Path, target: str | Path) -> None:
        events.append(("rename", f"{Path(source).name} -> {Path(target).name}"))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", rename)
    store.save(replace(info, offset=4))
    assert events == [
        ("fsync", str(tmp_path / f"{info.id}.info.tmp")),
        ("rename", f"{info.id}.info.tmp -> {info.id}.info"),
        ("fsync", str(tmp_path)),
    ]
    loaded = store.load(info.id)
    assert loaded is not None and loaded.offset == 4


def test_the_last_bytes_of_uploads_are_appended_together_with_two_syncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every upload's last bytes written at its offset (bytes past it, never acknowledged, cut off), one syncfs,
    every info complete with its digests, one syncfs; an upload that cannot be written fails alone and is as it
    was; if a sync fails, every upload of the batch is put back: its bytes and its offset as before."""
    synced: list[Path] = []
    real = syncfs_module.syncfs
    monkeypatch.setattr(syncfs_module, "syncfs", lambda path: (synced.append(Path(path)), real(path))[1])
    store = FileUploadStore(tmp_path)
    data = [b"0123456789", b"abcdefghij", b"ABCDEFGHIJ"]
    infos = [UploadInfo(id=uuid.uuid4().hex, length=10) for _ in data]
    assert store.create_many(infos) == [None] * 3
    started = FileWriter(store.data_path(infos[1].id), 0)  # 4 bytes acknowledged, 2 more never were
    started.write([b"abcdXY"])
    started.close()
    infos[1].offset = 4
    store.save(infos[1])
    store.data_path(infos[2].id).unlink()  # cannot be written
    synced.clear()
    at_syncs: list[tuple[int, bool]] = []  # the upload that had 4 bytes: its info in place, and one beside it

    def noting(path: Path) -> None:
        synced.append(Path(path))
        loaded = store.load(infos[1].id)
        beside = (tmp_path / f"{infos[1].id}.info.tmp").exists()
        at_syncs.append((loaded.offset if loaded is not None else -1, beside))
        real(path)

    monkeypatch.setattr(syncfs_module, "syncfs", noting)
    done = [replace(info, offset=10, sha256=hashlib.sha256(d).hexdigest()) for info, d in zip(infos, data, strict=True)]
    batch = [(done[0], 0, [b"01234", b"56789"]), (done[1], 4, [b"efghij"]), (done[2], 0, [data[2]])]
    outcomes = store.append_completed_many(batch)
    assert [outcome is None for outcome in outcomes] == [True, True, False]
    assert synced == [tmp_path, tmp_path]
    assert at_syncs == [(4, True), (10, False)]  # the new info is synced beside its place, then takes it
    for info, d in zip(infos[:2], data[:2], strict=True):
        loaded = store.load(info.id)
        assert loaded is not None and (loaded.offset, loaded.sha256) == (10, hashlib.sha256(d).hexdigest())
        assert store.data_path(info.id).read_bytes() == d
    kept = store.load(infos[2].id)
    assert kept is not None and (kept.offset, kept.sha256) == (0, None)

    def failing(path: Path) -> None:
        raise OSError(errno.EIO, "the disk failed")

    more = UploadInfo(id=uuid.uuid4().hex, length=6)
    assert store.create_many([more]) == [None]
    first = FileWriter(store.data_path(more.id), 0)
    first.write([b"abc"])
    first.close()
    more.offset = 3
    store.save(more)
    monkeypatch.setattr(syncfs_module, "syncfs", failing)
    (outcome,) = store.append_completed_many([(replace(more, offset=6, sha256="0" * 64), 3, [b"def"])])
    assert isinstance(outcome, OSError) and outcome.errno == errno.EIO
    put_back = store.load(more.id)
    assert put_back is not None and (put_back.offset, put_back.sha256) == (3, None)
    assert store.data_path(more.id).read_bytes() == b"abc"


def test_uploads_created_together_are_made_durable_with_one_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each new upload's empty data file and info, then one syncfs (where `create` fsyncs twice per upload); an
    upload that cannot be created fails alone; if the sync fails, none of the batch is kept."""
    synced: list[Path] = []
    real = syncfs_module.syncfs
    monkeypatch.setattr(syncfs_module, "syncfs", lambda path: (synced.append(Path(path)), real(path))[1])
    store = FileUploadStore(tmp_path)
    infos = [UploadInfo(id=uuid.uuid4().hex, length=10) for _ in range(3)]
    (tmp_path / infos[2].id).write_bytes(b"taken")
    outcomes = store.create_many(infos)
    assert [outcome is None for outcome in outcomes] == [True, True, False]
    assert synced == [tmp_path]
    for info in infos[:2]:
        loaded = store.load(info.id)
        assert loaded is not None and (loaded.offset, loaded.length) == (0, 10)
        assert (tmp_path / info.id).read_bytes() == b""
    assert store.load(infos[2].id) is None and (tmp_path / infos[2].id).read_bytes() == b"taken"

    def failing(path: Path) -> None:
        raise OSError(errno.EIO, "the disk failed")

    monkeypatch.setattr(syncfs_module, "syncfs", failing)
    more = [UploadInfo(id=uuid.uuid4().hex, length=1) for _ in range(2)]
    assert [getattr(outcome, "errno", None) for outcome in store.create_many(more)] == [errno.EIO, errno.EIO]
    assert all(store.load(info.id) is None and not (tmp_path / info.id).exists() for info in more)
