"""Serial lanes: work that must run in order, one item at a time, on a thread pool shared by all uploads.

A lane holds no thread of its own, so an upload whose digests lag a few blocks behind costs a queue entry,
not a thread, and lanes of idle uploads cost nothing. Lanes are plain threads and futures, usable outside any
event loop (the client uses them too); `wait` awaits a lane's future from async code under anyio on asyncio.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import anyio

T = TypeVar("T")

POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tus-io")


class SerialLane:
    def __init__(self, pool: ThreadPoolExecutor = POOL) -> None:
        self._pool = pool
        self._queue: deque[tuple[Callable[..., Any], tuple[Any, ...], Future[Any]]] = deque()
        self._running = False
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            self._queue.append((fn, args, future))
            if not self._running:
                self._running = True
                self._start_next()
        return future

    def _start_next(self) -> None:
        fn, args, future = self._queue.popleft()
        self._pool.submit(self._run, fn, args, future)

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...], future: Future[Any]) -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to whoever waits on the future
            future.set_exception(exc)
        finally:
            with self._lock:
                if self._queue:
                    self._start_next()
                else:
                    self._running = False


async def wait(future: Future[T]) -> T:
    """The result of a lane's future, from async code on an asyncio event loop (under anyio).

    The future's completion is handed to the loop with `call_soon_threadsafe` (`asyncio.wrap_future`): no thread
    blocks on it, so waiting costs no thread hop and no thread per waiting request. The wait is shielded from
    cancellation, so a cancelled waiter never loses track of work that is running: the caller sees its
    cancellation at its next checkpoint.
    """
    if future.done():
        return future.result()
    with anyio.CancelScope(shield=True):
        result = await asyncio.wrap_future(future)
    return result
