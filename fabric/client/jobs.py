"""Work on several items at once (the files of an artifact going up or coming down) with one failure rule."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def each_at_once(work: Callable[[T], R], items: Sequence[T], jobs: int, name: str) -> list[R]:
    """`work(item)` for every item, `jobs` at a time in threads named `name` (in order, in this thread, below 2);
    the results in the items' order. If one fails, the ones under way still finish and the first failure in the
    items' order is raised; an interrupt starts no further item."""
    jobs = min(jobs, len(items))
    if jobs <= 1:
        return [work(item) for item in items]
    pool = ThreadPoolExecutor(jobs, thread_name_prefix=name)
    try:
        futures = [pool.submit(work, item) for item in items]
        wait(futures)
        return [future.result() for future in futures]
    finally:
        pool.shutdown(cancel_futures=True)
