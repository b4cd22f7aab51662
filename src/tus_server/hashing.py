"""The sha256 and md5 of a whole upload, kept up to date as bytes arrive.

hashlib objects cannot be persisted, so after a restart (or when an upload's state was evicted) the digests
are rebuilt once by reading the bytes already on disk.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

READ_BLOCK = 8 << 20


@dataclass(slots=True)
class UploadDigests:
    offset: int
    sha256: Any
    md5: Any

    @classmethod
    def empty(cls) -> "UploadDigests":
        return cls(0, hashlib.sha256(), hashlib.md5())

    def copy(self) -> "UploadDigests":
        return UploadDigests(self.offset, self.sha256.copy(), self.md5.copy())

    @classmethod
    def of_file_prefix(cls, path: Path, length: int) -> "UploadDigests":
        """Digests of the first `length` bytes of a file (blocking: run it in a worker thread)."""
        digests = cls.empty()
        with open(path, "rb", buffering=0) as f:
            remaining = length
            while remaining:
                block = f.read(min(READ_BLOCK, remaining))
                if not block:
                    raise OSError(f"{path} is shorter than {length} bytes")
                digests.sha256.update(block)
                digests.md5.update(block)
                remaining -= len(block)
        digests.offset = length
        return digests


class DigestCache:
    """The running digests of recently active uploads, least recently used evicted first."""

    def __init__(self, capacity: int = 1024) -> None:
        self._entries: OrderedDict[str, UploadDigests] = OrderedDict()
        self.capacity = capacity

    def take(self, upload_id: str, offset: int) -> UploadDigests | None:
        """The digests of the upload if they cover exactly `offset` bytes."""
        entry = self._entries.pop(upload_id, None)
        return entry if entry is not None and entry.offset == offset else None

    def put(self, upload_id: str, digests: UploadDigests) -> None:
        self._entries[upload_id] = digests
        self._entries.move_to_end(upload_id)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def discard(self, upload_id: str) -> None:
        self._entries.pop(upload_id, None)
