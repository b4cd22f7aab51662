"""Uploads in an S3-compatible bucket, readable by every replica: tusd's s3store layout, without temp files.

For an upload `<id>` under the key prefix:
- `<id>.info` holds the `UploadInfo` and the store's state: the S3 multipart upload, its parts, and the tail.
- the bytes are the multipart upload's parts (each at least `MIN_PART` bytes, S3's minimum) followed by a
  tail object `<id>.tail.<end offset>` with the bytes that do not make a part yet.
- once finished, `<id>` is the whole object (the tail becomes the last part, which may be small).

Bytes stream straight into S3 as they arrive (`S3UploadWriter`): each part is an UploadPart whose length is
known before its first byte (from the request's Content-Length), fed from the request's own blocks; bytes that
cannot make a part (below `MIN_PART`, or a request of unknown length) become a tail object, read back from S3
at the head of the next part. Nothing is buffered beyond the block the server hands over, and nothing touches
a local disk. A request cut short in the middle of a part loses that part (at most `part_size` bytes).

Parts and tails of bytes past the recorded offset (a crash, or a checksum mismatch that drops a body) are
never referenced: a later write reuses the part number, and unreferenced tails are deleted when the state that
replaced them is saved, or when the upload goes.

The server hashes bytes as they stream; parts of an unfinished multipart upload cannot be read back, so a
replica that did not see the previous bytes cannot rebuild the running digests: `read` of an unfinished upload
raises `UnreadableUntilFinished` and the server hashes the finished object once instead.
"""

from __future__ import annotations

import functools
import io
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import orjson

from tus_server.info import UploadInfo
from tus_server.upload_store import PartialWrite, UnreadableUntilFinished, is_valid_upload_id

MIN_PART = 5 << 20  # S3's smallest part but the last
MAX_PARTS = 10_000  # S3's most parts in one multipart upload
MAX_COPY_PART = 5 << 30  # S3's largest part copied server-side
PART_SIZE = 8 << 20  # the preferred part: large uploads get larger ones so that they fit in MAX_PARTS
RAMP_START = 256 << 10  # new bytes in a request's first object after a request was cut short (a flaky connection)
PARTS_IN_FLIGHT = 4  # parts one request has on their way at once (the one being fed, and earlier ones finishing)


@dataclass(slots=True)
class S3UploadState:
    multipart: str | None = None  # the S3 multipart upload id
    parts: list[tuple[int, str, int]] = field(default_factory=list)  # (number, ETag, size)
    tail_key: str | None = None
    tail_size: int = 0
    finished: bool = False  # `<id>` is the whole object
    released: bool = False  # the whole object was handed over and dropped
    handed_over: bool = False  # the whole object belongs to the blob store now: it stays when the upload goes
    lost: bool = False  # the last request was cut short: the next one ramps up

    @property
    def size(self) -> int:
        return sum(size for _, _, size in self.parts) + self.tail_size

    def copy(self) -> S3UploadState:
        return replace(self, parts=list(self.parts))


