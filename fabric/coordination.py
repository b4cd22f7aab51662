"""What several server processes agree on: who runs maintenance, and who may touch one blob right now.

- The maintenance lease: reconciliation and blob garbage collection run on one process at a time. With Redis
  (replicas) it is a key with expiry, renewed while maintenance runs; with `--workers` on one machine it is an
  flock on `<data-dir>/maintenance.lock`; a single process always holds it.
- The blob guard: a readers-writer lock per sha256. A completion holds it shared from "the blob is there" until
  its artifact names the blob; garbage collection holds it exclusive from "no artifact names it" until it is
  deleted. So a collection never removes a blob that another process has just referenced, however the two
  interleave; completions of the same content exclude only the collection, not each other (ingesting a blob
  that is there already is idempotent, and the graph writes name different artifacts). A collection waiting
  for the guard keeps new completions off it, so a steady stream of uploads of one content cannot starve it.

Every call blocks (worker threads). Redis keys expire, so a process killed while holding one frees it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POLL_SECONDS = 0.05
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
# The blob guard in Redis. KEYS: the exclusive key, the sorted set of shared holders (scored by expiry, in
# milliseconds of the server's clock), the `waiting` key of a collector; ARGV: token, expiry in milliseconds.
_NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "
_TAKE_SHARED = (
    _NOW + "if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then return 0 end "
    "redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1]) "
    "redis.call('PEXPIRE', KEYS[2], ARGV[2]) return 1"
)
_TAKE_EXCLUSIVE = (
    _NOW + "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) "
    "if redis.call('ZCARD', KEYS[2]) > 0 or redis.call('EXISTS', KEYS[1]) == 1 then "
    "redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2]) return 0 end "
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
    "if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end return 1"
)


class SharedLock:
    """A readers-writer lock: many holders share it, or one holds it alone. A waiting exclusive holder keeps
    new shared holders out (writer preference), so it is never starved by overlapping shared ones."""

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._shared = 0
        self._exclusive = False
        self._waiting = 0  # exclusive holders waiting
        self.users = 0  # holders and waiters, for the table that keeps locks only while someone uses them

    @contextmanager
    def hold(self, *, shared: bool) -> Iterator[None]:
        with self._changed:
            if shared:
                while self._exclusive or self._waiting:
                    self._changed.wait()
                self._shared += 1
            else:
                self._waiting += 1
                try:
                    while self._exclusive or self._shared:
                        self._changed.wait()
                finally:
                    self._waiting -= 1
                self._exclusive = True
        try:
            yield
        finally:
            with self._changed:
                if shared:
                    self._shared -= 1
                else:
                    self._exclusive = False
                self._changed.notify_all()


class Coordination:
    """One process: a readers-writer lock per blob in memory (kept while in use); the lease is always held."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._blobs: dict[str, SharedLock] = {}

    @contextmanager
    def blob(self, sha256: str, *, shared: bool = False) -> Iterator[None]:
        """The blob guard of `sha256`: `shared` for a completion referencing the blob, exclusive for collection."""
        with self._guard:
            lock = self._blobs.get(sha256)
            if lock is None:
                lock = self._blobs[sha256] = SharedLock()
            lock.users += 1
        try:
            with lock.hold(shared=shared):
                yield
        finally:
            with self._guard:
                lock.users -= 1
                if not lock.users:
                    del self._blobs[sha256]

    def take_lease(self, seconds: float) -> bool:
        """True if this process may run maintenance now (until `seconds` pass or `drop_lease`)."""
        return True

    def drop_lease(self) -> None:
        pass


class FileCoordination(Coordination):
    """The workers of one machine: flock files under a directory."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = Path(directory)
        (self.directory / "blobs").mkdir(parents=True, exist_ok=True)
        self._lease_fd: int | None = None

    @contextmanager
    def blob(self, sha256: str, *, shared: bool = False) -> Iterator[None]:
        """flock LOCK_SH or LOCK_EX on `blobs/<sha256>`, entered through a turnstile (`blobs/<sha256>.turn`) that
        a collector holds while it waits: Linux grants LOCK_SH beside a waiting LOCK_EX, so without it overlapping
        completions in other workers could starve the collection. Both files go when their last holder leaves
        (`_lock_file`, `_unlock_file`), so the directory holds only the guards in use."""
        operation = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        with super().blob(sha256, shared=shared):  # this process's threads first, then the other processes
            path = self.directory / "blobs" / sha256[:64]
            turn_path = path.with_name(f"{path.name}.turn")
            turn = _lock_file(turn_path, operation)
            try:
                fd = _lock_file(path, operation)
            finally:
                _unlock_file(turn_path, turn)
            try:
                yield
            finally:
                _unlock_file(path, fd)

    def take_lease(self, seconds: float) -> bool:
        if self._lease_fd is not None:
            return True
        fd = os.open(self.directory / "maintenance.lock", os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lease_fd = fd  # kept while this process lives: the kernel frees it when the process dies
        return True


def _lock_file(path: Path, operation: int) -> int:
    """A descriptor of `path` flocked with `operation` (blocking), the file still being the one at `path` once
    locked: a last holder may have removed it meanwhile (`_unlock_file`), and then it is opened anew. So every
    holder that returns from here holds the lock of the same file, the one at `path`."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, operation)
            try:
                current = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
        except BaseException:
            os.close(fd)
            raise
        if current:
            return fd
        os.close(fd)


def _unlock_file(path: Path, fd: int) -> None:
    """Unlock and close; the file removed first if no one else holds it (an exclusive flock taken without
    waiting). Whoever waits on the removed file finds it gone once it gets the lock, and opens `path` anew."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pass  # others hold it: the last of them removes it
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    finally:
        os.close(fd)


class RedisCoordination(Coordination):
    """Replicas: keys in Redis with expiry."""

    def __init__(self, url: str, prefix: str, blob_expiry: float = 60.0) -> None:
        import redis  # here, not at the top: a server without --redis-url never loads it (about 4 MB)

        super().__init__()
        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self.prefix = prefix
        self.blob_expiry_ms = int(blob_expiry * 1000)
        self._token = uuid.uuid4().hex  # this process
        self._release = self.redis.register_script(_RELEASE)
        self._renew = self.redis.register_script(_RENEW)
        self._take_shared = self.redis.register_script(_TAKE_SHARED)
        self._take_exclusive = self.redis.register_script(_TAKE_EXCLUSIVE)

    @contextmanager
    def blob(self, sha256: str, *, shared: bool = False) -> Iterator[None]:
        """Shared holders are members of a sorted set scored by their expiry; the exclusive holder is a key; a
        collector that finds holders leaves a short-lived `waiting` key that keeps new shared holders out."""
        base = f"{self.prefix}blob:{sha256}"
        keys, token = [base, f"{base}:shared", f"{base}:waiting"], uuid.uuid4().hex
        take = self._take_shared if shared else self._take_exclusive
        with super().blob(sha256, shared=shared):
            while not take(keys=keys, args=[token, self.blob_expiry_ms]):
                time.sleep(POLL_SECONDS)
            try:
                yield
            finally:
                if shared:
                    self.redis.zrem(keys[1], token)
                else:
                    self._release(keys=[base], args=[token])

    def take_lease(self, seconds: float) -> bool:
        key, ms = f"{self.prefix}maintenance", int(seconds * 1000)
        if self._renew(keys=[key], args=[self._token, ms]):
            return True
        return bool(self.redis.set(key, self._token, nx=True, px=ms))

    def drop_lease(self) -> None:
        self._release(keys=[f"{self.prefix}maintenance"], args=[self._token])
