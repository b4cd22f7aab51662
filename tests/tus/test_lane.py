"""The completion lane: one thread runs waiting items as batches, each request gets its own item's outcome."""

from __future__ import annotations

import threading

import anyio
import pytest

from tus_server.lane import CompletionLane

WAIT = 30.0


class Work:
    """Doubles every item; holds the first batch until `release` is set; fails a batch that holds 13."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        self.entered.set()
        assert self.release.wait(WAIT)
        if 13 in items:
            raise RuntimeError("unlucky batch")
        return [item * 2 for item in items]


async def _until(event: threading.Event) -> None:
    with anyio.fail_after(WAIT):
        while not event.is_set():
            await anyio.sleep(0.005)


def test_items_that_wait_while_a_batch_runs_make_the_next_batch() -> None:
    work = Work()
    lane: CompletionLane[int, int] = CompletionLane(work, "test")
    results: dict[int, int] = {}

    async def main() -> None:
        async def one(item: int) -> None:
            results[item] = await lane.run(item)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(one, 1)
            await _until(work.entered)  # the first batch runs, held
            for item in range(2, 7):
                tasks.start_soon(one, item)
            with anyio.fail_after(WAIT):
                while len(lane._queue) < 5:
                    await anyio.sleep(0.005)
            work.release.set()
        await anyio.to_thread.run_sync(lane.stop)

    anyio.run(main)
    assert work.batches == [[1], [2, 3, 4, 5, 6]]
    assert results == {item: item * 2 for item in range(1, 7)}
    assert (lane.batches, lane.items) == (2, 6)


def test_a_batch_that_fails_fails_its_requests_and_the_lane_goes_on() -> None:
    work = Work()
    work.release.set()
    lane: CompletionLane[int, int] = CompletionLane(work, "test")

    async def main() -> int:
        with pytest.raises(RuntimeError, match="unlucky"):
            await lane.run(13)
        return await lane.run(4)

    assert anyio.run(main) == 8
    lane.stop()
    assert anyio.run(lane.run, 5) == 10  # stopped, then started again by the next request
    lane.stop()


def test_a_request_cancelled_while_its_batch_runs_still_waits_for_it() -> None:
    """Like a worker thread's call, the lane's is not abandoned: a request whose client went away must not let go
    of its upload while the lane still writes it."""
    work = Work()
    lane: CompletionLane[int, int] = CompletionLane(work, "test")
    seen: list[int] = []

    async def main() -> None:
        async def one() -> None:
            seen.append(await lane.run(21))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(one)
            await _until(work.entered)
            tasks.cancel_scope.cancel()
            work.release.set()  # the request is cancelled by now; its batch only finishes after

    anyio.run(main)
    lane.stop()
    assert seen == [42]
