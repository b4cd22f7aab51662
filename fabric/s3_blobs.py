"""Content-addressed blobs in an S3-compatible bucket: `<prefix>blobs/sha256/<ab>/<cd>/<hex>`, stored once.

A blob key holds the bytes, or references the object of a finished S3 upload on the same bucket (an empty object
whose metadata `fabric-object` names it, `fabric-size` its size): completion hands the upload's object over where
it is instead of copying it. A finished upload of another store is sent in with a multipart upload read straight
from its file or store, part by part (no part is read into memory whole); identical content already in the
bucket is not sent again. Downloads stream the bytes with Range, or answer with a short-lived presigned URL.
"""

from __future__ import annotations

import io
import math
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fabric.blobs import BlobStore, valid_sha256
from fabric.s3 import S3Location, is_not_found
from tus_server import CompletedUpload
from tus_server.s3_store import S3UploadStore

PART_SIZE = 64 << 20
MAX_PARTS = 10_000
DOWNLOAD_CHUNK = 1 << 20
REFERENCE = "fabric-object"  # metadata of a blob key that references a finished upload's object instead of a copy
REFERENCED_SIZE = "fabric-size"


class FileSlice(io.RawIOBase):
    """`length` bytes of an open file from `start`, as a seekable file of their own (for one part's body)."""

    def __init__(self, fd: int, start: int, length: int) -> None:
        self._fd, self._start, self._length, self._pos = fd, start, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def __len__(self) -> int:
        return self._length

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, min(self._length, base + offset))
        return self._pos

    def read(self, size: int = -1) -> bytes:
        remaining = self._length - self._pos
        size = remaining if size is None or size < 0 else min(size, remaining)
        data = os.pread(self._fd, size, self._start + self._pos) if size else b""
        self._pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _BlockReader:
    """Reads across an iterator of byte blocks, holding one block at most."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks
        self._block = memoryview(b"")

    def read(self, size: int) -> bytes:
        while not self._block:
            block = next(self._blocks, None)
            if block is None:
                return b""
            self._block = memoryview(block)
        data, self._block = self._block[:size], self._block[size:]
        return bytes(data)


class _Limited(io.RawIOBase):
    """The next `length` bytes of a `_BlockReader`, as one request body."""

    def __init__(self, source: _BlockReader, length: int) -> None:
        self._source, self._left = source, length

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._source.read(size) if size else b""
        self._left -= len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@dataclass(frozen=True, slots=True)
class BlobRange:
    """What a GET of a blob answers: status, headers and the body as chunks."""

    status: int
    headers: dict[str, str]
    body: AsyncIterator[bytes]


class S3BlobStore:
    def __init__(self, location: S3Location, part_size: int = PART_SIZE) -> None:
        self.s3 = location
        self.part_size = part_size
        self._client = location.client()
        self._async: Any = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Holds the event loop's client (downloads) while the app runs."""
        async with self.s3.async_client() as client:
            self._async = client
            await self._ensure_bucket()
            try:
                yield
            finally:
                self._async = None

    async def _ensure_bucket(self) -> None:
        """Create the bucket if it is missing (a fresh deployment); replicas starting together may race: fine."""
        try:
            await self._async.head_bucket(Bucket=self.s3.bucket)
        except Exception as exc:
            if not is_not_found(exc):
                raise
            try:
                await self._async.create_bucket(Bucket=self.s3.bucket)
            except Exception as error:
                code = getattr(error, "response", {}).get("Error", {}).get("Code")
                if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def key(self, sha256: str) -> str:
        if not valid_sha256(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return f"{self.s3.prefix}blobs/sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    @staticmethod
    def location(sha256: str) -> str:
        return BlobStore.location(sha256)

    # ---- the blob store interface (blocking: worker threads) --------------------------------------------

    def ping(self) -> None:
        """Raises unless the bucket answers (readiness)."""
        self._client.head_bucket(Bucket=self.s3.bucket)

    def exists(self, sha256: str) -> bool:
        return self.age_seconds(sha256) is not None

    def age_seconds(self, sha256: str) -> float | None:
        head = self._head(sha256)
        return None if head is None else float(time.time() - head["LastModified"].timestamp())

    def _head(self, sha256: str) -> dict[str, Any] | None:
        """The blob key's HEAD answer, None if there is no such key."""
        try:
            head: dict[str, Any] = self._client.head_object(Bucket=self.s3.bucket, Key=self.key(sha256))
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
        return head

    def ingest(self, source: Path, sha256: str) -> str:
        """Copy a durable, complete file into the bucket under its hash, then remove the file (idempotent)."""
        key = self.key(sha256)
        if self.exists(sha256):
            source.unlink(missing_ok=True)
            return key
        if not source.exists():
            raise FileNotFoundError(f"neither the upload {source} nor the blob {sha256} exists")
        fd = os.open(source, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            if size <= self.part_size:
                self._client.put_object(Bucket=self.s3.bucket, Key=key, Body=FileSlice(fd, 0, size), ContentLength=size)
            else:
                self._multipart(size, key, lambda start, length: FileSlice(fd, start, length))
        finally:
            os.close(fd)
        source.unlink(missing_ok=True)
        return key

    def ingest_upload(self, upload: CompletedUpload, sha256: str) -> str:
        """Take a finished upload into the bucket under its hash (idempotent; the caller holds the sha256's guard).

        From an S3 upload store on the same bucket nothing is copied: the upload's object is handed over where it
        is and the blob key becomes a reference to it (an empty object whose metadata names it). From any other
        store the bytes are streamed in parts of `part_size` read block by block. Content already stored is not
        stored again: the upload's bytes are released.
        """
        key = self.key(sha256)
        store, size = upload.store, upload.info.length or 0
        target = self._target(sha256)
        if isinstance(store, S3UploadStore) and store.bucket == self.s3.bucket:
            own = store.object_key(upload.info.id)
            if target is None:
                metadata = {REFERENCE: own, REFERENCED_SIZE: str(size)}
                self._client.put_object(Bucket=self.s3.bucket, Key=key, Body=b"", Metadata=metadata)
                target = (own, size)
            if target[0] == own:  # ours (a repeat after a crash between these two steps finds it so too)
                store.hand_over(upload.info.id)
                return key
        elif target is None:
            self._stream_in(upload.read(DOWNLOAD_CHUNK), size, key)
        upload.release()
        return key

    def _target(self, sha256: str) -> tuple[str, int] | None:
        """Where the blob's bytes are and their size: the blob key itself, or the object it references; None if
        there is no such blob."""
        head = self._head(sha256)
        return None if head is None else _target_of(self.key(sha256), head)

    async def _target_async(self, sha256: str) -> tuple[str, int]:
        assert self._async is not None, "S3BlobStore used outside running()"
        key = self.key(sha256)
        return _target_of(key, await self._async.head_object(Bucket=self.s3.bucket, Key=key))

    def _stream_in(self, blocks: Iterator[bytes], size: int, key: str) -> None:
        source = _BlockReader(blocks)
        if size <= self.part_size:
            self._client.put_object(Bucket=self.s3.bucket, Key=key, Body=_Limited(source, size), ContentLength=size)
            return
        self._multipart(size, key, lambda start, length: _Limited(source, length))

    def _multipart(self, size: int, key: str, part: Callable[[int, int], Any]) -> None:
        """One multipart upload of `size` bytes at `key`, the body of each part `part(start, length)`, read as
        it is sent. If anything fails the upload is aborted, and the first error raised (an abort that fails
        too leaves the parts to the bucket's lifecycle rules)."""
        part_size = max(self.part_size, math.ceil(size / MAX_PARTS))
        bucket = self.s3.bucket
        upload_id = self._client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, size, part_size), start=1):
                length = min(part_size, size - start)
                answer = self._client.upload_part(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=part(start, length),
                    ContentLength=length,
                )
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            self._client.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            with suppress(Exception):
                self._client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise

    def delete(self, sha256: str) -> None:
        """The blob key first, then the object it references: a crash between the two leaves an unreferenced
        object (space), never a reference to nothing."""
        target = self._target(sha256)
        self._client.delete_object(Bucket=self.s3.bucket, Key=self.key(sha256))
        if target is not None and target[0] != self.key(sha256):
            self._client.delete_object(Bucket=self.s3.bucket, Key=target[0])

    def hashes(self) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.s3.bucket, Prefix=f"{self.s3.prefix}blobs/sha256/"):
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                if valid_sha256(name):
                    yield name

    # ---- downloads (the event loop) -------------------------------------------------------------------

    async def get(self, sha256: str, byte_range: str | None) -> BlobRange:
        """Stream the blob, or the one byte range asked for (`bytes=a-b`, `bytes=a-`, `bytes=-n`)."""
        assert self._async is not None, "S3BlobStore used outside running()"
        key, _ = await self._target_async(sha256)
        params: dict[str, Any] = {"Bucket": self.s3.bucket, "Key": key}
        if byte_range:
            params["Range"] = byte_range
        answer = await self._async.get_object(**params)
        headers = {"Content-Length": str(answer["ContentLength"]), "Accept-Ranges": "bytes"}
        status = 200
        if answer.get("ContentRange"):
            status = 206
            headers["Content-Range"] = answer["ContentRange"]

        async def chunks() -> AsyncIterator[bytes]:
            body = answer["Body"]
            try:
                async for chunk in body.iter_chunks(DOWNLOAD_CHUNK):
                    yield chunk
            finally:
                body.close()

        return BlobRange(status, headers, chunks())

    async def size(self, sha256: str) -> int:
        _, size = await self._target_async(sha256)
        return size

    async def presigned_url(self, sha256: str, *, content_type: str, disposition: str, expires: int) -> str:
        key, _ = await self._target_async(sha256)
        url: str = await self._async.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.s3.bucket,
                "Key": key,
                "ResponseContentType": content_type,
                "ResponseContentDisposition": disposition,
            },
            ExpiresIn=expires,
        )
        return url


def _target_of(key: str, head: dict[str, Any]) -> tuple[str, int]:
    metadata = head.get("Metadata") or {}
    if REFERENCE in metadata:
        return str(metadata[REFERENCE]), int(metadata.get(REFERENCED_SIZE, 0))
    return key, int(head["ContentLength"])