class _Chain(io.RawIOBase):
    """A readable of known length over a sequence of sources (botocore streams, byte strings)."""

    def __init__(self, sources: Sequence[Any]) -> None:
        self._sources = [io.BytesIO(s) if isinstance(s, bytes | bytearray | memoryview) else s for s in sources]

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(source.read() for source in self._sources)
        while self._sources:
            data: bytes = self._sources[0].read(size)
            if data:
                return data
            self._sources.pop(0)
        return b""

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class S3UploadStore:
    """The `UploadStore` core plus `Terminator` and `LengthDeferrer` over one bucket (blocking methods)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client  # a botocore S3 client (thread-safe)
        self.bucket = bucket
        self.prefix = f"{prefix}uploads/"
        self._pending: dict[str, dict[int, S3UploadState]] = {}  # states by end offset, written but not saved
        self._guard = threading.Lock()

    # ---- keys and state -------------------------------------------------------------------------------

    def key(self, upload_id: str, suffix: str = "") -> str:
        if not is_valid_upload_id(upload_id):
            raise ValueError(f"invalid upload id {upload_id!r}")
        return f"{self.prefix}{upload_id}{suffix}"

    def _load(self, upload_id: str) -> tuple[UploadInfo, S3UploadState] | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(upload_id, ".info"))["Body"]
        except Exception as exc:
            if _not_found(exc):
                return None
            raise _os_error(exc) from exc
        raw = orjson.loads(body.read())
        state = S3UploadState(**raw["s3"])
        state.parts = [tuple(part) for part in state.parts]  # type: ignore[misc]
        return UploadInfo.from_bytes(orjson.dumps(raw["info"])), state

    def _store(self, info: UploadInfo, state: S3UploadState) -> None:
        body = orjson.dumps({"info": orjson.loads(info.to_bytes()), "s3": asdict(state)})
        self._call("put_object", Key=self.key(info.id, ".info"), Body=body)

    def _call(self, operation: str, **params: Any) -> Any:
        try:
            return getattr(self.client, operation)(Bucket=self.bucket, **params)
        except Exception as exc:
            raise _os_error(exc) from exc

    def _part_call(self, operation: str, upload_id: str, multipart: str, number: int, **params: Any) -> Any:
        """`operation` (`upload_part`, `upload_part_copy`) on part `number` of the upload's multipart upload."""
        return self._call(operation, Key=self.key(upload_id), UploadId=multipart, PartNumber=number, **params)

    def _state(self, upload_id: str) -> S3UploadState:
        loaded = self._load(upload_id)
        if loaded is None:
            raise FileNotFoundError(f"no upload {upload_id}")
        return loaded[1]

    # ---- the core -------------------------------------------------------------------------------------

    def create(self, info: UploadInfo) -> None:
        self._store(info, S3UploadState())

    def load(self, upload_id: str) -> UploadInfo | None:
        if not is_valid_upload_id(upload_id):
            return None
        loaded = self._load(upload_id)
        return loaded[0] if loaded else None

    def save(self, info: UploadInfo) -> None:
        with self._guard:
            pending = self._pending.get(info.id, {})
            state = pending.get(info.offset)
        if state is None:
            state = self._state(info.id)
        self._store(info, state)
        self._mark_completing(info)
        with self._guard:
            pending = self._pending.get(info.id, {})
            stale = [offset for offset in pending if offset < info.offset]
            superseded = {s.tail_key for o, s in pending.items() if o < info.offset and s.tail_key}
            for offset in stale:
                del pending[offset]
        for key in superseded - {state.tail_key}:
            self._call("delete_object", Key=key)

    def _completing_key(self, upload_id: str) -> str:
        return f"{self.prefix}completing/{upload_id}"

    def _mark_completing(self, info: UploadInfo) -> None:
        """Keep an empty marker beside every upload that has all its bytes but was not handed over yet, so that
        `recover` lists those alone rather than every upload in the bucket."""
        if info.is_partial or not info.is_complete:
            return
        if info.finished:
            self._call("delete_object", Key=self._completing_key(info.id))
        else:
            self._call("put_object", Key=self._completing_key(info.id), Body=b"")

    def writer(self, upload_id: str, offset: int) -> S3UploadWriter:
        loaded = self._load(upload_id)
        if loaded is None:
            raise FileNotFoundError(f"no upload {upload_id}")
        info, state = loaded
        if state.finished:
            raise OSError(f"upload {upload_id} is finished")
        if state.size != offset:
            raise OSError(f"upload {upload_id} holds {state.size} bytes, not {offset}")
        with self._guard:
            self._pending.setdefault(upload_id, {})[offset] = state.copy()
        return S3UploadWriter(self, upload_id, offset, state, part_size(info.length))

    def finish(self, info: UploadInfo) -> None:
        state = self._state(info.id)
        if state.finished:
            return
        key = self.key(info.id)
        if state.multipart is None and state.tail_key is None:
            self._call("put_object", Key=key, Body=b"")
        else:
            if state.multipart is None:
                state.multipart = self._call("create_multipart_upload", Key=key)["UploadId"]
            if state.tail_key is not None:
                tail = self._call("get_object", Key=state.tail_key)["Body"]
                number = len(state.parts) + 1
                body = _Chain([tail])
                answer = self._part_call(
                    "upload_part", info.id, state.multipart, number, Body=body, ContentLength=state.tail_size
                )
                state.parts.append((number, answer["ETag"], state.tail_size))
            parts = [{"PartNumber": number, "ETag": etag} for number, etag, _ in state.parts]
            self._call("complete_multipart_upload", Key=key, UploadId=state.multipart, MultipartUpload={"Parts": parts})
        state.finished, state.tail_key, state.tail_size = True, None, 0
        self._store(info, state)
        self._delete_under(self.key(info.id, ".tail."))  # the last tail, and any a request cut short left
        with self._guard:
            self._pending.pop(info.id, None)

    def read(self, upload_id: str, length: int, block_size: int = 8 << 20) -> Iterator[bytes]:
        if length == 0:
            return  # nothing to read, finished or not: a new upload's running digests start from here
        state = self._state(upload_id)
        if not state.finished:
            raise UnreadableUntilFinished(f"upload {upload_id} is not finished: its parts cannot be read back")
        body = self._call("get_object", Key=self.key(upload_id), Range=f"bytes=0-{length - 1}")["Body"]
        remaining = length
        try:
            for block in body.iter_chunks(min(block_size, 1 << 20)):
                remaining -= len(block)
                yield block
        finally:
            body.close()
        if remaining:
            raise OSError(f"upload {upload_id} is shorter than {length} bytes")

    def release(self, upload_id: str) -> None:
        loaded = self._load(upload_id)
        if loaded is None:
            return
        info, state = loaded
        if state.handed_over:
            return  # the object is a blob now
        self._call("delete_object", Key=self.key(upload_id))
        state.released = True
        self._store(info, state)

    def ids(self) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                name = item["Key"][len(self.prefix) :]
                if name.endswith(".info") and is_valid_upload_id(name[:-5]):
                    yield name[:-5]

    def recover(self) -> list[UploadInfo]:
        """Nothing to cut back: unreferenced parts and tails are never read. The infos of the uploads that have all
        their bytes but were not handed over (those with a `completing/` marker), not of every upload: a start
        costs a listing of the markers, not of the bucket."""
        infos = []
        paginator = self.client.get_paginator("list_objects_v2")
        prefix = self._completing_key("")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                upload_id = item["Key"][len(prefix) :]
                info = self.load(upload_id)
                if info is None or info.finished:
                    self._call("delete_object", Key=item["Key"])  # left by a crash between the two saves
                else:
                    infos.append(info)
        return infos

    # ---- capabilities ---------------------------------------------------------------------------------

    def terminate(self, upload_id: str) -> None:
        loaded = self._load(upload_id)
        if loaded is not None and loaded[1].multipart and not loaded[1].finished:
            try:
                self._call("abort_multipart_upload", Key=self.key(upload_id), UploadId=loaded[1].multipart)
            except OSError:
                pass  # already completed or aborted
        kept = self.key(upload_id) if loaded is not None and loaded[1].handed_over else None
        self._delete_under(self.key(upload_id), keep=kept)
        self._call("delete_object", Key=self._completing_key(upload_id))
        with self._guard:
            self._pending.pop(upload_id, None)

    def _delete_under(self, prefix: str, keep: str | None = None) -> None:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"] != keep:
                    self._call("delete_object", Key=item["Key"])

    def concatenate(self, final: UploadInfo, parts: Sequence[UploadInfo]) -> None:
        """Fill `final` with the finished objects of `parts`: server-side part copies (UploadPartCopy) for whatever
        makes parts of at least S3's minimum, the small rest read into the part being gathered."""
        writer = self.writer(final.id, 0)
        writer.expect(sum(part.length or 0 for part in parts))
        try:
            for part in parts:
                writer.append_object(self.key(part.id), part.length or 0)
            writer.sync()
        finally:
            writer.close()
        self.save(replace(final, offset=sum(part.length or 0 for part in parts)))

    def declare_length(self, info: UploadInfo, length: int) -> None:
        info.length = length
        self.save(info)

    def object_key(self, upload_id: str) -> str:
        """Where a finished upload's whole object is (for a server-side copy into blob storage)."""
        return self.key(upload_id)

    def hand_over(self, upload_id: str) -> str:
        """Give a finished upload's whole object to the blob store, which references it where it is instead of
        copying it: from now on neither `release` nor `terminate` removes it. Returns its key (idempotent)."""
        loaded = self._load(upload_id)
        if loaded is None:
            raise FileNotFoundError(f"no upload {upload_id}")
        info, state = loaded
        if not state.finished or state.released:
            raise OSError(f"upload {upload_id} has no whole object to hand over")
        if not state.handed_over:
            state.handed_over = True
            self._store(info, state)
        return self.key(upload_id)


