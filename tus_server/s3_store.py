"""Uploads in an S3-compatible bucket, readable by every replica: tusd's s3store layout, without temp files.

For an upload `<id>` under the key prefix:
- `<id>.info` holds the `UploadInfo` and the store's state: the S3 multipart upload, its parts, and the tail.
- the bytes are the multipart upload's parts (each at least `MIN_PART` bytes, S3's minimum) followed by a
  tail object `<id>.tail.<end offset>` with the bytes that do not make a part yet.
- once finished, `<id>` is the whole object (the tail becomes the last part, which may be small).

Every `write` is durable when it returns, so `sync` has nothing left to do. A write of W bytes onto a tail of T
bytes either becomes a part (T + W >= MIN_PART: the tail is streamed back from S3 ahead of the new bytes) or a
new, longer tail object (streamed the same way). Nothing is buffered beyond the block the server hands over and
nothing touches a local disk; the cost is that tail bytes cross the network again (at most once per part).

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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import orjson

from tus_server.info import UploadInfo
from tus_server.upload_store import PartialWrite, UnreadableUntilFinished, is_valid_upload_id

MIN_PART = 5 << 20  # S3's smallest part but the last
MAX_PARTS = 10_000  # S3's most parts in one multipart upload
MAX_COPY_PART = 5 << 30  # S3's largest part copied server-side
PART_SIZE = 8 << 20  # the preferred part: large uploads get larger ones so that they fit in MAX_PARTS
PARTS_IN_FLIGHT = 4  # parts one request uploads at once (each holds its bytes in memory until stored)
POOL_THREADS = 16  # threads uploading parts, and the most parts in memory on their way, for all requests together


@dataclass(slots=True)
class S3UploadState:
    multipart: str | None = None  # the S3 multipart upload id
    parts: list[tuple[int, str, int]] = field(default_factory=list)  # (number, ETag, size)
    tail_key: str | None = None
    tail_size: int = 0
    finished: bool = False  # `<id>` is the whole object
    released: bool = False  # the whole object was handed over and dropped

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

    def __init__(self, client: Any, bucket: str, prefix: str = "", *, parts_in_flight: int = POOL_THREADS) -> None:
        self.client = client  # a botocore S3 client (thread-safe)
        self.bucket = bucket
        self.prefix = f"{prefix}uploads/"
        self._pending: dict[str, dict[int, S3UploadState]] = {}  # states by end offset, written but not saved
        self._guard = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=parts_in_flight, thread_name_prefix="s3-parts")
        self._slots = threading.Semaphore(parts_in_flight)  # no part waits in the pool's queue holding its bytes

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
                answer = self._call(
                    "upload_part",
                    Key=key,
                    UploadId=state.multipart,
                    PartNumber=number,
                    Body=_Chain([tail]),
                    ContentLength=state.tail_size,
                )
                state.parts.append((number, answer["ETag"], state.tail_size))
            parts = [{"PartNumber": number, "ETag": etag} for number, etag, _ in state.parts]
            self._call("complete_multipart_upload", Key=key, UploadId=state.multipart, MultipartUpload={"Parts": parts})
        old_tail = state.tail_key
        state.finished, state.tail_key, state.tail_size = True, None, 0
        self._store(info, state)
        if old_tail is not None:
            self._call("delete_object", Key=old_tail)
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
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.key(upload_id)):
            for item in page.get("Contents", []):
                self._call("delete_object", Key=item["Key"])
        self._call("delete_object", Key=self._completing_key(upload_id))
        with self._guard:
            self._pending.pop(upload_id, None)

    def concatenate(self, final: UploadInfo, parts: Sequence[UploadInfo]) -> None:
        """Fill `final` with the finished objects of `parts`: server-side part copies (UploadPartCopy) for whatever
        makes parts of at least S3's minimum, the small rest read into the part being gathered."""
        writer = self.writer(final.id, 0)
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


