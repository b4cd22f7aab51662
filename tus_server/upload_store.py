"""The upload store interface: where the bytes and the info of uploads live.

Shaped like tusd's store composer: a core every store implements (`UploadStore`, with the `UploadWriter` it
opens per request) plus optional capabilities the server discovers with `isinstance`, each a small protocol:

- `Terminator`: uploads can be removed (the `termination` and `expiration` extensions, the expiry sweep).
- `Concatenator`: a final upload can be assembled from partial ones (`concatenation`).
- `LengthDeferrer`: an upload can be created before its length is known (`creation-defer-length`).
- `DataMover`: a finished upload's bytes can be moved to a local file without copying (a rename).
- `CompletionRecorder`: the request that completes an upload records its offset and digests in one write.
- `FinishMarker`: that the completion hook has run is marked without a durable write.
- `BatchCreator`: uploads created together made durable together (one sync for all; for small creations-with-
  upload, one for all their bytes and one for all their infos).

Every method blocks (the server calls them in worker threads) and raises `OSError` for storage failures;
`errno.ENOSPC`/`errno.EDQUOT` mean "no room" and are answered 507. Nothing here assumes a local path: a store
on S3 implements the same protocols. `file_store.FileUploadStore` is the default and implements all of them.

Durability contract, which the server relies on:
- `UploadWriter.sync` returns once every byte its `write` calls returned for is durable.
- `save` records an info atomically (all or nothing) and durably, and is only called with an offset the
  server already made durable through `sync`.
- `recover` brings every upload back to its recorded offset after a crash (bytes past it are dropped).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from tus_server.info import UploadInfo

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


def is_valid_upload_id(upload_id: str) -> bool:
    """Ids are 32 lowercase hex digits, so no id can name a path outside the store."""
    return bool(_UPLOAD_ID.fullmatch(upload_id))


class PartialWrite(OSError):
    """A write stopped early: `written` of its bytes were taken, in order, and the rest were not.

    It carries the errno and message of the failure (ENOSPC, EDQUOT, EIO, ...).
    """

    def __init__(self, written: int, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause))
        self.written = written
        self.cause = cause


class UnreadableUntilFinished(OSError):
    """The store cannot read back the bytes of an unfinished upload (S3 keeps them in multipart parts)."""


class UploadWriter(Protocol):
    """Appends one request's bytes to an upload, from the offset it was opened at.

    `write` calls come in order from one thread at a time; `sync` may run in another thread while a `write`
    runs and makes durable at least every byte of the writes that had returned when it started.
    """

    def write(self, parts: Sequence[bytes | memoryview]) -> int:
        """Append `parts` in order; the count of bytes taken (all of them, or `PartialWrite` is raised)."""
        ...

    def sync(self) -> None:
        """Make every byte written so far durable."""
        ...

    def truncate(self, size: int) -> None:
        """Drop the bytes past `size` (never below the offset the writer was opened at)."""
        ...

    def close(self) -> None: ...


class UploadStore(Protocol):
    """The core every store implements: create, read info, write at an offset, finish, hand over."""

    def create(self, info: UploadInfo) -> None:
        """Make a new, empty upload and record `info` durably."""
        ...

    def load(self, upload_id: str) -> UploadInfo | None:
        """The recorded info of an upload, or None if there is no such upload (or the id is malformed)."""
        ...

    def save(self, info: UploadInfo) -> None:
        """Record `info` atomically and durably (its offset is already durable)."""
        ...

    def writer(self, upload_id: str, offset: int) -> UploadWriter:
        """Open the upload for appending at `offset`, its recorded offset; bytes past it are dropped first."""
        ...

    def finish(self, info: UploadInfo) -> None:
        """All `info.length` bytes are durable: make them a whole object where the storage needs that."""
        ...

    def read(self, upload_id: str, length: int, block_size: int = 8 << 20) -> Iterator[bytes]:
        """The first `length` bytes of the upload, in blocks of at most `block_size` (OSError if it is shorter)."""
        ...

    def release(self, upload_id: str) -> None:
        """Drop the bytes of a finished upload that were handed over; its info stays. No error if already gone."""
        ...

    def ids(self) -> Iterator[str]:
        """The ids of every upload in the store."""
        ...

    def recover(self) -> list[UploadInfo]:
        """After a crash: cut every upload back to its recorded offset; the infos of all uploads."""
        ...


@runtime_checkable
class Checkpointer(Protocol):
    """An `UploadWriter` whose storage makes some bytes durable more cheaply than all of them (S3: whole parts,
    without a tail object). A long request's checkpoints use it instead of `sync`."""

    def checkpoint(self) -> int:
        """Make a prefix of the bytes written so far durable and return its end offset (which may lie below
        the offset the writer was opened at; the caller then records nothing)."""
        ...


@runtime_checkable
class BlockWriter(Protocol):
    """An `UploadWriter` that writes a page-aligned block without copying it when the block's first `head`
    bytes are left free for the file's partial last 4 KiB block (the file store, with `O_DIRECT`)."""

    def write_block(self, memory: memoryview, head: int, length: int) -> int:
        """Append `memory[head : head + length]` as `write` would; `memory[:head]` may be overwritten."""
        ...


