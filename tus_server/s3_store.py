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

import io
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import orjson

from tus_server.info import UploadInfo
from tus_server.upload_store import PartialWrite, UnreadableUntilFinished, is_valid_upload_id

MIN_PART = 5 << 20  # S3's smallest part but the last


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
        with self._guard:
            pending = self._pending.get(info.id, {})
            stale = [offset for offset in pending if offset < info.offset]
            superseded = {s.tail_key for o, s in pending.items() if o < info.offset and s.tail_key}
            for offset in stale:
                del pending[offset]
        for key in superseded - {state.tail_key}:
            self._call("delete_object", Key=key)

    def writer(self, upload_id: str, offset: int) -> S3UploadWriter:
        state = self._state(upload_id)
        if state.finished:
            raise OSError(f"upload {upload_id} is finished")
        if state.size != offset:
            raise OSError(f"upload {upload_id} holds {state.size} bytes, not {offset}")
        with self._guard:
            self._pending.setdefault(upload_id, {})[offset] = state.copy()
        return S3UploadWriter(self, upload_id, offset, state)

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
        state = self._state(upload_id)
        if not state.finished:
            raise UnreadableUntilFinished(f"upload {upload_id} is not finished: its parts cannot be read back")
        if length == 0:
            return
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
        """Nothing to cut back: unreferenced parts and tails are never read. The infos of all uploads."""
        return [info for info in (self.load(upload_id) for upload_id in list(self.ids())) if info is not None]

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
        with self._guard:
            self._pending.pop(upload_id, None)

    def declare_length(self, info: UploadInfo, length: int) -> None:
        info.length = length
        self.save(info)

    def object_key(self, upload_id: str) -> str:
        """Where a finished upload's whole object is (for a server-side copy into blob storage)."""
        return self.key(upload_id)


class S3UploadWriter:
    """Appends one request's bytes; each write is durable when it returns (a part or a new tail object)."""

    def __init__(self, store: S3UploadStore, upload_id: str, offset: int, state: S3UploadState) -> None:
        self._store = store
        self._id = upload_id
        self._offset = offset
        self._state = state

    def write(self, parts: Sequence[bytes]) -> int:
        """All of `parts` or none: a failure is `PartialWrite(0, cause)`, so no later block lands after a gap."""
        try:
            return self._write(parts)
        except OSError as exc:
            raise PartialWrite(0, exc) from exc

    def _write(self, parts: Sequence[bytes]) -> int:
        size = sum(len(part) for part in parts)
        if not size:
            return 0
        store, state = self._store, self._state.copy()
        total = state.tail_size + size
        sources: list[Any] = []
        if state.tail_key is not None:
            sources.append(store._call("get_object", Key=state.tail_key)["Body"])
        sources.extend(parts)
        if total >= MIN_PART:
            if state.multipart is None:
                state.multipart = store._call("create_multipart_upload", Key=store.key(self._id))["UploadId"]
            number = len(state.parts) + 1
            answer = store._call(
                "upload_part",
                Key=store.key(self._id),
                UploadId=state.multipart,
                PartNumber=number,
                Body=_Chain(sources),
                ContentLength=total,
            )
            state.parts.append((number, answer["ETag"], total))
            state.tail_key, state.tail_size = None, 0
        else:
            tail_key = store.key(self._id, f".tail.{self._offset + size}")
            store._call("put_object", Key=tail_key, Body=_Chain(sources), ContentLength=total)
            state.tail_key, state.tail_size = tail_key, total
        self._offset += size
        self._state = state
        with store._guard:
            store._pending.setdefault(self._id, {})[self._offset] = state.copy()
        return size

    def sync(self) -> None:
        """Every write is already durable."""

    def truncate(self, size: int) -> None:
        with self._store._guard:
            state = self._store._pending.get(self._id, {}).get(size)
        if state is None:
            raise OSError(f"upload {self._id} cannot be cut back to {size} bytes (not a write boundary)")
        self._state, self._offset = state.copy(), size

    def close(self) -> None:
        pass


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
