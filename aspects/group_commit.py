"""Group commit: the graph writes of many threads in one transaction, committed (and made durable) once.

A small upload writes the graph twice (its pending artifact at creation, `artifact.1` at completion), and each
write is one commit, which is one WAL flush on LadybugDB and one round trip on Neo4j. With many uploads at once,
those commits queue up behind the store's write lock, one flush each. `GroupCommit.run(job)` queues the job
instead; the first thread in the queue becomes the leader, takes every job waiting (up to `max_batch`), runs
them in order in one transaction under the store's lock, commits, and hands each thread its own result. Jobs
that arrive while a batch commits wait for the next one, so the batch grows with the load and a lone writer
waits for nobody. Every caller still returns only after its write is durable.

A job is `job(tx) -> result`, run inside a transaction; it must leave no trace outside the graph before
the commit (state in memory is updated by the caller after `run` returns), since a failing batch is rolled
back and its jobs are run again one transaction each, so that one job's error is that job's alone.

Sharing a transaction saves commits; on LadybugDB each statement also costs a fixed half millisecond or so of
CPU whatever it writes, so jobs of one kind can share statements too: `run_combined(combine, item)` queues an
item, and the leader hands all consecutive items of the same `combine` to one call, `combine(tx, items)`, which
writes them with a statement per step (`UNWIND`) and returns one outcome per item, in order: its result, or the
exception that item alone fails with (raised to its caller). An item that fails must have written nothing.

Never call `run` while holding the store's write lock (a leader waiting for that lock would wait for ever), nor
inside a transaction of the backend's (the batch would join it, and other callers' writes would be answered before
that transaction commits).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from aspects.backends import Backend, Runner

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 (an item of a combined job)
MAX_BATCH = 64

Combine = Callable[[Runner, list[I]], list[T | Exception]]


class _Job(Generic[T]):
    __slots__ = ("combine", "done", "error", "item", "result", "wake", "work")

    def __init__(
        self, work: Callable[[Runner], T] | None, combine: Combine[Any, T] | None = None, item: Any = None
    ) -> None:
        self.work = work
        self.combine = combine
        self.item = item
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None
        self.wake = threading.Lock()  # held until the job's thread may go on: its job done, or its turn to lead
        self.wake.acquire()


class GroupCommit:
    def __init__(self, backend: Backend, write_lock: threading.RLock, max_batch: int = MAX_BATCH) -> None:
        self._backend = backend
        self._write_lock = write_lock
        self._max_batch = max_batch
        self._queue: deque[_Job[Any]] = deque()
        self._queued = threading.Lock()
        self.batches = 0  # transactions committed, and jobs run in them: for tests and benchmarks
        self.jobs = 0

    def run(self, work: Callable[[Runner], T]) -> T:
        """Run `work(tx)` in a transaction shared with whatever other jobs are waiting; its result once committed."""
        return self._run(_Job(work))

    def run_combined(self, combine: Combine[I, T], item: I) -> T:
        """Write `item` with `combine`, in one call with the other items of the same `combine` waiting (and in a
        transaction shared with every job waiting); its outcome once committed."""
        return self._run(_Job(None, combine, item))

    def _run(self, job: _Job[T]) -> T:
        with self._queued:
            self._queue.append(job)
            leads = self._queue[0] is job
        if not leads:
            job.wake.acquire()  # released once: when a leader has run the job, or when the job heads the queue
        if not job.done:
            batch: list[_Job[Any]] = []
            try:
                with self._write_lock:  # jobs that queue while the leader waits for the lock join its batch
                    with self._queued:
                        batch = [self._queue[i] for i in range(min(len(self._queue), self._max_batch))]
                    self._run_batch(batch)
            finally:
                with self._queued:
                    for queued in batch or [job]:
                        if not queued.done:  # the leader was interrupted (not an error of a job's own)
                            queued.error, queued.done = RuntimeError("the group commit was interrupted"), True
                        self._queue.popleft()
                    head = self._queue[0] if self._queue else None
                for queued in batch:  # each thread woken once, and only those with somewhere to go
                    if queued is not job:
                        queued.wake.release()
                if head is not None:
                    head.wake.release()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _run_batch(self, batch: list[_Job[Any]]) -> None:
        """Every job of `batch` in one transaction; if that fails, each in a transaction of its own."""
        if len(batch) > 1:
            outcomes: list[Any] = []
            try:
                with self._backend.transaction() as tx:
                    for group in _groups(batch):
                        outcomes.extend(_outcomes(tx, group))
            except Exception:
                pass  # rolled back: run them one by one below, so each gets its own outcome
            else:
                for job, outcome in zip(batch, outcomes, strict=True):
                    if isinstance(outcome, Exception):
                        job.error = outcome
                    else:
                        job.result = outcome
                    job.done = True
                self._count(len(batch))
                return
        for job in batch:
            try:
                with self._backend.transaction() as tx:
                    outcome = _outcomes(tx, [job])[0]
                    if isinstance(outcome, Exception):
                        raise outcome
                    job.result = outcome
            except Exception as exc:
                job.error = exc
            else:
                self._count(1)
            job.done = True

    def _count(self, jobs: int) -> None:
        self.batches += 1
        self.jobs += jobs


def _groups(batch: list[_Job[Any]]) -> list[list[_Job[Any]]]:
    """Consecutive jobs of the same `combine` together; every plain job alone."""
    groups: list[list[_Job[Any]]] = []
    for job in batch:
        if groups and job.combine is not None and groups[-1][0].combine == job.combine:
            groups[-1].append(job)
        else:
            groups.append([job])
    return groups


def _outcomes(tx: Runner, group: list[_Job[Any]]) -> list[Any]:
    """The outcome of each job of `group` (a result, or an exception that job alone fails with)."""
    first = group[0]
    if first.combine is None:
        assert first.work is not None and len(group) == 1
        return [first.work(tx)]
    outcomes = first.combine(tx, [job.item for job in group])
    if len(outcomes) != len(group):
        raise RuntimeError(f"a combined write answered {len(outcomes)} outcomes for {len(group)} items")
    return outcomes
