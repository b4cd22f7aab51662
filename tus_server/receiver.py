"""Appending a request body to an upload: receiving on the event loop, writing in a worker thread.

The body is gathered into blocks of a few MiB. Blocks are written in order by a serial write lane while the
next is received; the upload's digests are fed the same blocks in lanes of their own (see `hashing`). A long
body is made durable in checkpoints on a separate sync lane, so receiving goes on while the disk flushes.
A few blocks at most are in memory per request.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from tus_server.checksums import Digest
from tus_server.hashing import UploadDigests
from tus_server.lanes import SerialLane

BLOCK_SIZE = 4 << 20
MAX_PARTS = 512  # chunks gathered into one block at most (writev takes up to IOV_MAX = 1024)
MAX_BLOCKS_IN_FLIGHT = 4  # written blocks a request may have queued: bounds its memory


class DiskFull(OSError):
    """The disk had no room for the bytes received; those that fitted are kept."""


class BodyWriter:
    """Appends to the data file at `offset`.

    `dispatched` counts bytes handed to the write lane, `written` bytes the disk took, and `durable` the end of
    the last checkpoint (bytes fdatasync'ed and recorded by the checkpoint's `save`).
    """

    def __init__(self, path: Path, offset: int, digests: UploadDigests | None, checksum: Digest | None) -> None:
        self._fd = os.open(path, os.O_WRONLY)
        if os.fstat(self._fd).st_size > offset:  # bytes past the recorded offset were never acknowledged
            os.ftruncate(self._fd, offset)
        os.lseek(self._fd, offset, os.SEEK_SET)
        self.start = offset
        self.dispatched = 0
        self.written = 0
        self.durable = offset
        self.digests = digests
        self.checksum = checksum
        self._parts: list[bytes] = []  # received chunks not yet dispatched, written with writev: no gathering copy
        self._buffered = 0
        self._writes = SerialLane()
        self._syncs = SerialLane()
        self._in_flight: deque[Future[None]] = deque()
        self._checkpoint: asyncio.Future[None] | None = None
        self._error: BaseException | None = None

    @property
    def failed(self) -> bool:
        """A write failed: the digests may have seen bytes the disk did not take, so they must be rebuilt."""
        return self._error is not None

    async def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._parts.append(bytes(chunk))
        self._buffered += len(chunk)
        if self._buffered >= BLOCK_SIZE or len(self._parts) >= MAX_PARTS:
            await self._dispatch()

    async def _dispatch(self) -> None:
        if self._error is not None:
            raise self._error
        if not self._parts:
            return
        block, self._parts = self._parts, []
        self.dispatched += self._buffered
        self._buffered = 0
        self._in_flight.append(self._writes.submit(self._write_block, block))
        if self.digests is not None:
            await self.digests.feed(block)
        while len(self._in_flight) > MAX_BLOCKS_IN_FLIGHT:
            await self._wait_oldest()
        if self._error is not None:
            raise self._error

    async def _wait_oldest(self) -> None:
        # Shielded: a cancelled receive must not lose track of a running write.
        await asyncio.shield(asyncio.wrap_future(self._in_flight[0]))
        self._in_flight.popleft()

    def _write_block(self, parts: list[bytes]) -> None:
        if self._error is not None:
            return  # an earlier block failed: keep the file a prefix of the body
        done = 0
        try:
            done = _writev_all(self._fd, parts)
        except _PartialWrite as partial:
            done = partial.done
            cause = partial.cause
            self._error = DiskFull(cause.errno, cause.strerror) if cause.errno in (28, 122) else cause  # ENOSPC, EDQUOT
        finally:
            if self.checksum is not None:
                _update_prefix(self.checksum, parts, done)
            self.written += done

    def checkpoint_running(self) -> bool:
        return self._checkpoint is not None and not self._checkpoint.done()

    def start_checkpoint(self, save: Callable[[int], None]) -> None:
        """Make what is dispatched so far durable and `save(offset)` it, once written, beside the writes and the
        receiving (which go on). Only the event loop waits for the writes, so no pool thread ever blocks."""
        if self._checkpoint is not None and self._checkpoint.done() and not self._checkpoint.cancelled():
            self._checkpoint.exception()  # a failed checkpoint only means `durable` stayed where it was
        target = self.start + self.dispatched
        last_write = self._in_flight[-1] if self._in_flight else None

        def run() -> None:
            end = min(target, self.start + self.written)  # less only if a write failed
            os.fdatasync(self._fd)
            save(end)
            self.durable = end

        async def checkpoint() -> None:
            if last_write is not None:
                await asyncio.wrap_future(last_write)
            await asyncio.wrap_future(self._syncs.submit(run))

        self._checkpoint = asyncio.ensure_future(checkpoint())

    async def finish(self) -> None:
        """Write what is buffered, wait for every write and checkpoint; call it outside any cancelled scope."""
        try:
            await self._dispatch()
        finally:
            while self._in_flight:
                await self._wait_oldest()
            if self._checkpoint is not None:
                try:
                    await asyncio.shield(self._checkpoint)
                except OSError:
                    pass  # a failed checkpoint leaves `durable` where it was; the final sync decides
        if self._error is not None:
            raise self._error

    async def sync(self) -> None:
        await asyncio.wrap_future(self._writes.submit(os.fdatasync, self._fd))

    async def truncate(self, size: int) -> None:
        await asyncio.wrap_future(self._writes.submit(os.ftruncate, self._fd, size))

    def close(self) -> None:
        os.close(self._fd)


class _PartialWrite(Exception):
    def __init__(self, done: int, cause: OSError) -> None:
        self.done = done
        self.cause = cause


def _writev_all(fd: int, parts: list[bytes]) -> int:
    """Write every part in order with as few writev calls as the kernel allows; the count of bytes written."""
    views = [memoryview(part) for part in parts]
    done = 0
    while views:
        try:
            n = os.writev(fd, views)
        except OSError as exc:
            raise _PartialWrite(done, exc) from exc
        done += n
        while views and n >= len(views[0]):
            n -= len(views[0])
            views.pop(0)
        if n:
            views[0] = views[0][n:]
    return done


def _update_prefix(digest: Digest, parts: list[bytes], length: int) -> None:
    """Feed the first `length` bytes of `parts` to `digest`."""
    for part in parts:
        if length <= 0:
            return
        digest.update(part[:length] if len(part) > length else part)
        length -= len(part)