class S3UploadWriter:
    """Appends one request's bytes as concurrent part uploads; `sync` makes them durable.

    `write` gathers the request's blocks into a part of `part_size` bytes and hands each full part to the store's
    pool, up to `PARTS_IN_FLIGHT` at a time per request and `POOL_THREADS` for all requests (`write` waits for a
    slot): a request holds at most `PARTS_IN_FLIGHT + 1` parts, the store at most `POOL_THREADS` parts on their way
    plus one gathering part per request. `sync` cuts what is gathered into a last part if it is at least S3's
    minimum, else writes it as a tail object, and returns once every part is stored. `checkpoint` is the cheap
    sync of a long request: it waits only for the parts already handed over and records their end.
    """

    def __init__(self, store: S3UploadStore, upload_id: str, offset: int, state: S3UploadState, part_size: int) -> None:
        self._store = store
        self._id = upload_id
        self._part_size = part_size
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(PARTS_IN_FLIGHT)
        self._multipart_lock = threading.Lock()
        self._reset(state, offset)

    def _reset(self, state: S3UploadState, offset: int) -> None:
        self._base = state.copy()
        self._parts: list[Future[tuple[int, str, int]]] = [_done(part) for part in state.parts]
        self._buffer: list[bytes] = []  # the bytes past the parts handed over, in order
        self._buffered = 0
        self._offset = offset  # the end of every byte written
        self._cut_end = offset - state.tail_size  # the end of the parts handed over
        self._unloaded_tail = state.tail_key  # the recorded tail, not read back into `_buffer` yet
        self._tail_at: tuple[int, str] | None = (offset, state.tail_key) if state.tail_key else None
        self._error: OSError | None = None

    # ---- writing ---------------------------------------------------------------------------------------

    def write(self, parts: Sequence[bytes]) -> int:
        """Takes all of `parts` or none: after a failed part it raises `PartialWrite(0, cause)`."""
        try:
            if self._error is not None:
                raise self._error
            self._load_tail()
            size = sum(len(part) for part in parts)
            with self._lock:
                self._buffer.extend(part for part in parts if part)
                self._buffered += size
                self._offset += size
            while self._buffered >= self._part_size:
                self._cut(self._part_size)
            return size
        except OSError as exc:
            raise PartialWrite(0, exc) from exc

    def append_object(self, key: str, size: int) -> None:
        """Append the first `size` bytes of the object `key` of the same bucket: a server-side part copy where the
        bytes can make whole parts of their own, else read into the part being gathered (a few MiB at most)."""
        position = 0
        while position < size:
            left = size - position
            if not self._buffer and self._unloaded_tail is None and left >= MIN_PART:
                count = min(left, MAX_COPY_PART)
                source = {"Bucket": self._store.bucket, "Key": key}
                span = f"bytes={position}-{position + count - 1}"
                self._dispatch(count, functools.partial(self._copy_part, source=source, span=span))
            elif self._buffered >= MIN_PART and left >= MIN_PART:
                self._cut(MIN_PART)  # a part of its own, so that the rest can be copied
                continue
            else:
                self._load_tail()
                need = MIN_PART - self._buffered  # the least that makes a part of what is gathered
                if need > 0 and left - need >= MIN_PART:
                    count = need  # then copy the rest
                else:
                    count = min(left, max(self._part_size - self._buffered, 1))
                self._gather(key, position, count)
            position += count

    def _gather(self, key: str, position: int, count: int) -> None:
        """Read `count` bytes of `key` from `position` into the part being gathered (at most a part)."""
        span = f"bytes={position}-{position + count - 1}"
        data = self._store._call("get_object", Key=key, Range=span)["Body"].read()
        if len(data) != count:
            raise OSError(f"S3: {key} is shorter than expected")
        self.write([data])

    def _load_tail(self) -> None:
        if self._unloaded_tail is None:
            return
        data = self._store._call("get_object", Key=self._unloaded_tail)["Body"].read()
        with self._lock:
            self._buffer.insert(0, data)
            self._buffered += len(data)
            self._unloaded_tail = None

    def _cut(self, at_least: int) -> None:
        """Hand what is gathered to the pool as the next part if it holds `at_least` bytes."""
        chunks: list[bytes] = []

        def take() -> int | None:
            if self._buffered < at_least or not self._buffered:
                return None
            chunks.extend(self._buffer)
            size, self._buffer, self._buffered = self._buffered, [], 0
            return size

        self._dispatch(take, lambda upload, number: self._upload_part(upload, number, chunks))

    def _dispatch(
        self, size_or_take: int | Callable[[], int | None], send: Callable[[str, int], tuple[str, int]]
    ) -> None:
        """Start the next part in the pool once a slot is free; `send(upload id, number)` gives (ETag, size)."""
        upload = self._multipart()
        self._slots.acquire()  # this request's slot first, then the store's: parts in flight never wait for slots
        self._store._slots.acquire()
        try:
            with self._lock:
                if callable(size_or_take):
                    size = size_or_take()
                    if size is None:
                        self._release_slots()
                        return
                else:
                    size = size_or_take
                    self._offset += size
                self._cut_end += size
                number = len(self._parts) + 1
                if number > MAX_PARTS:
                    raise OSError(f"upload {self._id} would need more than {MAX_PARTS} parts")
                self._parts.append(self._store._pool.submit(self._run_part, send, upload, number))
        except BaseException:
            self._release_slots()
            raise

    def _release_slots(self) -> None:
        self._store._slots.release()
        self._slots.release()

    def _run_part(self, send: Callable[[str, int], tuple[str, int]], upload: str, number: int) -> tuple[int, str, int]:
        try:
            etag, size = send(upload, number)
            return number, etag, size
        except Exception as exc:
            self._error = self._error or _os_error(exc)
            raise
        finally:
            self._release_slots()

    def _upload_part(self, upload: str, number: int, chunks: list[bytes]) -> tuple[str, int]:
        body = b"".join(chunks)  # one buffer the client can resend on a retry; the chunks go at once
        chunks.clear()
        answer = self._store._call(
            "upload_part", Key=self._store.key(self._id), UploadId=upload, PartNumber=number, Body=body
        )
        return str(answer["ETag"]), len(body)

    def _copy_part(self, upload: str, number: int, source: dict[str, str], span: str) -> tuple[str, int]:
        answer = self._store._call(
            "upload_part_copy",
            Key=self._store.key(self._id),
            UploadId=upload,
            PartNumber=number,
            CopySource=source,
            CopySourceRange=span,
        )
        first, last = span[len("bytes=") :].split("-")
        return str(answer["CopyPartResult"]["ETag"]), int(last) - int(first) + 1

    def _multipart(self) -> str:
        with self._multipart_lock:
            if self._base.multipart is None:
                answer = self._store._call("create_multipart_upload", Key=self._store.key(self._id))
                self._base.multipart = str(answer["UploadId"])
            return self._base.multipart

    # ---- durability ------------------------------------------------------------------------------------

    def sync(self) -> None:
        """Every byte written so far is stored when it returns (parts, and a tail object below S3's minimum)."""
        if self._error is not None:
            raise self._error
        if self._unloaded_tail is not None and not self._buffer:
            self._record(self._offset, self._base)  # nothing written since the recorded state
            return
        self._load_tail()
        self._cut(MIN_PART)
        with self._lock:
            parts, chunks, size, end = list(self._parts), list(self._buffer), self._buffered, self._offset
        state = replace(self._base, parts=_results(parts), tail_key=None, tail_size=0)
        if size:
            if self._tail_at is None or self._tail_at[0] != end:
                key = self._store.key(self._id, f".tail.{end}")
                self._store._call("put_object", Key=key, Body=b"".join(chunks))
                self._tail_at = (end, key)
            state.tail_key, state.tail_size = self._tail_at[1], size
        self._record(end, state)

    def checkpoint(self) -> int:
        """Wait only for the parts handed over so far and record their end: a durable offset, no tail object.
        It may be below the offset the writer was opened at (a recorded tail not yet in a part)."""
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
        """Wait for every part in flight, whatever its outcome (none is left running behind a new state)."""
        with self._lock:
            parts = list(self._parts)
        for part in parts:
            try:
                part.result()
            except Exception:
                pass


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
