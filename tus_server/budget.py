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

from tus_server.blocks import BlockPool

PAGE = 4096


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
        self.blocks = BlockPool()  # blocks a body is read into: each taken with budget for its size

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
        while True:
            with self._lock:
                if self._fits(size):
                    self._account(size)
                    return
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

    def block_size(self, largest: int, pressed: int) -> int:
        """The size of the next block a body is read into: `largest` while requests may gather, `pressed` once
        gathering holds half the budget; never more than a sixteenth of the budget, in whole pages (a block
        pins its whole size, however little of it a stalled client has sent)."""
        size = largest if self.may_gather() else pressed
        return max(PAGE, min(size, self.limit // 16 // PAGE * PAGE))

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
