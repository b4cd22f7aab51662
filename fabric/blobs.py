"""Content-addressed blob storage: finished uploads, stored once per distinct sha256, never modified."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

from tus_server import CompletedUpload, DataMover, syncfs
from tus_server.file_store import fsync_directory

_SHA256 = re.compile(r"[0-9a-f]{64}")


def valid_sha256(text: str) -> bool:
    return bool(_SHA256.fullmatch(text))


class BlobStorage(Protocol):
    """What the server needs of blob storage: `BlobStore` (files, the default) and `s3_blobs.S3BlobStore`.
    Every method blocks (run it in a worker thread)."""

    def exists(self, sha256: str) -> bool: ...
    def ingest_upload(self, upload: CompletedUpload, sha256: str) -> object: ...
    def delete(self, sha256: str) -> None: ...
    def hashes(self) -> Iterator[str]: ...
    def age_seconds(self, sha256: str) -> float | None: ...
    @staticmethod
    def location(sha256: str) -> str: ...


@runtime_checkable
class BatchIngest(Protocol):
    """Blob storage that takes a batch of uploads in with one sync (`BlobStore` where `syncfs` exists)."""

    def can_ingest_many(self) -> bool: ...
    def ingest_uploads(self, uploads: Sequence[tuple[CompletedUpload, str]]) -> IngestedUploads: ...


class IngestedUploads(NamedTuple):
    """What each upload of a batch failed with (or None), and how many found their bytes stored already."""

    outcomes: list[OSError | None]
    deduplicated: int


class ShardDirectories:
    """The two levels of shard directories (`<ab>/<cd>`) under a root, each made durable in its parent once.

    A blob is renamed into its shard and the shard fsync'ed, which makes the blob's name durable, but not the
    shard's own name in its parent: a crash can take a just-made shard, and every blob in it, with it (POSIX
    asks for the parent's fsync; ext4 without a journal does lose it). So a shard this process has not seen
    durable yet is created if missing and its parent fsync'ed, then remembered in a bitmap (65,536 + 256 bits),
    so each shard costs one fsync per process, whichever thread or process made it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen = bytearray((65536 + 256) // 8)
        self._lock = threading.Lock()

    def ensure(self, sha256: str, *, sync: bool = True) -> Path:
        """The shard directory of `sha256`, there and durable in its parent (blocking). With `sync=False` the
        caller makes it durable (a `syncfs` of the filesystem), and calls `forget` if that fails."""
        outer = int(sha256[:2], 16)
        inner = 256 + int(sha256[:4], 16)
        for bit, path in ((outer, self.root / sha256[:2]), (inner, self.root / sha256[:2] / sha256[2:4])):
            if self._seen[bit >> 3] & (1 << (bit & 7)):
                continue
            path.mkdir(exist_ok=True)
            if sync:
                fsync_directory(path.parent)  # also when another thread or process made it: it may not have yet
            with self._lock:
                self._seen[bit >> 3] |= 1 << (bit & 7)
        return self.root / sha256[:2] / sha256[2:4]

    def forget(self) -> None:
        """Take no shard for durable any more (a sync that was to make some durable failed)."""
        with self._lock:
            self._seen[:] = bytes(len(self._seen))


class BlobStore:
    """Blobs at `<root>/sha256/<ab>/<cd>/<hex>`; `location(hex)` is how aspects name them."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "sha256").mkdir(parents=True, exist_ok=True)
        self.shards = ShardDirectories(self.root / "sha256")

    def path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / "sha256" / sha256[:2] / sha256[2:4] / sha256

    @staticmethod
    def location(sha256: str) -> str:
        return f"blob:sha256:{sha256}"

    @staticmethod
    def hash_of_location(location: str) -> str | None:
        prefix = "blob:sha256:"
        return location[len(prefix) :] if location.startswith(prefix) else None

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def age_seconds(self, sha256: str) -> float | None:
        """Seconds since the blob was stored; None if it is not there."""
        try:
            return time.time() - self.path(sha256).stat().st_ctime
        except FileNotFoundError:
            return None

    def ingest(self, source: Path, sha256: str) -> Path:
        """Move a durable, complete local file into the store under its hash (blocking; idempotent).

        Identical bytes are stored once: if the blob is already there the source is dropped. A source that is
        already gone (a repeat after a crash) is fine as long as the blob exists.
        """
        target = self.path(sha256)
        if target.exists():
            source.unlink(missing_ok=True)
            return target
        if not source.exists():
            raise FileNotFoundError(f"neither the file {source} nor the blob {sha256} exists")
        self.shards.ensure(sha256)
        os.chmod(source, 0o440)
        os.replace(source, target)
        fsync_directory(target.parent)
        return target

    def ingest_upload(self, upload: CompletedUpload, sha256: str) -> Path:
        """Take a durable, complete upload into the store under its hash (blocking; idempotent).

        The bytes come through the upload store's interface: a store that can move them to a local file does
        (a file store on the same filesystem renames), any other is read and copied. Identical bytes are stored
        once: if the blob is already there the upload's bytes are released. An upload whose bytes are already
        gone (a repeat after a crash) is fine as long as the blob exists.
        """
        self._take(upload, sha256, sync=True)
        return self.path(sha256)

    def _take(self, upload: CompletedUpload, sha256: str, *, sync: bool) -> bool:
        """Whether the bytes were stored already (the upload's released)."""
        target = self.path(sha256)
        if target.exists():
            upload.release()
            return True
        self.shards.ensure(sha256, sync=sync)
        store = upload.store
        try:
            if isinstance(store, DataMover):
                store.move_data(upload.info.id, target, sync=sync)
            else:
                self._copy_in(upload, target)
                upload.release()
        except FileNotFoundError:
            raise FileNotFoundError(f"neither the upload {upload.info.id} nor the blob {sha256} exists") from None
        return False

    def can_ingest_many(self) -> bool:
        """Whether `ingest_uploads` makes a batch durable with one sync here."""
        return syncfs.available()

    def ingest_uploads(self, uploads: Sequence[tuple[CompletedUpload, str]]) -> IngestedUploads:
        """`ingest_upload` of each (upload, sha256), made durable together: every rename (and new shard), then one
        `syncfs` of the store's filesystem. What each failed with, or None; if the sync fails, all fail with it
        (a failed upload's bytes are either still the upload's or already the blob's, as after a crash)."""
        outcomes: list[OSError | None] = []
        deduplicated = 0
        for upload, sha256 in uploads:
            try:
                deduplicated += self._take(upload, sha256, sync=False)
                outcomes.append(None)
            except OSError as exc:
                outcomes.append(exc)
        if any(outcome is None for outcome in outcomes):
            try:
                syncfs.syncfs(self.root)
            except OSError as exc:
                self.shards.forget()
                outcomes = [outcome or exc for outcome in outcomes]
        return IngestedUploads(outcomes, deduplicated)

    @staticmethod
    def _copy_in(upload: CompletedUpload, target: Path) -> None:
        """Stream the upload's bytes into `target` durably: a temporary file beside it, fsync, rename."""
        tmp = target.with_name(f"{target.name}.{upload.info.id}.tmp")
        try:
            with open(tmp, "wb", buffering=0) as out:
                for block in upload.read():
                    out.write(block)
                os.fsync(out.fileno())
            os.chmod(tmp, 0o440)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        fsync_directory(target.parent)

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def hashes(self) -> Iterator[str]:
        for path in (self.root / "sha256").glob("*/*/*"):
            if _SHA256.fullmatch(path.name):
                yield path.name
