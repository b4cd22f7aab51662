"""Upload locks shared by every replica through one Redis server.

A lock is a key `<prefix>lock:<id>` holding a random token, set with `SET NX PX` and kept alive by its holder
(renewed every third of its expiry while the request runs), so a replica killed with SIGKILL frees its locks
by expiry. Release is compare-and-delete in a Lua script: a holder never deletes a lock someone else took after
its own expired.

Take-over works across replicas as it does in one process: a request that finds the lock taken publishes
"please release" on `<prefix>release:<id>`; the replica holding it cancels the running request's receive loop,
which saves what it durably wrote and releases; the new request then takes the lock (it polls every 50 ms).
While a holder is receiving, `<prefix>receiving:<id>` exists, so a HEAD on any replica can wait for a holder
that is saving (see `settled`).

If Redis restarts it forgets every lock: a holder re-takes its lock at the next renewal if nobody took it in
between, and stops receiving (so two writers never interleave) if someone did or Redis stays unreachable
longer than the expiry.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio
import redis.asyncio as aioredis
from anyio.abc import TaskGroup
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from tus_server import errors
from tus_server.locks import UploadLock, UploadLocks

log = logging.getLogger("tus_server.redis_locks")

POLL_SECONDS = 0.05
ASK_AGAIN_SECONDS = 0.25

# Renew if still ours; take it again if it vanished (Redis restarted); 0 if another holder has it.
_RENEW = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
elseif not current then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 2
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('DEL', KEYS[2])
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisUploadLocks:
    """The `UploadLocks` interface over Redis; `running()` must be entered before use (it listens for take-overs)."""

    def __init__(self, url: str, *, prefix: str = "tus:", expiry: float = 10.0, takeover_timeout: float = 10.0) -> None:
        self.url = url
        self.prefix = prefix
        self.expiry_ms = int(expiry * 1000)
        self.takeover_timeout = takeover_timeout
        self._local = UploadLocks(takeover_timeout)  # requests of this process queue here before asking Redis
        self._redis: aioredis.Redis | None = None
        self._tasks: TaskGroup | None = None
        self._renew: AsyncScript | None = None
        self._release: AsyncScript | None = None

    # ---- lifecycle ----------------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self._redis = aioredis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)
        try:
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                tasks.start_soon(self._listen_for_takeovers)
                try:
                    yield
                finally:
                    tasks.cancel_scope.cancel()
        finally:
            self._tasks = None
            await self._redis.aclose()
            self._redis = None

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("RedisUploadLocks used outside running()")
        return self._redis

    def _key(self, kind: str, upload_id: str) -> str:
        return f"{self.prefix}{kind}:{upload_id}"

    # ---- the interface ------------------------------------------------------------------------------

    async def is_busy(self, upload_id: str) -> bool:
        if await self._local.is_busy(upload_id):
            return True
        return bool(await self.redis.exists(self._key("lock", upload_id)))

    async def settled(self, upload_id: str, timeout: float = 5.0) -> bool:
        """Wait while a holder anywhere is saving what it received (locked but no longer receiving)."""
        waited = await self._local.settled(upload_id, timeout)
        lock_key, receiving_key = self._key("lock", upload_id), self._key("receiving", upload_id)
        with anyio.move_on_after(timeout):
            try:
                while await self.redis.exists(lock_key) and not await self.redis.exists(receiving_key):
                    waited = True
                    await anyio.sleep(POLL_SECONDS)
            except RedisError:
                pass  # a HEAD answers from the store without waiting rather than fail
        return waited

    @asynccontextmanager
    async def hold(self, upload_id: str) -> AsyncIterator[UploadLock]:
        async with self._local.hold(upload_id) as local:
            token = uuid.uuid4().hex
            await self._acquire(upload_id, token)
            lock = _RedisUploadLock(local, self, upload_id)
            keeper = anyio.CancelScope()
            assert self._tasks is not None
            self._tasks.start_soon(self._keep, upload_id, token, lock, keeper)
            try:
                yield lock
            finally:
                keeper.cancel()
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    try:
                        assert self._release is not None
                        await self._release(
                            keys=[self._key("lock", upload_id), self._key("receiving", upload_id)], args=[token]
                        )
                    except RedisError:
                        log.warning("could not release the lock of upload %s; it expires by itself", upload_id)

    # ---- internals ----------------------------------------------------------------------------------

    async def _acquire(self, upload_id: str, token: str) -> None:
        key = self._key("lock", upload_id)
        deadline = time.monotonic() + self.takeover_timeout
        asked_at = 0.0
        while True:
            try:
                if await self.redis.set(key, token, nx=True, px=self.expiry_ms):
                    return
                now = time.monotonic()
                if now - asked_at >= ASK_AGAIN_SECONDS:
                    await self.redis.publish(self._key("release", upload_id), token)
                    asked_at = now
            except RedisError as exc:
                if time.monotonic() >= deadline:
                    raise errors.LOCK_SERVICE_UNAVAILABLE(f"the upload lock server did not answer: {exc}") from exc
            if time.monotonic() >= deadline:
                raise errors.LOCKED("another request holds this upload and did not release it in time; retry shortly")
            await anyio.sleep(POLL_SECONDS)

    async def _keep(self, upload_id: str, token: str, lock: _RedisUploadLock, scope: anyio.CancelScope) -> None:
        """Renew the lock until the holder is done, mirror its receiving flag, and stop its receiving if the
        lock is lost (taken by someone else, or Redis unreachable for longer than the expiry)."""
        key, receiving_key = self._key("lock", upload_id), self._key("receiving", upload_id)
        interval = self.expiry_ms / 3000
        last_renewed = time.monotonic()
        flagged = False
        failed = False  # the last attempt did not reach Redis: try again soon rather than after the interval
        with scope:
            while True:
                if lock.receiving_now == flagged and not failed:
                    with anyio.move_on_after(interval):
                        await lock.changed.wait()
                try:
                    assert self._renew is not None
                    kept = await self._renew(keys=[key], args=[token, self.expiry_ms])
                    if kept and (lock.receiving_now or flagged):
                        flagged = lock.receiving_now
                        if flagged:
                            await self.redis.set(receiving_key, token, px=self.expiry_ms)
                        else:
                            await self.redis.delete(receiving_key)
                except RedisError:
                    kept = None
                failed = kept is None
                if kept:
                    last_renewed = time.monotonic()
                    continue
                if kept == 0 or time.monotonic() - last_renewed > self.expiry_ms / 1000:
                    log.warning("lost the lock of upload %s; stopping its request", upload_id)
                    lock.interrupt()
                    return
                await anyio.sleep(POLL_SECONDS)  # Redis did not answer: try again soon

    async def _listen_for_takeovers(self) -> None:
        """Cancel the receiving of any upload of this process that another request asks to release."""
        pattern = self._key("release", "*")
        start = len(self._key("release", ""))
        while True:
            try:
                pubsub = self.redis.pubsub()
                await pubsub.psubscribe(pattern)
                try:
                    async for message in pubsub.listen():
                        if message.get("type") != "pmessage":
                            continue
                        channel = message["channel"]
                        upload_id = (channel.decode() if isinstance(channel, bytes) else channel)[start:]
                        self._local.interrupt(upload_id)
                finally:
                    with anyio.CancelScope(shield=True):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
            except RedisError as exc:
                log.warning("take-over listener lost Redis (%s); reconnecting", exc)
                await anyio.sleep(0.5)


class _RedisUploadLock(UploadLock):
    """The local lock, plus the Redis flag that tells other replicas this holder is receiving."""

    def __init__(self, local: UploadLock, locks: RedisUploadLocks, upload_id: str) -> None:
        super().__init__(local._holder)
        self._locks = locks
        self._upload_id = upload_id
        self.receiving_now = False
        self.changed = anyio.Event()  # set (and replaced) whenever receiving_now changes: wakes the keeper

    def interrupt(self) -> None:
        self._locks._local.interrupt(self._upload_id)

    def _flip(self, receiving: bool) -> None:
        self.receiving_now = receiving
        changed, self.changed = self.changed, anyio.Event()
        changed.set()

    @contextmanager
    def receiving(self) -> Iterator[anyio.CancelScope]:
        self._flip(True)
        try:
            with super().receiving() as scope:
                yield scope
        finally:
            self._flip(False)
