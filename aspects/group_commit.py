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
MAX_BATCH = 64


class _Job(Generic[T]):
    __slots__ = ("done", "error", "result", "work")

    def __init__(self, work: Callable[[Runner], T]) -> None:
        self.work = work
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None


class GroupCommit:
    def __init__(self, backend: Backend, write_lock: threading.RLock, max_batch: int = MAX_BATCH) -> None:
        self._backend = backend
        self._write_lock = write_lock
        self._max_batch = max_batch
        self._queue: deque[_Job[Any]] = deque()
        self._changed = threading.Condition(threading.Lock())
        self.batches = 0  # transactions committed, and jobs run in them: for tests and benchmarks
        self.jobs = 0

    def run(self, work: Callable[[Runner], T]) -> T:
        """Run `work(tx)` in a transaction shared with whatever other jobs are waiting; its result once committed."""
        job: _Job[T] = _Job(work)
        with self._changed:
            self._queue.append(job)
            while not job.done and self._queue[0] is not job:
                self._changed.wait()
        if not job.done:
            batch: list[_Job[Any]] = []
            try:
                with self._write_lock:  # jobs that queue while the leader waits for the lock join its batch
                    with self._changed:
                        batch = [self._queue[i] for i in range(min(len(self._queue), self._max_batch))]
                    self._run_batch(batch)
            finally:
                with self._changed:
                    for queued in batch or [job]:
                        if not queued.done:  # the leader was interrupted (not an error of a job's own)
                            queued.error, queued.done = RuntimeError("the group commit was interrupted"), True
                        self._queue.popleft()
                    self._changed.notify_all()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _run_batch(self, batch: list[_Job[Any]]) -> None:
        """Every job of `batch` in one transaction; if that fails, each in a transaction of its own."""
        if len(batch) > 1:
            results: list[Any] = []
            try:
                with self._backend.transaction() as tx:
                    for job in batch:
                        results.append(job.work(tx))
            except Exception:
                pass  # rolled back: run them one by one below, so each gets its own outcome
            else:
                for job, result in zip(batch, results, strict=True):
                    job.result, job.done = result, True
                self._count(len(batch))
                return
        for job in batch:
            try:
                with self._backend.transaction() as tx:
                    job.result = job.work(tx)
            except Exception as exc:
                job.error = exc
            else:
                self._count(1)
            job.done = True

    def _count(self, jobs: int) -> None:
        self.batches += 1
        self.jobs += jobs