class S3UploadWriter:
    """Streams one request's bytes into S3 as they arrive: parts (UploadPart) and tail objects of declared lengths.

    The request's length (`expect`, from its Content-Length) says how long each object is before its first byte
    is there: a part of `part_size` bytes (the last part of a request takes a rest below `MIN_PART` too), or a
    tail object when fewer than `MIN_PART` bytes remain. A recorded tail is read back from S3 at the head of
    the next object. Without a known length each `write` becomes a part if it brings the tail to `MIN_PART`,
    else a longer tail object. Each object's request runs in a thread of its own, reading from a `_Pipe` that
    takes one buffer of the caller at a time: `write` returns once S3's connection took its bytes, so the writer
    holds no bytes of its own (only the blocks the server hands it, within its `--upload-buffer-budget`). A
    request has at most `PARTS_IN_FLIGHT` parts on their way (the last fed while the earlier ones finish).

    `sync_prefix` makes durable what can be: a request cut short in the middle of an object loses that object
    (its declared length will never be reached), so the durable end is the end of the whole parts plus the tail.
    `checkpoint` is the cheap sync of a long request: it waits only for the whole parts and records their end.
    """

    def __init__(self, store: S3UploadStore, upload_id: str, offset: int, state: S3UploadState, part_size: int) -> None:
        self._store = store
        self._id = upload_id
        self._part_size = part_size
        self._lock = threading.Lock()
        self._multipart_lock = threading.Lock()
        self._left: int | None = None  # bytes the request has yet to bring, when known
        self._reset(state, offset)

    def _reset(self, state: S3UploadState, offset: int) -> None:
        self._base = state.copy()
        self._parts: list[Future[tuple[int, str, int]]] = [_done(part) for part in state.parts]
        self._offset = offset  # the end of every byte written
        self._cut_end = offset - state.tail_size  # the end of the parts whose bytes were all fed
        self._tail: tuple[str, int] | None = (state.tail_key, state.tail_size) if state.tail_key else None
        self._stream: _Stream | None = None  # the object being fed
        self._left = None
        # After a request was cut short, the next one ramps up: each object holds at most what one `write` brings
        # (so none is left unfinished by a cut), `RAMP_START` bytes in the first and twice as many in each next
        # up to a part. A connection cut every few hundred KiB still makes progress.
        self._step: int | None = RAMP_START if state.lost else None
        self._base.lost = False
        self._error: OSError | None = None

    def expect(self, count: int) -> None:
        """The request brings `count` more bytes (its Content-Length): parts can be streamed."""
        self._left = count

    # ---- writing ---------------------------------------------------------------------------------------

    def write(self, parts: Sequence[bytes | memoryview]) -> int:
        """Takes all of `parts` or none: after a failed object it raises `PartialWrite(0, cause)`."""
        try:
            if self._error is not None:
                raise self._error
            size = sum(len(part) for part in parts)
            coming = size
            for part in parts:
                view = memoryview(part).cast("B")
                while len(view):
                    stream = self._stream or self._open(coming)
                    count = min(len(view), stream.room)
                    stream.pipe.put(view[:count])
                    view, coming = view[count:], coming - count
                    self._offset += count
                    if self._left is not None:
                        self._left = self._left - count if self._left >= count else None
                    if not stream.room:
                        self._close(stream)
            return size
        except OSError as exc:
            raise PartialWrite(0, exc) from exc

    def _open(self, coming: int, shortest: bool = False) -> _Stream:
        """Start the next object: a part if `MIN_PART` bytes or more are known to come (with the tail), else a
        tail object of what is known. `shortest` asks for a part of `MIN_PART` (then the rest can be copied)."""
        tail_size = self._tail[1] if self._tail else 0
        known = self._left if self._left is not None and self._left >= coming else coming
        if self._step is not None:  # ramping up: an object of what this write brings, so a cut loses none
            known = min(coming, self._step)
            if known == self._step:  # grows only with objects that reached it
                self._step = self._step * 2 if self._step * 2 < self._part_size else None
        total = tail_size + known
        if total >= MIN_PART:
            length = total if total < self._part_size + MIN_PART else self._part_size
            length = MIN_PART if shortest else length
            self._wait_parts_in_flight()
            upload = self._multipart()
            with self._lock:
                number = len(self._parts) + 1
            if number > MAX_PARTS:
                raise OSError(f"upload {self._id} would need more than {MAX_PARTS} parts")
            key = None
        else:
            length, upload, number = total, "", 0
            key = self._store.key(self._id, f".tail.{self._cut_end + total}")
        pipe = _Pipe(length - tail_size)
        head = self._tail[0] if self._tail else None
        future = _in_thread(functools.partial(self._send, pipe, head, length, upload, number, key))
        self._stream = _Stream(pipe, future, self._cut_end + length, key)
        return self._stream

    def _send(
        self, pipe: _Pipe, head: str | None, length: int, upload: str, number: int, key: str | None
    ) -> tuple[int, str, int]:
        """One object's request (a thread of its own): the recorded tail `head` from S3, then the pipe's bytes."""
        try:
            sources: list[Any] = []
            if head is not None:
                sources.append(self._store._call("get_object", Key=head)["Body"])
            body = _Chain([*sources, pipe])
            if key is not None:
                self._store._call("put_object", Key=key, Body=body, ContentLength=length)
                return 0, key, length
            answer = self._store._part_call("upload_part", self._id, upload, number, Body=body, ContentLength=length)
            return number, str(answer["ETag"]), length
        except Exception as exc:
            if not pipe.abandoned:
                self._error = self._error or _os_error(exc)
            raise
        finally:
            pipe.stop("S3 ended the request before its last byte")

    def _close(self, stream: _Stream) -> None:
        """Every byte of `stream` was fed: a part finishes on its own; a tail is waited for (it is small)."""
        self._stream = None
        if stream.tail_key is None:
            with self._lock:
                self._parts.append(stream.future)
                self._cut_end = stream.end
                self._tail = None
            return
        try:
            stream.future.result()
        except Exception as exc:
            raise _os_error(exc) from exc
        self._tail = (stream.tail_key, stream.end - self._cut_end)

    def _abandon(self) -> None:
        """Drop the object being fed (the request was cut short): its bytes are lost, the recorded state stays."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        stream.pipe.abandon()
        self._base.lost = True
        try:
            stream.future.result()
        except Exception:
            pass
        self._offset = self._cut_end + (self._tail[1] if self._tail else 0)
        self._left = None

    def _wait_parts_in_flight(self) -> None:
        with self._lock:
            running = [part for part in self._parts if not part.done()]
        for part in running[: max(0, len(running) - PARTS_IN_FLIGHT + 1)]:
            try:
                part.result()
            except Exception:
                pass  # the part's thread recorded the error

    def append_object(self, key: str, size: int) -> None:
        """Append the first `size` bytes of the object `key` of the same bucket: server-side part copies where the
        bytes can make whole parts of their own, else streamed through a ranged GET into the object being fed."""
        position = 0
        while position < size:
            left = size - position
            if self._stream is None and self._tail is None and left >= MIN_PART:
                count = min(left, MAX_COPY_PART)
                self._copy(key, position, count)
            else:
                stream = self._stream or self._open(left, shortest=True)  # the least part, then copy again
                count = min(left, stream.room)
                span = f"bytes={position}-{position + count - 1}"
                body = self._store._call("get_object", Key=key, Range=span)["Body"]
                try:
                    got = 0
                    for block in body.iter_chunks(1 << 20):
                        got += self.write([block])
                finally:
                    body.close()
                if got != count:
                    raise OSError(f"S3: {key} is shorter than expected")
            position += count

    def _copy(self, key: str, position: int, count: int) -> None:
        """Queue a server-side copy of `count` bytes of `key` as the next part (UploadPartCopy)."""
        self._wait_parts_in_flight()
        upload = self._multipart()
        with self._lock:
            number = len(self._parts) + 1
            if number > MAX_PARTS:
                raise OSError(f"upload {self._id} would need more than {MAX_PARTS} parts")
            span = f"bytes={position}-{position + count - 1}"
            source = {"Bucket": self._store.bucket, "Key": key}
            self._parts.append(_in_thread(functools.partial(self._copy_part, upload, number, source, span, count)))
            self._cut_end += count
        self._offset += count
        if self._left is not None:
            self._left = self._left - count if self._left >= count else None

    def _copy_part(
        self, upload: str, number: int, source: dict[str, str], span: str, count: int
    ) -> tuple[int, str, int]:
        try:
            answer = self._store._part_call(
                "upload_part_copy", self._id, upload, number, CopySource=source, CopySourceRange=span
            )
        except Exception as exc:
            self._error = self._error or _os_error(exc)
            raise
        return number, str(answer["CopyPartResult"]["ETag"]), count

    def _multipart(self) -> str:
        with self._multipart_lock:
            if self._base.multipart is None:
                answer = self._store._call("create_multipart_upload", Key=self._store.key(self._id))
                self._base.multipart = str(answer["UploadId"])
            return self._base.multipart

    # ---- durability ------------------------------------------------------------------------------------

    def sync(self) -> None:
        """Every byte written so far is stored when it returns; OSError if a request cut short lost some."""
        end, offset = self.sync_prefix(), self._offset
        if end != offset:
            raise OSError(f"upload {self._id}: the bytes past {end} were lost")

    def sync_prefix(self) -> int:
        """Store what can be of the bytes written (all of them unless an object was cut short) and return their
        end: the whole parts plus the tail."""
        if self._error is not None:
            raise self._error
        if self._left:
            self._base.lost = True  # the request was cut short: the next one ramps up (again)
        self._abandon()
        with self._lock:
            parts, end = list(self._parts), self._cut_end
        state = replace(self._base, parts=_results(parts), tail_key=None, tail_size=0)
        if self._tail is not None:
            state.tail_key, state.tail_size = self._tail
            end += self._tail[1]
        self._record(end, state)
        return end

    def checkpoint(self) -> int:
        """Wait only for the whole parts handed over so far and record their end: a durable offset, no tail
        object. It may be below the offset the writer was opened at (a recorded tail not yet in a part)."""
        with self._lock:
            parts, end = list(self._parts), self._cut_end
        self._record(end, replace(self._base, parts=_results(parts), tail_key=None, tail_size=0))
        return end

    def _record(self, end: int, state: S3UploadState) -> None:
        with self._store._guard:
            self._store._pending.setdefault(self._id, {})[end] = state.copy()

    def truncate(self, size: int) -> None:
        self._settle()
        with self._store._guard:
            state = self._store._pending.get(self._id, {}).get(size)
        if state is None:
            raise OSError(f"upload {self._id} cannot be cut back to {size} bytes (not a recorded offset)")
        self._reset(state, size)

    def close(self) -> None:
        self._settle()

    def _settle(self) -> None:
        """Drop the object being fed and wait for every part in flight, whatever its outcome (none is left
        running behind a new state)."""
        self._abandon()
        with self._lock:
            parts = list(self._parts)
        for part in parts:
            try:
                part.result()
            except Exception:
                pass


@dataclass(slots=True)
class _Stream:
    """An object being fed: its pipe, the request sending it, the offset it ends at, and its key if a tail."""

    pipe: _Pipe
    future: Future[tuple[int, str, int]]
    end: int
    tail_key: str | None

    @property
    def room(self) -> int:
        return self.pipe.length - self.pipe.fed


class _Pipe(io.RawIOBase):
    """`length` bytes handed from the writer to a request reading them in another thread, one buffer at a time:
    `put` returns once the reader took the whole buffer, so the pipe never holds bytes of its own."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.fed = 0  # bytes given to `put`
        self._taken = 0  # bytes the reader took
        self._view: memoryview | None = None
        self._stopped: str | None = None  # why no more bytes pass
        self.abandoned = False  # the writer gave the object up (a request cut short): not a storage failure
        self._cond = threading.Condition()

    def readable(self) -> bool:
        return True

    def put(self, data: memoryview) -> None:
        with self._cond:
            if self._stopped is not None:
                raise OSError(self._stopped)
            self._view = data
            self.fed += len(data)
            self._cond.notify_all()
            while self._view is not None and self._stopped is None:
                self._cond.wait()
            if self._view is not None:
                raise OSError(self._stopped)

    def read(self, size: int | None = -1) -> bytes:
        with self._cond:
            if self._taken >= self.length:
                return b""
            while self._view is None and self._stopped is None:
                self._cond.wait()
            if self._view is None:
                raise OSError(self._stopped)
            count = len(self._view) if size is None or size < 0 else min(size, len(self._view))
            data = bytes(self._view[:count])
            self._view = self._view[count:] if count < len(self._view) else None
            self._taken += count
            if self._view is None:
                self._cond.notify_all()
            return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def stop(self, reason: str) -> None:
        with self._cond:
            if self._stopped is None:
                self._stopped = reason
            self._cond.notify_all()

    def abandon(self) -> None:
        self.abandoned = True
        self.stop("the request was cut short in the middle of this object")


