"""Upload locks shared by the worker processes of one machine (`fabric serve --workers N`), with flock(2).

Each upload has a lock file `<directory>/<id>.lock`; its holder keeps an exclusive flock on it, which the
kernel drops when the holder's process dies, however it dies. Take-over across processes works as in one
process: a request that finds the lock taken creates `<id>.release`; the holder notices within 50 ms, stops its
receive loop, saves what it durably wrote and lets go. `<id>.receiving` exists while the holder reads a body, so
a HEAD in another worker can wait for a holder that is saving (see `settled`).
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import anyio

from tus_server import errors
from tus_server.locks import UploadLock, UploadLocks
from tus_server.upload_store import is_valid_upload_id

POLL_SECONDS = 0.05


class FileUploadLocks:
    """The `UploadLocks` interface over lock files in one directory."""

    def __init__(self, directory: Path, takeover_timeout: float = 10.0) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.takeover_timeout = takeover_timeout
        self._local = UploadLocks(takeover_timeout)  # requests of this process queue here first
        self._held: set[str] = set()  # uploads this process holds the flock of

    def _path(self, upload_id: str, suffix: str) -> Path:
        if not is_valid_upload_id(upload_id):
            raise ValueError(f"invalid upload id {upload_id!r}")
        return self.directory / f"{upload_id}.{suffix}"

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Watch for requests of other processes asking to take over an upload held here."""
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._watch_for_releases)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()

    async def is_busy(self, upload_id: str) -> bool:
        if await self._local.is_busy(upload_id):
            return True
        fd = _try_flock(self._path(upload_id, "lock"))
        if fd is None:
            return True
        os.close(fd)
        return False

    async def settled(self, upload_id: str, timeout: float = 5.0) -> bool:
        waited = await self._local.settled(upload_id, timeout)
        receiving = self._path(upload_id, "receiving")
        with anyio.move_on_after(timeout):
            while not receiving.exists() and await self._held_elsewhere(upload_id):
                waited = True
                await anyio.sleep(POLL_SECONDS)
        return waited

    async def _held_elsewhere(self, upload_id: str) -> bool:
        if await self._local.is_busy(upload_id):
            return False  # held here: the local layer already waited
        return await self.is_busy(upload_id)

    @asynccontextmanager
    async def hold(self, upload_id: str) -> AsyncIterator[UploadLock]:
        async with self._local.hold(upload_id) as local:
            fd = await self._acquire(upload_id)
            self._held.add(upload_id)
            try:
                yield _FileUploadLock(local, self._path(upload_id, "receiving"))
            finally:
                self._held.discard(upload_id)
                self._path(upload_id, "receiving").unlink(missing_ok=True)
                os.close(fd)  # drops the flock

    async def _acquire(self, upload_id: str) -> int:
        path, release = self._path(upload_id, "lock"), self._path(upload_id, "release")
        deadline = time.monotonic() + self.takeover_timeout
        while True:
            fd = _try_flock(path)
            if fd is not None:
                release.unlink(missing_ok=True)
                return fd
            release.touch()
            if time.monotonic() >= deadline:
                raise errors.LOCKED("another request holds this upload and did not release it in time; retry shortly")
            await anyio.sleep(POLL_SECONDS)

    async def _watch_for_releases(self) -> None:
        while True:
            await anyio.sleep(POLL_SECONDS)
            for upload_id in list(self._held):
                if self._path(upload_id, "release").exists():
                    self._local.interrupt(upload_id)

    def forget(self, upload_id: str) -> None:
        """Remove the files of an upload that is gone."""
        for suffix in ("lock", "release", "receiving"):
            self._path(upload_id, suffix).unlink(missing_ok=True)


def _try_flock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
            return None
        raise
    return fd


class _FileUploadLock(UploadLock):
    def __init__(self, local: UploadLock, marker: Path) -> None:
        super().__init__(local._holder)
        self._marker = marker

    @contextmanager
    def receiving(self) -> Iterator[anyio.CancelScope]:
        self._marker.touch()
        try:
            with super().receiving() as scope:
                yield scope
        finally:
            self._marker.unlink(missing_ok=True)
