"""Appending to a file with `O_DIRECT`: whole blocks go from an aligned buffer to the disk, not through the page cache.

A buffered write copies every byte into the page cache, and that copy was the largest single cost of a large
upload (perf: about 28 % of the server's CPU, more than sha256); fdatasync then writes the pages out anyway.
With `O_DIRECT` the disk reads the bytes from our buffer. The kernel wants the buffer's address, the file
offset and the length aligned to the filesystem's block, so a write copies its bytes (one memcpy, a fraction
of the kernel's copy into the page cache) into a page-aligned buffer of the thread's own and writes whole
blocks from there. Bytes past the last whole block (the tail, under one block) are written through the page
cache as before, and the next write rewrites that block directly from the tail kept in memory, so after every
`write` the file holds exactly the bytes taken. Durability is unchanged: `fdatasync` covers both kinds of write
(it flushes the tail's page and the disk's cache, and records the size).

A filesystem that refuses `O_DIRECT` (at open or at the first write, `EINVAL`) is written through the page cache.
"""

from __future__ import annotations

import errno
import mmap
import os
import threading
from collections.abc import Sequence

from tus_server.upload_store import PartialWrite

ALIGN = 4096  # the file offsets, lengths and buffer address O_DIRECT needs (ext4, xfs, tmpfs: the block size)
BUFFER_SIZE = 1 << 20  # per thread that writes: bytes gathered into one direct write
DIRECT_MIN = 256 << 10  # a write with fewer whole blocks than this goes through the page cache

_local = threading.local()


def _buffer() -> memoryview:
    """This thread's aligned buffer (an anonymous mapping starts on a page boundary)."""
    view: memoryview | None = getattr(_local, "view", None)
    if view is None:
        view = _local.view = memoryview(mmap.mmap(-1, BUFFER_SIZE))
    return view