@runtime_checkable
class StreamingWriter(Protocol):
    """An `UploadWriter` that streams bytes into storage objects whose length it declares before their first
    byte (S3 parts) instead of gathering them: it is told how many bytes the request brings, and a request cut
    short in the middle of such an object loses that object's bytes."""

    def expect(self, count: int) -> None:
        """The request brings `count` more bytes (its Content-Length)."""
        ...

    def sync_prefix(self) -> int:
        """Make durable every byte written that can be (all of them unless the request was cut short in the
        middle of an object) and return the end offset of those; the bytes past it are dropped."""
        ...


@runtime_checkable
class Terminator(Protocol):
    def terminate(self, upload_id: str) -> None:
        """Remove the upload, bytes and info. No error if it is already gone."""
        ...


@runtime_checkable
class Concatenator(Protocol):
    def concatenate(self, final: UploadInfo, parts: Sequence[UploadInfo]) -> None:
        """Fill the (created, empty) final upload with the bytes of `parts`, in order, durably."""
        ...


@runtime_checkable
class LengthDeferrer(Protocol):
    def declare_length(self, info: UploadInfo, length: int) -> None:
        """Set the length of an upload created without one, and record it."""
        ...


@runtime_checkable
class DataMover(Protocol):
    def move_data(self, upload_id: str, target: Path, *, sync: bool = True) -> None:
        """Move a finished upload's bytes to the local file `target` (a rename where the storage allows one,
        else a durable copy) and drop them from the store; its info stays. FileNotFoundError if already gone.
        With `sync=False` the move is not made durable here: the caller syncs the target's filesystem."""
        ...


@runtime_checkable
class CompletionRecorder(Protocol):
    def record_completion(self, info: UploadInfo) -> None:
        """Finish the upload and record `info` (offset = length, digests set) in one atomic, durable write.

        The server calls it instead of `save` (the offset) then `finish` and `save` (the digests) when a request
        completes an upload, once its bytes are durable through `sync`. Only a store whose `finish` needs no
        recorded offset offers it: a crash before the write leaves the upload at its previous recorded offset
        (the request was not answered), a crash after it leaves a complete upload with its digests, which the
        server hands on at the next start.
        """
        ...

    def create_completed(self, info: UploadInfo, parts: Sequence[bytes]) -> None:
        """Make a new upload whose bytes are all in `parts` (a small creation-with-upload): the bytes written and
        durable first, then `info` (offset = length, digests set) recorded once, atomically and durably, instead
        of `create` (an info at offset 0), `writer`, `sync` and `record_completion`. A crash before the info is
        recorded leaves bytes without an info, which `recover` removes (the client was not answered)."""
        ...


@runtime_checkable
class BatchCreator(Protocol):
    def can_create_many(self) -> bool:
        """Whether `create_many`, `create_completed_many` and `append_completed_many` make a batch durable at once
        here (else the server creates and appends one upload at a time)."""
        ...

    def create_many(self, infos: Sequence[UploadInfo]) -> list[OSError | None]:
        """`create` of every upload (no bytes yet), made durable together: every upload's empty data file and
        info written, one sync. The outcome of each, in order: None, or the error it alone failed with (it then
        left nothing behind). A crash before the sync leaves uploads that no client heard of: an unreadable info
        is removed by `recover`, a readable one is an empty upload that expires."""
        ...

    def create_completed_many(self, uploads: Sequence[tuple[UploadInfo, Sequence[bytes]]]) -> list[OSError | None]:
        """`create_completed` for every upload, with the durability of each (bytes durable, then its info
        recorded atomically and durably), but made durable together: every upload's bytes and info written (the
        info beside its place), one sync, every info put in place, one sync. The outcome of each, in order: None,
        or the error it alone failed with (it then left nothing behind). A crash before the second sync leaves
        bytes without infos, which `recover` removes, or uploads whole (no client was answered either way)."""
        ...

    def append_completed_many(self, uploads: Sequence[tuple[UploadInfo, int, Sequence[bytes]]]) -> list[OSError | None]:
        """For each (info, start, parts), the last bytes of an existing upload written at `start` and `info` (its
        offset now the length, its digests set) recorded, with the durability of a PATCH and `record_completion`
        (bytes durable, then the info recorded atomically and durably), but made durable together, as
        `create_completed_many` does. The outcome of each, in order: None, or the error it alone failed with (it
        is then as it was: its bytes up to `start`, its offset `start`). A crash before the second sync leaves
        each upload's previous info, and bytes past its offset, which `recover` cuts off, or the upload whole."""
        ...


@runtime_checkable
class FinishMarker(Protocol):
    def mark_finished(self, info: UploadInfo) -> None:
        """Record that the completion hook has run for the upload (`info.finished`), atomically but not durably:
        after a crash the mark may be missing, and the server then runs the hook again at start-up, which the
        hook must allow anyway (a crash may fall between the hook and any record of it). `load` reports the
        upload finished once the mark is there. Saves the server a durable write per completed upload."""
        ...
