"""One budget for the upload bytes a server holds in memory, shared by every request.

A request takes budget for each chunk it receives and the budget comes back once the block holding the chunk is
written and hashed (in worker threads; see `receiver`). When the budget is spent, receiving waits, and the
socket's flow control slows the client down: memory stays bounded however many uploads run at once.

Two rules keep it from deadlocking. A request gathers bytes into a block only while at most half the budget is
held by gathering requests (beyond that each chunk goes to the disk at once), so a stalled client never holds
more than that half; and a request that must wait first sends what it gathered on its way, and may take budget
beyond the limit when nothing at all is on its way to the disk (a chunk larger than a tiny budget still passes).

Waiters are woken from worker threads with `call_soon_threadsafe`, so the budget needs an asyncio event loop
(the one uvicorn runs).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from tus_server.blocks import BlockPool

PAGE = 4096
ESCAPE_BLOCK = 64 << 10  # the largest block taken past the limit (see `take_block`)


class BufferBudget:
    def __init__(self, limit: int) -> None:
        if limit <= 0:
            raise ValueError("the upload buffer budget must be positive")
        self.limit = limit
        self._used = 0  # bytes taken and not given back
        self._gathered = 0  # of those, bytes that requests hold while gathering a block
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.peak = 0  # the most bytes ever taken at once (for tests and metrics)
        self.blocks = BlockPool(keep=limit)  # blocks a body is read into: each taken with budget for its size

    @property
    def used(self) -> int:
        return self._used

    def _fits(self, size: int) -> bool:
        return self._used + size <= self.limit or self._used == self._gathered

    def _account(self, size: int) -> None:
        self._used += size
        self._gathered += size
        self.peak = max(self.peak, self._used)

    def try_take(self, size: int) -> bool:
        """Take `size` bytes for gathering if they fit now."""
        with self._lock:
            if not self._fits(size):
                return False
            self._account(size)
            return True

    async def take(self, size: int) -> None:
        """Take `size` bytes for gathering, waiting until blocks on their way to disk give enough back."""
        await self._take_when(lambda: size if self._fits(size) else None)

    async def _take_when(self, decide: Callable[[], int | None]) -> int:
        """Take what `decide` (called under the lock) says fits, waiting for a `give` while it says None."""
        while True:
            with self._lock:
                size = decide()
                if size is not None:
                    self._account(size)
                    return size
                loop = asyncio.get_running_loop()
                waiter: asyncio.Future[None] = loop.create_future()
                entry = (loop, waiter)
                self._waiters.append(entry)
            try:
                await waiter
            finally:
                with self._lock:
                    if entry in self._waiters:
                        self._waiters.remove(entry)

    def may_gather(self) -> bool:
        """Whether requests may go on gathering blocks (gathering holds at most half the budget)."""
        return self._gathered <= self.limit // 2

    def _block_size(self, largest: int, pressed: int) -> int:
        size = largest if self.may_gather() else pressed
        return max(PAGE, min(size, self.limit // 16 // PAGE * PAGE))

    async def take_block(self, largest: int, pressed: int) -> int:
        """Take budget for the next block a body is read into, and return the block's size: `largest` while
        requests may gather, `pressed` once gathering holds half the budget; never more than a sixteenth of the
        budget, in whole pages (a block pins its whole size, however little of it a stalled client has sent).

        When the budget is spent and nothing is on its way to the disk, every byte taken sits in blocks still
        being filled, whose clients may be stalled: waiting could last for ever, so the request takes a block of
        at most `ESCAPE_BLOCK` beyond the limit. Each connection fills one block at a time, so the memory past
        the limit is at most that much per connection (`take`'s rule would let every one take a whole block)."""
        return await self._take_when(lambda: self._block_fits(largest, pressed))

    def _block_fits(self, largest: int, pressed: int) -> int | None:
        size = self._block_size(largest, pressed)
        if self._used + size <= self.limit:
            return size
        if self._used == self._gathered:
            return min(size, ESCAPE_BLOCK)
        return None

    def dispatched(self, size: int) -> None:
        """`size` gathered bytes were handed to the disk and digests; they come back with `give`."""
        with self._lock:
            self._gathered -= size

    def give(self, size: int, *, gathered: bool = False) -> None:
        """Give back bytes written and hashed (or, `gathered`, bytes a request gathered and dropped); any thread."""
        with self._lock:
            self._used -= size
            if gathered:
                self._gathered -= size
            waiters, self._waiters = self._waiters, []
        for loop, waiter in waiters:
            try:
                loop.call_soon_threadsafe(_wake, waiter)
            except RuntimeError:  # that loop is closed: nobody waits there any more
                pass


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