def _in_thread(call: Callable[[], tuple[int, str, int]]) -> Future[tuple[int, str, int]]:
    """Run `call` in a thread of its own: an object's request waits for its bytes as long as the client sends
    them, so it must never wait for a pool's free thread behind other requests' objects."""
    future: Future[tuple[int, str, int]] = Future()

    def run() -> None:
        try:
            future.set_result(call())
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name="s3-object", daemon=True).start()
    return future


def _results(parts: list[Future[tuple[int, str, int]]]) -> list[tuple[int, str, int]]:
    """The (number, ETag, size) of stored parts, in order; OSError if one failed."""
    results = []
    for part in parts:
        try:
            results.append(part.result())
        except Exception as exc:
            raise _os_error(exc) from exc
    return results


def _done(part: tuple[int, str, int]) -> Future[tuple[int, str, int]]:
    future: Future[tuple[int, str, int]] = Future()
    future.set_result(part)
    return future


def part_size(length: int | None) -> int:
    """`PART_SIZE`, or the whole MiB that lets `length` bytes fit in `MAX_PARTS` parts (with room for the smaller
    parts a request's end cuts). An upload of unknown length gets `PART_SIZE`: it can reach about 40 GiB."""
    if length is None:
        return PART_SIZE
    fitting = math.ceil(length / (MAX_PARTS // 2) / (1 << 20)) << 20
    return max(PART_SIZE, fitting)


def _not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound") or response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404


def _os_error(exc: Exception) -> OSError:
    if isinstance(exc, OSError):
        return exc
    if _not_found(exc):
        return FileNotFoundError(str(exc))
    return OSError(f"S3: {exc}")
