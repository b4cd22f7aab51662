"""Appending a request body to an upload: receiving on the event loop, writing and hashing in worker threads.

The body is gathered into blocks of a few MiB. While blocks are written to disk and hashed (hashlib and
os.write release the GIL), the next is received, so hashing overlaps receiving. md5 runs in its own thread
beside the write and sha256, since it is the slowest digest. A few blocks at most are in memory per request.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tus_server.checksums import Digest
from tus_server.hashing import UploadDigests

BLOCK_SIZE = 4 << 20
MAX_BLOCKS_IN_FLIGHT = 4  # per request: bounds memory at about (1 + 4) x BLOCK_SIZE


class DiskFull(OSError):
    """The disk had no room for the bytes received; those that fitted are kept."""


class BodyWriter:
    """Appends to the data file at `offset`; `written` counts bytes handed to the disk so far.

    Two single-thread lanes keep their own order: one writes and computes sha256 (and the request's checksum),
    the other computes md5. Each may lag behind receiving by a few blocks, which smooths out the moments when
    the disk or one digest is slower than the network.
    """

    def __init__(self, path: Path, offset: int, digests: UploadDigests | None, checksum: Digest | None) -> None:
        self._fd = os.open(path, os.O_WRONLY)
        if os.fstat(self._fd).st_size > offset:  # bytes past the recorded offset were never acknowledged
            os.ftruncate(self._fd, offset)
        os.lseek(self._fd, offset, os.SEEK_SET)
        self.start = offset
        self.written = 0
        self.dispatched = 0  # bytes handed to the write lane; `written` catches up with it
        self.digests = digests
        self.checksum = checksum
        self._buffer = bytearray()
        self._write_lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tus-write")
        self._md5_lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tus-md5") if digests is not None else None
        self._in_flight: deque[asyncio.Future[None]] = deque()
        self._error: BaseException | None = None

    @property
    def failed(self) -> bool:
        """A write failed: the digests may have seen bytes the disk did not take, so they must be rebuilt."""
        return self._error is not None

    async def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        if len(self._buffer) >= BLOCK_SIZE:
            await self._dispatch()

    async def _dispatch(self) -> None:
        if self._error is not None:
            raise self._error
        if not self._buffer:
            return
        block, self._buffer = self._buffer, bytearray()
        self.dispatched += len(block)
        loop = asyncio.get_running_loop()
        self._in_flight.append(loop.run_in_executor(self._write_lane, self._write_block, block))
        if self._md5_lane is not None and self.digests is not None:
            self._in_flight.append(loop.run_in_executor(self._md5_lane, self.digests.md5.update, block))
        while len(self._in_flight) > 2 * MAX_BLOCKS_IN_FLIGHT:
            await asyncio.shield(self._in_flight[0])  # shielded: a cancelled receive must not lose a running write
            self._in_flight.popleft()
        if self._error is not None:
            raise self._error

    async def drain(self) -> None:
        """Wait until every dispatched block is written and hashed."""
        await self._drain()

    async def _drain(self) -> None:
        while self._in_flight:
            await asyncio.shield(self._in_flight[0])
            self._in_flight.popleft()
        if self._error is not None:
            raise self._error

    def _write_block(self, block: bytearray) -> None:
        if self._error is not None:
            return  # an earlier block failed: keep the file a prefix of the body
        view = memoryview(block)
        done = 0
        try:
            while done < len(view):
                done += os.write(self._fd, view[done:])
        except OSError as exc:
            self._error = DiskFull(exc.errno, exc.strerror) if exc.errno in (28, 122) else exc  # ENOSPC, EDQUOT
        finally:
            kept = view[:done]
            if self.digests is not None:
                self.digests.sha256.update(kept)
            if self.checksum is not None:
                self.checksum.update(kept)
            self.written += done

    async def finish(self) -> None:
        """Write what is buffered and wait for every write and digest; outside any cancelled scope."""
        try:
            await self._dispatch()
        finally:
            try:
                await self._drain()
            finally:
                if self.digests is not None:
                    self.digests.offset = self.start + self.written

    async def sync(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._write_lane, os.fdatasync, self._fd)

    async def truncate(self, size: int) -> None:
        await asyncio.get_running_loop().run_in_executor(self._write_lane, os.ftruncate, self._fd, size)

    def close(self) -> None:
        self._write_lane.shutdown(wait=True)
        if self._md5_lane is not None:
            self._md5_lane.shutdown(wait=True)
        os.close(self._fd)
