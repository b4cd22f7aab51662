"""The default upload store: each upload is two files in one directory. Implements every capability.

Each upload is `<id>` (the bytes) and `<id>.info` (an `UploadInfo` as JSON). The info file is replaced by
write-then-rename after an fsync, the directory fsync'ed after the rename (or, in batches, one `syncfs` for
all), and always after the data it describes is fdatasync'ed, so the offset it records is never past what is
durably on disk, and an offset acknowledged to a client is never lost in a crash. Once the completion hook has
run, an empty `<id>.finished` marks the upload finished (`mark_finished`): created without any fsync, since
losing it in a crash only means the hook runs again at start-up.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import replace
from pathlib import Path

from tus_server import syncfs
from tus_server.direct_writes import DirectAppender, open_direct
from tus_server.info import UploadInfo
from tus_server.upload_store import is_valid_upload_id

COPY_BLOCK = 8 << 20


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileWriter:
    """Appends to the data file, whole blocks with `O_DIRECT` (see `direct_writes`); `sync` is `fdatasync`,
    which may run beside a write."""

    def __init__(self, path: Path, offset: int) -> None:
        self._fd = os.open(path, os.O_RDWR)
        try:
            if os.fstat(self._fd).st_size > offset:  # bytes past the recorded offset were never acknowledged
                os.ftruncate(self._fd, offset)
            self._appender = DirectAppender(self._fd, open_direct(path), offset)
        except BaseException:
            os.close(self._fd)
            raise

    def write(self, parts: Sequence[bytes | memoryview]) -> int:
        """Write every part in order (no gathering copy for the page cache, one into the direct buffer)."""
        return self._appender.write(parts)

    def write_block(self, memory: memoryview, head: int, length: int) -> int:
        """Write a body block from a page-aligned buffer with no copy (see `DirectAppender.write_block`)."""
        return self._appender.write_block(memory, head, length)

    def sync(self) -> None:
        os.fdatasync(self._fd)

    def truncate(self, size: int) -> None:
        os.ftruncate(self._fd, size)
        self._appender.reset(size)

    def close(self) -> None:
        self._appender.close()
        os.close(self._fd)


class FileUploadStore:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def data_path(self, upload_id: str) -> Path:
        """Where the bytes of an upload are; only this store and its tests use it (the server never does)."""
        if not is_valid_upload_id(upload_id):
            raise ValueError(f"invalid upload id {upload_id!r}")
        return self.directory / upload_id

    def _info_path(self, upload_id: str) -> Path:
        return self.data_path(upload_id).with_suffix(".info")

    def _finished_path(self, upload_id: str) -> Path:
        return self.data_path(upload_id).with_suffix(".finished")

    def create(self, info: UploadInfo) -> None:
        """The empty data file, then the info (`save`, whose directory sync makes both names durable)."""
        fd = os.open(self.data_path(info.id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        os.close(fd)
        self.save(info)

    def load(self, upload_id: str) -> UploadInfo | None:
        if not is_valid_upload_id(upload_id):
            return None
        try:
            info = UploadInfo.from_bytes(self._info_path(upload_id).read_bytes())
        except FileNotFoundError:
            return None
        if not info.finished and info.is_complete and self._finished_path(upload_id).exists():
            info.finished = True
        return info

    def mark_finished(self, info: UploadInfo) -> None:
        """An empty `<id>.finished`, not synced (see `FinishMarker`): a name either there or not after a crash."""
        os.close(os.open(self._finished_path(info.id), os.O_WRONLY | os.O_CREAT, 0o640))

    def save(self, info: UploadInfo) -> None:
        """The info written beside its place and fsync'ed, renamed into place, the directory fsync'ed: once this
        returns, a crash leaves this info (without the directory sync the rename could be lost, and an offset
        already acknowledged go back to the previous one, which a client streaming from a pipe cannot resend)."""
        self._write_info(info, sync=True)
        fsync_directory(self.directory)

    def _write_info(self, info: UploadInfo, *, sync: bool) -> None:
        """Write, (fsync,) rename: the info at its path is whole, or the previous one (or, unsynced, unreadable
        after a crash, which `recover` removes)."""
        os.replace(self._write_info_beside(info, sync=sync), self._info_path(info.id))

    def _write_info_beside(self, info: UploadInfo, *, sync: bool = False) -> Path:
        """The info written (and fsync'ed) next to its path, to be renamed into place; that temporary path."""
        tmp = self._info_path(info.id).with_suffix(".info.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            _write_all(fd, info.to_bytes())
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        return tmp

    def writer(self, upload_id: str, offset: int) -> FileWriter:
        return FileWriter(self.data_path(upload_id), offset)

    def finish(self, info: UploadInfo) -> None:
        """Nothing to do: the bytes are already one durable file."""

    def record_completion(self, info: UploadInfo) -> None:
        """The offset and digests of a just-completed upload in one info write (`finish` has nothing to do).

        The server has fdatasync'ed the data file first, so the recorded offset is durable; the info is
        replaced by write, fsync, rename, so a crash leaves either the previous info (an offset below the
        bytes on disk, which `recover` cuts back to, and the client was not answered) or this one whole.
        """
        self.save(info)

    def create_completed(self, info: UploadInfo, parts: Sequence[bytes]) -> None:
        """The data file created, written and fdatasync'ed, then the info written once (`save`: fsync, rename, and
        the directory synced for both names): one info write where `create` and a PATCH take two. `recover`
        removes a data file that a crash left without its info."""
        path = self.data_path(info.id)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640))
        writer = FileWriter(path, 0)
        try:
            writer.write(parts)
            writer.sync()
        finally:
            writer.close()
        self.save(info)

    def can_create_many(self) -> bool:
        return syncfs.available()

    def create_many(self, infos: Sequence[UploadInfo]) -> list[OSError | None]:
        """Every upload's empty data file and info (no fsync of its own), then one `syncfs` (see `BatchCreator`):
        one sync for the batch where `create` takes two per upload."""
        outcomes: list[OSError | None] = [None] * len(infos)
        for i, info in enumerate(infos):
            try:
                os.close(os.open(self.data_path(info.id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640))
            except OSError as exc:
                outcomes[i] = exc
        remove = [self._remover(info) for info in infos]
        self._write_infos(infos, outcomes, remove)
        self._sync_batch(outcomes, remove)
        return outcomes

    def create_completed_many(self, uploads: Sequence[tuple[UploadInfo, Sequence[bytes]]]) -> list[OSError | None]:
        """Every upload's data file written through the page cache, then its info recorded (`_record_batch`: two
        syncs for the batch, where `create_completed` takes three per upload). An upload that fails leaves nothing
        behind."""
        outcomes: list[OSError | None] = [None] * len(uploads)
        for i, (info, parts) in enumerate(uploads):
            try:
                fd = os.open(self.data_path(info.id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            except OSError as exc:
                outcomes[i] = exc
                continue
            try:
                _write_all(fd, b"".join(parts))
            except OSError as exc:
                outcomes[i] = exc
                self.data_path(info.id).unlink(missing_ok=True)
            finally:
                os.close(fd)
        infos = [info for info, _ in uploads]
        self._record_batch(infos, outcomes, [self._remover(info) for info in infos])
        return outcomes

    def append_completed_many(self, uploads: Sequence[tuple[UploadInfo, int, Sequence[bytes]]]) -> list[OSError | None]:
        """Every upload's last bytes written at its start through the page cache, then its info recorded
        (`_record_batch`: two syncs for the batch, where a PATCH and `record_completion` take an fdatasync and an
        fsync per upload). An upload that fails is put back."""
        outcomes: list[OSError | None] = [None] * len(uploads)
        restore = [self._restorer(info, start) for info, start, _ in uploads]
        for i, (info, start, parts) in enumerate(uploads):
            try:
                fd = os.open(self.data_path(info.id), os.O_WRONLY)
                try:
                    os.ftruncate(fd, start)  # bytes past the recorded offset were never acknowledged
                    os.lseek(fd, start, os.SEEK_SET)
                    _write_all(fd, b"".join(parts))
                finally:
                    os.close(fd)
            except OSError as exc:
                outcomes[i] = exc
                restore[i]()
        self._record_batch([info for info, _, _ in uploads], outcomes, restore)
        return outcomes

    def _record_batch(
        self, infos: Sequence[UploadInfo], outcomes: list[OSError | None], undo: Sequence[Callable[[], None]]
    ) -> None:
        """After the batch's bytes are written: every info written beside its path, one `syncfs` (bytes and
        infos durable), every info renamed into place, one `syncfs`. An info takes its place only whole and after
        its bytes are durable, so a crash leaves each upload's previous info (or none, for a new one: its bytes
        are then removed by `recover`) or the new one whole, never a torn info in place of one that was there."""
        for i, info in enumerate(infos):
            if outcomes[i] is None:
                try:
                    self._write_info_beside(info)
                except OSError as exc:
                    outcomes[i] = exc
                    undo[i]()
        self._sync_batch(outcomes, undo)
        for i, info in enumerate(infos):
            tmp = self._info_path(info.id).with_suffix(".info.tmp")
            if outcomes[i] is None:
                try:
                    os.replace(tmp, self._info_path(info.id))
                    continue
                except OSError as exc:
                    outcomes[i] = exc
                    undo[i]()
            tmp.unlink(missing_ok=True)
        self._sync_batch(outcomes, undo)

    def _remover(self, info: UploadInfo) -> Callable[[], None]:
        """Undo a new upload of a failed batch: remove it."""
        return lambda: self.terminate(info.id)

    def _restorer(self, info: UploadInfo, start: int) -> Callable[[], None]:
        """Undo an append of a failed batch: the bytes cut back to `start` and the info recorded at that offset
        (durably: what a failed sync left of the new one is unknown). If even that fails, `recover` cuts back."""

        def restore() -> None:
            with suppress(OSError):
                os.truncate(self.data_path(info.id), start)
                self.save(replace(info, offset=start, sha256=None, md5=None))

        return restore

    def _write_infos(
        self, infos: Sequence[UploadInfo], outcomes: list[OSError | None], undo: Sequence[Callable[[], None]]
    ) -> None:
        """The info of every upload still in the batch, without a sync of its own; one that cannot be written
        fails, and is undone."""
        for i, info in enumerate(infos):
            if outcomes[i] is not None:
                continue
            try:
                self._write_info(info, sync=False)
            except OSError as exc:
                outcomes[i] = exc
                self._info_path(info.id).with_suffix(".info.tmp").unlink(missing_ok=True)
                undo[i]()

    def _sync_batch(self, outcomes: list[OSError | None], undo: Sequence[Callable[[], None]]) -> None:
        """One `syncfs` for what the batch wrote so far; if it fails, every upload still in the batch fails
        with it and is undone (what a failed sync left on disk is unknown)."""
        if not any(outcome is None for outcome in outcomes):
            return
        try:
            syncfs.syncfs(self.directory)
        except OSError as exc:
            for i, outcome in enumerate(outcomes):
                if outcome is None:
                    outcomes[i] = exc
                    undo[i]()

    def read(self, upload_id: str, length: int, block_size: int = COPY_BLOCK) -> Iterator[bytes]:
        path = self.data_path(upload_id)
        with open(path, "rb", buffering=0) as f:
            remaining = length
            while remaining:
                block = f.read(min(block_size, remaining))
                if not block:
                    raise OSError(errno.EIO, f"upload {upload_id} is shorter than {length} bytes")
                remaining -= len(block)
                yield block

    def release(self, upload_id: str) -> None:
        self.data_path(upload_id).unlink(missing_ok=True)

    def terminate(self, upload_id: str) -> None:
        for path in (self.data_path(upload_id), self._info_path(upload_id), self._finished_path(upload_id)):
            path.unlink(missing_ok=True)

    def concatenate(self, final: UploadInfo, parts: Sequence[UploadInfo]) -> None:
        with open(self.data_path(final.id), "r+b", buffering=0) as target:
            for part in parts:
                for block in self.read(part.id, part.length or 0):
                    target.write(block)
            os.fdatasync(target.fileno())

    def declare_length(self, info: UploadInfo, length: int) -> None:
        info.length = length
        self.save(info)

    def move_data(self, upload_id: str, target: Path, *, sync: bool = True) -> None:
        """A rename on the same filesystem; across filesystems a durable copy, then the source is removed."""
        source = self.data_path(upload_id)
        os.chmod(source, 0o440)
        try:
            os.replace(source, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            tmp = target.with_name(target.name + ".tmp")
            with open(source, "rb", buffering=0) as src, open(tmp, "wb", buffering=0) as dst:
                while block := src.read(COPY_BLOCK):
                    dst.write(block)
                os.fsync(dst.fileno())
            os.chmod(tmp, 0o440)
            os.replace(tmp, target)
            source.unlink()
        if sync:
            fsync_directory(target.parent)

    def ids(self) -> Iterator[str]:
        for path in self.directory.glob("*.info"):
            if is_valid_upload_id(path.stem):
                yield path.stem

    def recover(self) -> list[UploadInfo]:
        """Bring every upload back to its durable state after a crash; returns their infos.

        Bytes past the recorded offset were never acknowledged and may not have reached the disk, so they are
        cut off. Leftover temporary info files and data files without an info are removed.
        """
        for tmp in self.directory.glob("*.info.tmp"):
            tmp.unlink(missing_ok=True)
        infos: list[UploadInfo] = []
        for upload_id in list(self.ids()):
            try:
                info = self.load(upload_id)
            except (ValueError, TypeError, KeyError):
                # Written without a sync of its own and cut by a crash before the batch's sync (`create_many`):
                # no client was answered for it. Its bytes go below.
                self._info_path(upload_id).unlink()
                continue
            if info is None:
                continue
            data = self.data_path(upload_id)
            if not info.finished and data.exists():
                size = data.stat().st_size
                if size > info.offset:
                    os.truncate(data, info.offset)
                elif size < info.offset:  # only if the disk lost acknowledged bytes; resume from what is there
                    info.offset = size
                    self.save(info)
            infos.append(info)
        known = {info.id for info in infos}
        for path in self.directory.iterdir():
            upload_id = path.name.removesuffix(".finished")
            if is_valid_upload_id(upload_id) and upload_id not in known:
                path.unlink(missing_ok=True)
        return infos
