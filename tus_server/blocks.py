"""Page-aligned blocks a request body is read into straight from the socket, then hashed and written from.

An HTTP server may offer `BODY_INTO`, an ASGI scope extension beside `receive`: an async callable that fills
`block.view` with the body's next bytes, calling `block.received(count)` as they arrive, and returns once the block is
full (True: more may follow), or the body ended or the client went away (False; `receive()` then tells which).
A cancelled call stops filling the block and leaves `filled` exact. Only an app that calls it gets its body this
way; `receive` is unchanged. The server reads the socket straight into the block, without the copies of a parser (`bytes` of every read) and of an `O_DIRECT` write
(into an aligned buffer). A block is an anonymous mapping, so it starts on a page boundary; its first `head`
bytes are left free for the bytes of the file's last partial 4 KiB block (the tail), so that a write from the
block starts on a file block boundary and needs no copy (`direct_writes.DirectAppender.write_block`).

Fresh mappings fault in every page on first touch, so blocks come from a pool that keeps the blocks given
back, and gives their memory back to the system only once no upload has used one for `IDLE_RELEASE` seconds.
The pool does not bound the blocks in use: a block is taken only with budget for its size (`BufferBudget`), which
comes back when the block is written and hashed, and then the block returns to the pool; the pool keeps no more
than `keep` bytes of returned blocks (the budget's limit), whatever mix of sizes came back, and before it maps a
new block it drops kept ones (of other sizes) while blocks in use and kept would pass `keep` together. The pages
of a block given back and not kept go back to the system at once (`forget_pages`).
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import threading
import time
from typing import Any

BODY_INTO = "datafabric.body_into"  # the scope extension: `await scope["extensions"][BODY_INTO](block) -> bool`
IDLE_RELEASE = 5.0  # seconds without a block in use after which the pool unmaps what it keeps


class Block:
    """`memory[head : head + filled]` holds body bytes; `view` is the room a server fills (it advances
    `filled` as it places bytes, so after a cancellation `filled` still tells what arrived)."""

    __slots__ = ("digest", "filled", "head", "memory", "pool")

    def __init__(self, memory: memoryview, pool: BlockPool | None) -> None:
        self.memory = memory
        self.head = 0
        self.filled = 0
        self.digest: Any = None  # fed each read's bytes as they arrive, while the read left them in the cache
        self.pool = pool

    @property
    def size(self) -> int:
        return len(self.memory)

    @property
    def view(self) -> memoryview:
        """The room for body bytes (after the head)."""
        return self.memory[self.head :]

    @property
    def body(self) -> memoryview:
        """The body bytes placed so far."""
        return self.memory[self.head : self.head + self.filled]

    def received(self, count: int) -> None:
        """The server placed `count` more body bytes after those `filled` (on the event loop's thread)."""
        if self.digest is not None:
            start = self.head + self.filled
            self.digest.update(self.memory[start : start + count])
        self.filled += count

    def __len__(self) -> int:
        return self.filled


class BlockPool:
    """Blocks of a few sizes, kept for reuse once given back (see the module's docstring)."""

    def __init__(self, idle_release: float = IDLE_RELEASE, keep: int | None = None) -> None:
        self._free: dict[int, list[memoryview]] = {}
        self._keep = keep  # bytes of blocks kept for reuse at most (blocks of several sizes come and go)
        self._lock = threading.Lock()
        self.in_use = 0
        self.in_use_bytes = 0
        self.kept = 0  # bytes of blocks kept for reuse
        self._last_used = time.monotonic()
        self._idle_release = idle_release
        self._release_timer: asyncio.TimerHandle | None = None

    def take(self, size: int, head: int) -> Block:
        """A block of `size` bytes whose body starts at `head` (0 <= head < size)."""
        with self._lock:
            free = self._free.get(size)
            memory = free.pop() if free else None
            if memory is not None:
                self.kept -= size
            elif self._keep is not None:
                self._make_room(size)
            self.in_use += 1
            self.in_use_bytes += size
        if memory is None:
            memory = memoryview(mmap.mmap(-1, size))
        block = Block(memory, self)
        block.head = head
        return block

    def give(self, block: Block) -> None:
        """Take a block back (any thread): it is no longer read nor written."""
        with self._lock:
            kept = self._keep is None or self.kept + block.size <= self._keep
            if kept:
                self._free.setdefault(block.size, []).append(block.memory)
                self.kept += block.size
            self.in_use -= 1
            self.in_use_bytes -= block.size
            self._last_used = time.monotonic()
        block.pool = None
        if not kept:
            forget_pages(block.memory)

    def _make_room(self, size: int) -> None:
        """Before a new block is mapped (under the lock): drop kept blocks of other sizes while the blocks in use,
        those kept and the new one would pass `keep` together. Only the pool refers to a kept block, so dropping
        it unmaps it at once; without this, kept blocks of one size stayed mapped beside a budget's worth of
        blocks of another size in use."""
        assert self._keep is not None
        excess = self.in_use_bytes + self.kept + size - self._keep
        for kept_size in sorted(self._free, reverse=True):
            blocks = self._free[kept_size]
            while excess > 0 and blocks:
                blocks.pop()
                self.kept -= kept_size
                excess -= kept_size
        self._free = {kept_size: blocks for kept_size, blocks in self._free.items() if blocks}

    def release_later(self) -> None:
        """From the event loop, after a request: unmap the kept blocks once the pool has stayed idle."""
        loop = asyncio.get_running_loop()
        if self._release_timer is not None:
            self._release_timer.cancel()
        self._release_timer = loop.call_later(self._idle_release, self._release_if_idle)

    def _release_if_idle(self) -> None:
        """Drop the kept blocks (each mapping is unmapped once no view of it is left)."""
        self._release_timer = None
        with self._lock:
            busy = self.in_use > 0 or time.monotonic() - self._last_used < self._idle_release
            if not busy:
                self._free, self.kept = {}, 0
        if busy and self.kept:
            self.release_later()


def forget_pages(memory: memoryview) -> None:
    """Hand the pages of a block not kept back to the system now (reading them gives zeros since).

    A block not kept is unmapped only once the last view of it goes, and a request's frames, an executor's work
    item or a future's callbacks may hold one a while after the block was given back: sampled every 3 ms during
    a round of `bench/memory.py` at 64 uploads at once, up to 80 MiB of blocks under a 64 MiB budget, 64 to 66
    MiB with this. `MADV_REMOVE` frees the pages of a shared mapping (which `mmap(-1, size)` is) at once; the
    mapping stays valid."""
    mapping = memory.obj
    if isinstance(mapping, mmap.mmap) and hasattr(mmap, "MADV_REMOVE"):
        with contextlib.suppress(OSError, ValueError):  # not supported there, or already closed
            mapping.madvise(mmap.MADV_REMOVE)
