"""What several server processes agree on: who runs maintenance, and who may touch one blob right now.

- The maintenance lease: reconciliation and blob garbage collection run on one process at a time. With Redis
  (replicas) it is a key with expiry, renewed while maintenance runs; with `--workers` on one machine it is an
  flock on `<data-dir>/maintenance.lock`; a single process always holds it.
- The blob guard: a mutual exclusion per sha256, held by a completion from "the blob is there" until its
  artifact names the blob, and by garbage collection from "no artifact names it" until it is deleted. So a
  collection never removes a blob that another process has just referenced, however the two interleave.

Every call blocks (worker threads). Redis keys expire, so a process killed while holding one frees it.
"""

from __future__ import annotations

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


class Coordination:
    """One process: a lock per blob in memory; the lease is always held."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._blobs: dict[str, threading.Lock] = {}

    @contextmanager
    def blob(self, sha256: str) -> Iterator[None]:
        with self._guard:
            lock = self._blobs.setdefault(sha256, threading.Lock())
        with lock:
            yield

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
    def blob(self, sha256: str) -> Iterator[None]:
        with super().blob(sha256):  # threads of this process first: flock does not exclude them from each other
            fd = os.open(self.directory / "blobs" / sha256[:64], os.O_RDWR | os.O_CREAT, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

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

    @contextmanager
    def blob(self, sha256: str) -> Iterator[None]:
        key, token = f"{self.prefix}blob:{sha256}", uuid.uuid4().hex
        with super().blob(sha256):
            while not self.redis.set(key, token, nx=True, px=self.blob_expiry_ms):
                time.sleep(POLL_SECONDS)
            try:
                yield
            finally:
                self._release(keys=[key], args=[token])

    def take_lease(self, seconds: float) -> bool:
        key, ms = f"{self.prefix}maintenance", int(seconds * 1000)
        if self._renew(keys=[key], args=[self._token, ms]):
            return True
        return bool(self.redis.set(key, self._token, nx=True, px=ms))

    def drop_lease(self) -> None:
        self._release(keys=[f"{self.prefix}maintenance"], args=[self._token])
