"""tar and zip archives of an artifact's files, streamed as they are written: one read block in memory at a
time, never a whole file and never a copy on disk. Both are written with the standard library (`tarfile`
headers; `zipfile` onto a sink that cannot seek, so each entry carries a data descriptor and zip64 sizes). The
bytes come from `blocks(entry)`, whatever storage holds them."""

from __future__ import annotations

import io
import tarfile
import time
import zipfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass

TAR_BLOCK = 512


@dataclass(frozen=True, slots=True)
class Entry:
    path: str  # relative POSIX path inside the archive (checked when the file was added)
    size: int
    sha256: str  # the blob holding the bytes
    mtime: float


Blocks = Callable[[Entry], AsyncIterator[bytes]]


def _tar_header(entry: Entry) -> bytes:
    info = tarfile.TarInfo(entry.path)
    info.size = entry.size
    info.mode = 0o644
    info.mtime = int(entry.mtime)
    info.type = tarfile.REGTYPE
    return info.tobuf(format=tarfile.PAX_FORMAT)


def tar_parts(entries: Iterable[Entry]) -> Iterator[bytes | Entry]:
    """A POSIX (pax) tar of `entries` as its pieces: bytes of the archive's own (headers, padding, the end), and
    each entry where its file's bytes go."""
    for entry in entries:
        yield _tar_header(entry)
        yield entry
        if remainder := entry.size % TAR_BLOCK:
            yield b"\0" * (TAR_BLOCK - remainder)
    yield b"\0" * (2 * TAR_BLOCK)


def tar_length(entries: Iterable[Entry]) -> int:
    """The bytes of `tar_parts(entries)` in all, known before any is sent (its `Content-Length`)."""
    return sum(part.size if isinstance(part, Entry) else len(part) for part in tar_parts(entries))


async def tar_stream(entries: Iterable[Entry], blocks: Blocks) -> AsyncIterator[bytes]:
    """A POSIX (pax) tar of `entries`, each file's bytes read with `blocks`."""
    for part in tar_parts(entries):
        if not isinstance(part, Entry):
            yield part
            continue
        written = 0
        async for block in blocks(part):
            written += len(block)
            yield block
        if written != part.size:
            raise OSError(f"{part.path}: the blob has {written} bytes, the manifest says {part.size}")


class _Sink(io.RawIOBase):
    """Where `zipfile` writes: collects what it wrote until the stream takes it; cannot seek."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


async def zip_stream(entries: Iterable[Entry], blocks: Blocks) -> AsyncIterator[bytes]:
    """A zip (stored, not compressed: model weights and datasets rarely shrink) of `entries`."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for entry in entries:
            info = zipfile.ZipInfo(entry.path, time.gmtime(max(entry.mtime, 315532800))[:6])
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                async for block in blocks(entry):
                    member.write(block)
                    yield sink.take()
            yield sink.take()
    yield sink.take()
