"""The sha256 and md5 of a whole upload, kept up to date as bytes arrive.

Each digest runs in its own serial lane and may lag receiving by a few blocks, across requests too: a PATCH
is answered once its bytes are durable, not once they are hashed. Completion waits for the digests to settle.
hashlib objects cannot be persisted, so after a restart (or when an upload's state was evicted) the digests
are rebuilt once by reading the bytes already on disk.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from typing import Any

from tus_server.lanes import SerialLane, wait

MAX_BLOCKS_BEHIND = 8  # per digest: bounds the memory an upload's lagging digests hold


class UploadDigests:
    def __init__(self, offset: int = 0, sha256: Any = None, md5: Any = None, *, with_md5: bool = True) -> None:
        self.offset = offset  # bytes fed so far
        self.sha256 = sha256 or hashlib.sha256()
        self.md5 = md5 or (hashlib.md5() if with_md5 else None)  # md5 costs more CPU than sha256: it can be off
        self._sha256_lane = SerialLane()
        self._md5_lane = SerialLane()
        self._pending: deque[Future[None]] = deque()

    def submit(self, parts: Sequence[bytes | memoryview]) -> list[Future[None]]:
        """Queue a block (a list of byte strings, in order) for both digests; returns the futures hashing it.
        Follow it with `keep_up()`."""
        self.offset += sum(len(part) for part in parts)
        queued = [self._sha256_lane.submit(_update_all, self.sha256, parts)]
        if self.md5 is not None:
            queued.append(self._md5_lane.submit(_update_all, self.md5, parts))
        self._pending.extend(queued)
        return queued

    def hashed(self, count: int) -> None:
        """`count` more bytes were fed to `sha256` directly (md5 off, nothing queued: after `settle`)."""
        self.offset += count

    def update_now(self, parts: list[bytes]) -> None:
        """Feed a block in the calling thread (blocking), for a small body where a lane hop costs more than the
        hashing; only when nothing is queued (after `settle`)."""
        assert not self._pending, "update_now on digests with blocks still queued"
        self.offset += sum(len(part) for part in parts)
        _update_all(self.sha256, parts)
        if self.md5 is not None:
            _update_all(self.md5, parts)

    async def keep_up(self) -> None:
        """Wait while the digests lag more than `MAX_BLOCKS_BEHIND` blocks behind."""
        while len(self._pending) > 2 * MAX_BLOCKS_BEHIND:
            await wait(self._pending[0])
            self._pending.popleft()

    async def settle(self) -> None:
        """Wait until every fed block is hashed."""
        while self._pending:
            await wait(self._pending[0])
            self._pending.popleft()

    async def snapshot(self) -> UploadDigests:
        await self.settle()
        return UploadDigests(
            self.offset, self.sha256.copy(), self.md5.copy() if self.md5 else None, with_md5=self.md5 is not None
        )

    async def hexdigests(self) -> tuple[str, str | None]:
        await self.settle()
        return self.sha256.hexdigest(), self.md5.hexdigest() if self.md5 else None

    @classmethod
    def of_blocks(cls, blocks: Iterable[bytes], with_md5: bool = True) -> UploadDigests:
        """Digests of bytes read back from the store (blocking: run it in a worker thread)."""
        sha256, md5 = hashlib.sha256(), (hashlib.md5() if with_md5 else None)
        length = 0
        for block in blocks:
            sha256.update(block)
            if md5 is not None:
                md5.update(block)
            length += len(block)
        return cls(length, sha256, md5, with_md5=with_md5)


def _update_all(digest: Any, parts: Sequence[bytes | memoryview]) -> None:
    for part in parts:
        digest.update(part)


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
