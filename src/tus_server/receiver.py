"""Appending a request body to an upload: receiving on the event loop, writing and hashing in worker threads.

The body is gathered into blocks of a few MiB. While one block is written to disk and hashed (hashlib and
os.write release the GIL), the next is received, so hashing overlaps receiving. md5 runs in its own thread
beside the write and sha256, since it is the slowest digest. At most two blocks are in memory per request.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tus_server.checksums import Digest
from tus_server.hashing import UploadDigests

BLOCK_SIZE = 4 << 20
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tus-io")


class DiskFull(OSError):
    """The disk had no room for the bytes received; those that fitted are kept."""


class BodyWriter:
    """Appends to the data file at `offset`; `written` counts bytes handed to the disk so far."""

    def __init__(self, path: Path, offset: int, digests: UploadDigests | None, checksum: Digest | None) -> None:
        self._fd = os.open(path, os.O_WRONLY)
        if os.fstat(self._fd).st_size > offset:  # bytes past the recorded offset were never acknowledged
            os.ftruncate(self._fd, offset)
        os.lseek(self._fd, offset, os.SEEK_SET)
        self.start = offset
        self.written = 0
        self.digests = digests
        self.checksum = checksum
        self._buffer = bytearray()
        self._pending: list[asyncio.Future[None]] = []
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
        await self._wait_pending()
        if not self._buffer:
            return
        block, self._buffer = self._buffer, bytearray()
        loop = asyncio.get_running_loop()
        self._pending = [loop.run_in_executor(_executor, self._write_block, block)]
        if self.digests is not None:
            self._pending.append(loop.run_in_executor(_executor, self.digests.md5.update, block))

    async def _wait_pending(self) -> None:
        """Wait for the block in flight. Shielded: a cancelled receive must not lose track of a running write."""
        for future in self._pending:
            await asyncio.shield(future)
        self._pending = []
        if self._error is not None:
            raise self._error

    def _write_block(self, block: bytearray) -> None:
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
            await self._wait_pending()
        finally:
            if self.digests is not None:
                self.digests.offset = self.start + self.written

    async def sync(self) -> None:
        await asyncio.get_running_loop().run_in_executor(_executor, os.fdatasync, self._fd)

    async def truncate(self, size: int) -> None:
        await asyncio.get_running_loop().run_in_executor(_executor, os.ftruncate, self._fd, size)

    def close(self) -> None:
        os.close(self._fd)
