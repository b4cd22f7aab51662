"""What an upload reads from: a file, or a stream of known or unknown size, one chunk at a time.

A chunk is re-readable, so a PATCH cut off midway can be sent again from any offset inside it, without
holding the chunk in memory: a file or seekable stream is read again; a one-way stream is spooled to a
temporary file as it is read. Bytes are hashed (md5, sha256) in order as they are read, for the sidecar and
to check what the server stored.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Protocol

from tus_server.lanes import SerialLane

BLOCK = 1 << 20


class PrefixHasher:
    """md5 and sha256 of the bytes [0, position) of a source; bytes seen again (a resend) are skipped.

    Each digest runs in a lane of its own beside the sending thread (hashlib releases the GIL), a few blocks
    behind at most, so hashing does not slow the upload down.
    """

    MAX_BLOCKS_BEHIND = 8

    def __init__(self) -> None:
        self.md5 = hashlib.md5()
        self.sha256 = hashlib.sha256()
        self.position = 0
        self._lanes = (SerialLane(), SerialLane())
        self._pending: deque[Future[None]] = deque()

    def feed(self, offset: int, data: bytes) -> None:
        end = offset + len(data)
        if offset <= self.position < end:
            block = data[self.position - offset :] if offset < self.position else data
            self._pending.append(self._lanes[0].submit(self.md5.update, block))
            self._pending.append(self._lanes[1].submit(self.sha256.update, block))
            self.position = end
            while len(self._pending) > 2 * self.MAX_BLOCKS_BEHIND:
                self._pending.popleft().result()

    def digests(self) -> tuple[str, str]:
        while self._pending:
            self._pending.popleft().result()
        return self.md5.hexdigest(), self.sha256.hexdigest()


class Chunk(Protocol):
    start: int
    length: int
    last: bool  # no bytes follow it: the upload's length is start + length

    def blocks(self, offset: int) -> Iterator[bytes]:
        """The chunk's bytes from `offset` (start <= offset <= start + length) to its end."""
        ...


class Source(Protocol):
    @property
    def size(self) -> int | None:
        """The number of bytes, if known before the end is read."""
        ...

    @property
    def hasher(self) -> PrefixHasher: ...

    def chunk(self, offset: int, max_length: int) -> Chunk: ...

    def finish_hash(self) -> tuple[str, str]:
        """md5 and sha256 of the whole source (reading what was never read, if it can)."""
        ...

    def close(self) -> None: ...


class _SeekableChunk:
    def __init__(self, source: SeekableSource, start: int, length: int, last: bool) -> None:
        self.source, self.start, self.length, self.last = source, start, length, last

    def blocks(self, offset: int) -> Iterator[bytes]:
        end = self.start + self.length
        while offset < end:
            data = self.source.read_at(offset, min(BLOCK, end - offset))
            if not data:
                raise OSError(
                    f"the source ended at {offset} bytes, before its expected {self.source.size}: did it change?"
                )
            self.source.hasher.feed(offset, data)
            yield data
            offset += len(data)


class SeekableSource:
    """A file, or a seekable stream of known size (read from its position at the start)."""

    def __init__(self, stream: IO[bytes] | IO[str], size: int, *, owned: bool = False) -> None:
        self.stream = stream
        self.base = stream.tell()
        self.size = size
        self.owned = owned
        self.hasher = PrefixHasher()

    @classmethod
    def open(cls, path: Path) -> SeekableSource:
        stream = open(path, "rb", buffering=0)
        return cls(stream, os.fstat(stream.fileno()).st_size, owned=True)

    def read_at(self, offset: int, n: int) -> bytes:
        self.stream.seek(self.base + offset)
        data = self.stream.read(n)
        if isinstance(data, str):
            data = data.encode()
        return data

    def chunk(self, offset: int, max_length: int) -> Chunk:
        length = max(0, min(max_length, self.size - offset))
        return _SeekableChunk(self, offset, length, offset + length >= self.size)

    def finish_hash(self) -> tuple[str, str]:
        for _ in _SeekableChunk(self, self.hasher.position, self.size - self.hasher.position, True).blocks(
            self.hasher.position
        ):
            pass
        return self.hasher.digests()

    def close(self) -> None:
        if self.owned:
            self.stream.close()


class _SpooledChunk:
    def __init__(self, spool: IO[bytes], start: int, length: int, last: bool) -> None:
        self.spool, self.start, self.length, self.last = spool, start, length, last

    def blocks(self, offset: int) -> Iterator[bytes]:
        self.spool.seek(offset - self.start)
        while data := self.spool.read(BLOCK):
            yield data


class OneWaySource:
    """A stream read once, whose size may be unknown: each chunk is spooled (to disk past 8 MiB) until sent."""

    def __init__(self, stream: IO[bytes] | IO[str], size: int | None = None) -> None:
        self.stream = stream
        self.size = size
        self.hasher = PrefixHasher()
        self.consumed = 0
        self._current: _SpooledChunk | None = None

    def chunk(self, offset: int, max_length: int) -> Chunk:
        current = self._current
        if current is not None and current.start <= offset <= current.start + current.length:
            if offset < current.start + current.length or current.last:
                return current  # resend (part of) the chunk in the spool
        if offset != self.consumed:
            raise OSError(f"a one-way stream cannot go back to byte {offset} (it is at {self.consumed})")
        if current is not None:
            current.spool.close()
        spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)
        length = 0
        while length < max_length:
            data = self.stream.read(min(BLOCK, max_length - length))
            if isinstance(data, str):
                data = data.encode()
            if not data:
                break
            spool.write(data)
            self.hasher.feed(offset + length, data)
            length += len(data)
        self.consumed = offset + length
        last = length < max_length or (self.size is not None and self.consumed >= self.size)
        if last and self.size is None:
            self.size = self.consumed
        self._current = _SpooledChunk(spool, offset, length, last)
        return self._current

    def finish_hash(self) -> tuple[str, str]:
        return self.hasher.digests()

    def close(self) -> None:
        if self._current is not None:
            self._current.spool.close()


def source_for_stream(stream: IO[bytes] | IO[str], size: int | None) -> Source:
    """Seek where the stream allows it (and its size is known or findable), spool where it does not."""
    if isinstance(stream, io.TextIOBase):
        return OneWaySource(stream, None)  # characters, encoded as read: size unknown
    seekable = False
    try:
        seekable = stream.seekable()
    except (AttributeError, ValueError):
        pass
    if seekable:
        start = stream.tell()
        if size is None or size < 0:
            end = stream.seek(0, os.SEEK_END)
            stream.seek(start)
            size = end - start
        return SeekableSource(stream, size)
    return OneWaySource(stream, size if size is not None and size >= 0 else None)