def open_direct(path: os.PathLike[str] | str) -> int | None:
    """A write-only `O_DIRECT` descriptor of `path`, or None where the filesystem has no direct I/O."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return None
    try:
        return os.open(path, os.O_WRONLY | flag)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            return None
        raise


def pwrite_all(fd: int, views: Sequence[memoryview], offset: int) -> int:
    """Write every view in order at `offset` with `pwritev`; the bytes written, or `PartialWrite`."""
    pending = list(views)
    done = 0
    while pending:
        try:
            n = os.pwritev(fd, pending, offset + done)
        except OSError as exc:
            raise PartialWrite(done, exc) from exc
        if n == 0:
            raise PartialWrite(done, OSError(errno.EIO, "the file took no bytes"))
        done += n
        while pending and n >= len(pending[0]):
            n -= len(pending[0])
            pending.pop(0)
        if n:
            pending[0] = pending[0][n:]
    return done


class DirectAppender:
    """Appends at `position` to the file open as `fd` (read-write, buffered), through `direct_fd` where it can.

    Owns `direct_fd` (closed by `close`), not `fd`. `tail` holds the bytes from the last block boundary up to `position`, already in the
    file; they open the next direct write.
    """

    def __init__(self, fd: int, direct_fd: int | None, position: int) -> None:
        self.fd = fd
        self.direct_fd = direct_fd
        self.position = position
        self.tail = b""
        self._reload_tail()

    def close(self) -> None:
        self._stop_direct()

    def _read_tail(self) -> bytes:
        size = self.position % ALIGN
        tail = os.pread(self.fd, size, self.position - size) if size else b""
        if len(tail) != size:
            raise OSError(errno.EIO, "the file is shorter than its offset")
        return tail

    def reset(self, position: int) -> None:
        """The file was cut (or is to be continued) at `position`."""
        self.position = position
        self._reload_tail()

    def write(self, parts: Sequence[bytes | memoryview]) -> int:
        """Append `parts` in order; the count of bytes taken (all, or `PartialWrite` says how many)."""
        views = [memoryview(part).cast("B") for part in parts if len(part)]
        start = self.position
        end = start + sum(len(view) for view in views)
        base = start - len(self.tail)  # a block boundary
        direct_end = end - end % ALIGN
        direct = self.direct_fd is not None and direct_end - base >= DIRECT_MIN
        try:
            done = self._direct(views, start, base, direct_end) if direct else pwrite_all(self.fd, views, start)
        except PartialWrite as partial:
            self.position = start + partial.written
            self._reload_tail()
            raise
        self.position = start + done
        if not direct:
            self._reload_tail()
        return done

    def write_block(self, memory: memoryview, head: int, length: int) -> int:
        """Append `memory[head : head + length]`, where `memory` starts on a page boundary and its first `head`
        bytes are free: when `head` is the length of the tail, the tail is put there and the whole blocks are
        written with `O_DIRECT` straight from `memory` (no copy of the body); else as `write` does."""
        start = self.position
        base = start - head
        end = start + length
        direct_end = end - end % ALIGN
        if self.direct_fd is None or head != len(self.tail) or direct_end - base < DIRECT_MIN:
            return self.write([memory[head : head + length]])
        memory[:head] = self.tail
        whole = memory[: direct_end - base]
        rest = memory[direct_end - base : head + length]
        try:
            self._write_block(whole, base)
        except OSError as exc:
            try:
                done = self._after_failed_block(exc, [whole, rest], start, base)
            except PartialWrite as partial:
                self.position = start + partial.written
                self._reload_tail()
                raise
            self.position = start + done
            self._reload_tail()
            return done
        self.tail = b""
        self.position = direct_end
        if len(rest):
            try:
                pwrite_all(self.fd, [rest], direct_end)
            except PartialWrite as partial:
                self.position = direct_end + partial.written
                self._reload_tail()
                raise PartialWrite(direct_end - start + partial.written, partial.cause) from partial.cause
            self.tail = bytes(rest)
            self.position = end
        return length

    def _reload_tail(self) -> None:
        if self.direct_fd is None:
            return
        try:
            self.tail = self._read_tail()
        except OSError:  # without the tail no direct write can continue the file: go on through the page cache
            self._stop_direct()

    def _stop_direct(self) -> None:
        direct_fd, self.direct_fd = self.direct_fd, None
        self.tail = b""
        if direct_fd is not None:
            os.close(direct_fd)

    def _direct(self, views: list[memoryview], start: int, base: int, direct_end: int) -> int:
        """Whole blocks from `base` to `direct_end` (the tail, then `views`) direct; the bytes past them buffered."""
        buffer = _buffer()
        fill = len(self.tail)
        buffer[:fill] = self.tail
        written_to = base  # the file holds the new bytes up to here
        remaining = direct_end - start  # bytes of `views` that go into whole blocks
        rest: list[memoryview] = []  # bytes past the last whole block
        for index, view in enumerate(views):
            taken = 0
            while remaining and taken < len(view):
                n = min(len(view) - taken, BUFFER_SIZE - fill, remaining)
                buffer[fill : fill + n] = view[taken : taken + n]
                fill += n
                taken += n
                remaining -= n
                if fill == BUFFER_SIZE or not remaining:
                    try:
                        self._write_block(buffer[:fill], written_to)
                    except OSError as exc:
                        unwritten = [buffer[:fill], view[taken:], *views[index + 1 :]]
                        return self._after_failed_block(exc, unwritten, start, written_to)
                    written_to += fill
                    fill = 0
            if taken < len(view):
                rest.append(view[taken:])
        self.tail = b""
        if not rest:
            return direct_end - start
        try:
            done = pwrite_all(self.fd, rest, direct_end)
        except PartialWrite as partial:
            raise PartialWrite(direct_end - start + partial.written, partial.cause) from partial.cause
        self.tail = b"".join(rest)
        return direct_end - start + done

    def _write_block(self, block: memoryview, offset: int) -> None:
        assert self.direct_fd is not None
        written = 0
        while written < len(block):
            n = os.pwrite(self.direct_fd, block[written:], offset + written)
            if n <= 0 or n % ALIGN:
                raise OSError(errno.EIO, "a direct write took part of a block")
            written += n

    def _after_failed_block(self, exc: OSError, unwritten: list[memoryview], start: int, written_to: int) -> int:
        """A direct write at `written_to` failed (`unwritten`: the block and the views after it). The file is cut
        back to what it surely holds; on EINVAL (this file takes no direct writes) the rest goes through the page
        cache, and any other failure is a `PartialWrite`."""
        kept = max(written_to, start)
        try:
            os.ftruncate(self.fd, kept)
        except OSError:
            pass
        if exc.errno != errno.EINVAL:
            raise PartialWrite(kept - start, exc) from exc
        self._stop_direct()
        unwritten[0] = unwritten[0][kept - written_to :]
        try:
            done = pwrite_all(self.fd, [view for view in unwritten if len(view)], kept)
        except PartialWrite as partial:
            raise PartialWrite(kept - start + partial.written, partial.cause) from partial.cause
        return kept - start + done
