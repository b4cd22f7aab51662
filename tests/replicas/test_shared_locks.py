"""Upload locks shared between processes: Redis (replicas) and lock files (`--workers N`), against real Redis.

Two lock managers in one test stand for two replicas (or workers); where a process must die, a real child
process takes the lock and is SIGKILLed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis

from tests.fixtures_services import ScriptService
from tus_server.file_locks import FileUploadLocks
from tus_server.problems import TusError
from tus_server.redis_locks import RedisUploadLocks

UPLOAD = "0123456789abcdef0123456789abcdef"

LockFactory = Callable[[], Any]


@pytest.fixture(params=["redis", "file"])
def make_locks(request: pytest.FixtureRequest, tmp_path: Path) -> LockFactory:
    """A factory of lock managers that share their locks, as replicas (Redis) or workers (files) do."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")
        return lambda **kw: RedisUploadLocks(url, prefix=prefix, **kw)
    return lambda **kw: FileUploadLocks(tmp_path / "locks", **{k: v for k, v in kw.items() if k != "expiry"})


async def _running(stack: AsyncExitStack, locks: Any) -> Any:
    await stack.enter_async_context(locks.running())
    return locks


@asynccontextmanager
async def two_replicas(make_locks: LockFactory, **options: float) -> AsyncIterator[tuple[Any, Any]]:
    options.setdefault("takeover_timeout", 5.0)
    async with AsyncExitStack() as stack:
        yield await _running(stack, make_locks(**options)), await _running(stack, make_locks(**options))


async def test_a_second_replica_takes_over_a_receiving_holder_by_asking_it_to_release(make_locks: LockFactory) -> None:
    """The old holder would hold for 30 s (renewing its lock all along) and the new one waits at most 5 s
    (`takeover_timeout`): only the release message can explain the take-over, whatever the machine's speed."""
    events: list[str] = []
    holding = anyio.Event()

    async def old_request() -> None:
        async with first.hold(UPLOAD) as lock:
            with lock.receiving():
                holding.set()
                await anyio.sleep(30)  # a half-open connection that never sends
            events.append("old interrupted" if lock.interrupted else "old finished")
            await anyio.sleep(0.1)  # saving what it received
            events.append("old saved")

    async with two_replicas(make_locks) as (first, second), anyio.create_task_group() as tasks:
        tasks.start_soon(old_request)
        await holding.wait()
        assert await second.is_busy(UPLOAD)
        async with second.hold(UPLOAD):
            events.append("new holds")
        assert not await first.is_busy(UPLOAD)
    assert events == ["old interrupted", "old saved", "new holds"]


async def test_holders_on_two_replicas_never_overlap(make_locks: LockFactory) -> None:
    inside: list[str] = []
    overlaps = 0
    rounds = 0

    async def worker(locks: Any, name: str) -> None:
        nonlocal overlaps, rounds
        for _ in range(15):
            async with locks.hold(UPLOAD):  # no receiving(): a holder that is saving is waited for, not interrupted
                inside.append(name)
                overlaps += len(inside) > 1
                await anyio.sleep(0.01)
                inside.remove(name)
                rounds += 1

    async with two_replicas(make_locks) as replicas, anyio.create_task_group() as tasks:
        for index, locks in enumerate(replicas):
            tasks.start_soon(worker, locks, f"r{index}")
    assert rounds == 30
    assert overlaps == 0


async def test_a_holder_that_never_lets_go_gets_423(make_locks: LockFactory) -> None:
    async with two_replicas(make_locks, takeover_timeout=0.5) as (first, second):
        async with first.hold(UPLOAD):  # holding, but not receiving: it cannot be interrupted
            with pytest.raises(TusError) as caught:
                async with second.hold(UPLOAD):
                    pass
        assert caught.value.status == 423


_HOLDER = """
import sys, time, anyio
from pathlib import Path
from tus_server.file_locks import FileUploadLocks
from tus_server.redis_locks import RedisUploadLocks

async def main():
    kind, where, prefix = sys.argv[1:4]
    locks = RedisUploadLocks(where, prefix=prefix, expiry=1.0) if kind == "redis" else FileUploadLocks(Path(where))
    async with locks.running():
        async with locks.hold(UPLOAD_ID) as lock:
            with lock.receiving():
                print("holding", flush=True)
                while True:
                    await anyio.sleep(1)

anyio.run(main)
""".replace("UPLOAD_ID", repr(UPLOAD))


@pytest.mark.parametrize("kind", ["redis", "file"])
async def test_a_killed_holder_frees_its_lock(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if kind == "redis":
        where, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        locks: Any = RedisUploadLocks(where, prefix=prefix, expiry=1.0, takeover_timeout=5.0)
    else:
        where, prefix = str(tmp_path / "locks"), ""
        locks = FileUploadLocks(tmp_path / "locks", takeover_timeout=5.0)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, kind, where, prefix], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        async with locks.running():
            assert await locks.is_busy(UPLOAD)
            os.killpg(holder.pid, signal.SIGKILL)
            holder.wait()
            # Redis: freed by expiry (1 s here); files: the kernel drops the flock of a dead process at once. Either
            # way the lock is had within the 5 s `takeover_timeout`, or `hold` raises and the test fails.
            async with locks.hold(UPLOAD):
                assert await locks.is_busy(UPLOAD)
    finally:
        if holder.poll() is None:
            os.killpg(holder.pid, signal.SIGKILL)
            holder.wait()


async def test_redis_restart_while_holding_keeps_the_lock_with_its_holder(tmp_path: Path, redis_prefix: str) -> None:
    with ScriptService("redis-server", str(tmp_path / "redis")) as service:
        first = RedisUploadLocks(service.url, prefix=redis_prefix, expiry=3.0, takeover_timeout=5.0)
        second = RedisUploadLocks(service.url, prefix=redis_prefix, expiry=3.0, takeover_timeout=5.0)
        async with first.running(), second.running():
            async with anyio.create_task_group() as tasks:
                holding, interrupted = anyio.Event(), anyio.Event()

                async def old_request() -> None:
                    async with first.hold(UPLOAD) as lock:
                        with lock.receiving():
                            holding.set()
                            await anyio.sleep(30)
                        if lock.interrupted:
                            interrupted.set()

                tasks.start_soon(old_request)
                await holding.wait()
                await anyio.to_thread.run_sync(service.restart)  # forgets every key
                check = redis.Redis.from_url(service.url)
                with anyio.move_on_after(5):  # the next renewal takes the lock again
                    while not check.exists(f"{redis_prefix}lock:{UPLOAD}"):
                        await anyio.sleep(0.05)
                assert check.exists(f"{redis_prefix}lock:{UPLOAD}")
                assert not interrupted.is_set()
                async with second.hold(UPLOAD):  # take-over still works after the restart
                    assert interrupted.is_set()
