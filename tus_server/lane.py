"""A completion lane: one thread that does blocking work for many requests at once, in batches.

Requests put an item in the lane and await its outcome; the lane's thread takes every item waiting (up to
`max_batch`), hands the batch to `work`, which returns one outcome per item, and answers the whole batch with one
wake-up of the event loop. Items that arrive while a batch runs make up the next one, so a batch grows with the
load and a lone request waits for nobody. Against a worker thread per request, the requests of a batch share
their syncs and their graph transaction, and a dozen threads no longer pass the GIL and the CPU among them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import anyio

log = logging.getLogger("tus_server")

I = TypeVar("I")  # noqa: E741 (an item)
O = TypeVar("O")  # noqa: E741 (its outcome)
MAX_BATCH = 64


class CompletionLane(Generic[I, O]):
    def __init__(self, work: Callable[[list[I]], Sequence[O]], name: str, max_batch: int = MAX_BATCH) -> None:
        self._work = work
        self._name = name
        self._max_batch = max_batch
        self._queue: deque[tuple[I, asyncio.Future[O]]] = deque()
        self._changed = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.batches = 0  # for tests and benchmarks: batches run, and items in them
        self.items = 0

    async def run(self, item: I) -> O:
        """`item`'s outcome once its batch has run. Not cancellable: a request cancelled meanwhile (its client
        gone) still waits for the work it started, as a worker thread would."""
        future: asyncio.Future[O] = asyncio.get_running_loop().create_future()
        with self._changed:
            if self._stopping:
                raise RuntimeError(f"the {self._name} lane is stopped")
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._thread.start()
            self._queue.append((item, future))
            self._changed.notify()
        with anyio.CancelScope(shield=True):
            outcome = await future
        return outcome

    def stop(self) -> None:
        """Let the batches queued run, then end the thread (blocking); the next `run` starts another."""
        with self._changed:
            self._stopping = True
            self._changed.notify()
            thread = self._thread
        if thread is not None:
            thread.join()
        with self._changed:
            self._stopping, self._thread = False, None

    def _serve(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._stopping:
                    self._changed.wait()
                if not self._queue:
                    return
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
            futures = [future for _, future in batch]
            try:
                outcomes = list(self._work([item for item, _ in batch]))
                if len(outcomes) != len(batch):
                    raise RuntimeError(f"{len(outcomes)} outcomes for a batch of {len(batch)}")
            except BaseException as exc:  # a bug of `work`'s: every request of the batch hears of it
                log.exception("the %s lane failed a batch of %d", self._name, len(batch))
                _on_their_loops(_fail, futures, exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            self.batches += 1
            self.items += len(batch)
            _on_their_loops(_answer, futures, outcomes)


def _on_their_loops(answer: Callable[..., None], futures: list[asyncio.Future[O]], what: object) -> None:
    """`answer(futures, what)` on the event loop of the futures: one wake-up of the loop for the whole batch (a
    batch whose requests came from several loops, as in tests, is answered on each loop for its own)."""
    for loop in {future.get_loop() for future in futures}:
        mine = [i for i, future in enumerate(futures) if future.get_loop() is loop]
        part = what if isinstance(what, BaseException) else [what[i] for i in mine]  # type: ignore[index]
        try:
            loop.call_soon_threadsafe(answer, [futures[i] for i in mine], part)
        except RuntimeError:  # that loop is closed: nobody waits there any more
            log.warning("a batch finished after its event loop closed")


def _answer(futures: list[asyncio.Future[O]], outcomes: list[O]) -> None:
    for future, outcome in zip(futures, outcomes, strict=True):
        if not future.done():
            future.set_result(outcome)


def _fail(futures: list[asyncio.Future[O]], exc: BaseException) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(exc)
