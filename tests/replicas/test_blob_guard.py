"""The blob guard is a readers-writer lock: completions of the same content share it, a collection excludes them.

Each coordination kind is tested as two processes or replicas would use it: two `Coordination`s over the same
flock directory or the same real Redis; in one process, the one `Coordination` of its threads. Nothing waits for
time: a holder stays inside until an event is set, and a collector is known to be waiting by what it leaves
behind (its count in memory, its turnstile flock, its `waiting` key in Redis).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import redis

from fabric.coordination import Coordination, FileCoordination, RedisCoordination

SHA = "ab" * 32
WAIT = 30.0


def wait_until(condition: Callable[[], bool], what: str) -> None:
    done = threading.Event()
    for _ in range(3000):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError(f"never happened: {what}")


def waiting_in_memory(coordination: Coordination) -> bool:
    lock = coordination._blobs.get(SHA)
    return lock is not None and lock._waiting > 0


class Pair:
    """Two coordinations standing for two processes (`first` completes uploads, `second` completes or collects),
    and a probe that says whether a collector is waiting."""

    def __init__(self, first: Coordination, second: Coordination, waiting: Callable[[], bool]) -> None:
        self.first, self.second, self._waiting = first, second, waiting

    def collector_waiting(self) -> bool:
        return waiting_in_memory(self.first) or waiting_in_memory(self.second) or self._waiting()


@pytest.fixture(params=["memory", "file", "redis"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pair]:
    if request.param == "memory":
        one = Coordination()
        yield Pair(one, one, lambda: False)
    elif request.param == "file":
        first, second = FileCoordination(tmp_path), FileCoordination(tmp_path)

        def turnstile_held() -> bool:
            fd = os.open(tmp_path / "blobs" / f"{SHA}.turn", os.O_RDWR | os.O_CREAT, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            finally:
                os.close(fd)
            return False

        yield Pair(first, second, turnstile_held)
    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        client = redis.Redis.from_url(url)
        yield Pair(
            RedisCoordination(url, prefix),
            RedisCoordination(url, prefix),
            lambda: bool(client.exists(f"{prefix}blob:{SHA}:waiting")),
        )
        client.close()


def hold_in_thread(
    guard: AbstractContextManager[None], inside: threading.Event, leave: threading.Event
) -> threading.Thread:
    def run() -> None:
        with guard:
            inside.set()
            assert leave.wait(WAIT)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_completions_of_the_same_content_hold_the_guard_together(pair: Pair) -> None:
    leave = threading.Event()
    inside = [threading.Event() for _ in range(3)]
    threads = [
        hold_in_thread(pair.first.blob(SHA, shared=True), inside[0], leave),
        hold_in_thread(pair.first.blob(SHA, shared=True), inside[1], leave),  # the same process's other thread
        hold_in_thread(pair.second.blob(SHA, shared=True), inside[2], leave),  # another process
    ]
    try:
        for event in inside:
            assert event.wait(WAIT), "a completion waited for another completion of the same content"
    finally:
        leave.set()
        for thread in threads:
            thread.join(WAIT)


def test_a_collection_waits_for_completions_and_keeps_new_ones_off(pair: Pair) -> None:
    events: list[str] = []
    holders = 0
    count = threading.Lock()
    leave = threading.Event()

    def completion(name: str, inside: threading.Event) -> None:
        nonlocal holders
        with pair.first.blob(SHA, shared=True):
            with count:
                holders += 1
                events.append(name)
            inside.set()
            assert leave.wait(WAIT)
            with count:
                holders -= 1

    def collection() -> None:
        with pair.second.blob(SHA):
            with count:
                events.append(f"collect with {holders} holding")

    inside = [threading.Event(), threading.Event()]
    first = [threading.Thread(target=completion, args=(name, event)) for name, event in zip("ab", inside, strict=True)]
    for thread in first:
        thread.start()
    assert all(event.wait(WAIT) for event in inside)
    collector = threading.Thread(target=collection)
    collector.start()
    wait_until(pair.collector_waiting, "the collector waits for the guard")
    assert sorted(events) == ["a", "b"]  # it is waiting, not inside
    late = threading.Thread(target=completion, args=("late", threading.Event()))
    late.start()
    leave.set()
    for thread in [*first, collector, late]:
        thread.join(WAIT)
        assert not thread.is_alive()
    assert events[2:] == ["collect with 0 holding", "late"]


def test_flock_guards_exclude_as_before_and_leave_no_files_behind(tmp_path: Path) -> None:
    """Two workers' coordinations, many threads each taking the guard shared or exclusive over and over: an
    exclusive holder is always alone (the lock files are removed by their last holder and made anew by the
    next, which must never let two holders hold two different files), and once all are done the directory holds
    no lock file (it held two per sha256 ever guarded, for ever)."""
    workers = [FileCoordination(tmp_path), FileCoordination(tmp_path)]
    state = {"shared": 0, "exclusive": 0}
    count = threading.Lock()
    overlaps: list[str] = []
    shas = [SHA, "cd" * 32]
    pause = threading.Event()  # never set: a short wait inside the guard

    def enter(shared: bool) -> None:
        with count:
            if state["exclusive"] or (not shared and state["shared"]):
                overlaps.append(f"{'shared' if shared else 'exclusive'} entered beside {dict(state)}")
            state["shared" if shared else "exclusive"] += 1

    def leave(shared: bool) -> None:
        with count:
            state["shared" if shared else "exclusive"] -= 1

    def run(worker: FileCoordination, n: int) -> None:
        for i in range(200):
            shared = (i + n) % 4 != 0
            with worker.blob(SHA, shared=shared):
                enter(shared)
                pause.wait(0.0002)  # long enough for others to queue on the file this holder may remove
                leave(shared)
            with worker.blob(shas[i % 2], shared=True):
                pass

    threads = [threading.Thread(target=run, args=(workers[n % 2], n)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not any(thread.is_alive() for thread in threads)
    assert overlaps == []
    assert sorted(path.name for path in (tmp_path / "blobs").iterdir()) == []
