"""One-time sign-in codes: how `fabric login` (or anyone holding a token) opens the portal already signed in.

The holder of a token asks for a code (`POST /v1/auth/codes`); the code travels in the URL's fragment, which
browsers never send to a server, and the portal exchanges it once for the token (`POST /v1/auth/exchange`),
so the token itself never lands in a URL, a history or a log. A code is good once and for two minutes.

Codes live where every process of the deployment sees them, so a code made by one replica works on any other,
and still only once: in Redis when the server has one (`SET PX` to issue, `GETDEL` to redeem, atomic across
replicas), else in files under the data directory for the workers of one machine (a rename claims a code), else
in memory (one process). Keys and file names are the code's sha256, never the code itself.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import orjson

CODE_TTL = 120.0
MAX_PENDING = 10_000


@dataclass(frozen=True, slots=True)
class PendingCode:
    token: str
    expires: float


class CodeBook(Protocol):
    """Where codes are kept; both methods block (call them in a worker thread)."""

    ttl: float

    def issue(self, token: str) -> tuple[str, float]:
        """A new code for `token` and how many seconds it is good for."""
        ...

    def redeem(self, code: str) -> str | None:
        """The token for a code, once; None for an unknown, used or expired code."""
        ...


def _new_code() -> str:
    return secrets.token_urlsafe(24)


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class SignInCodes:
    """Pending codes, each good once and for `ttl` seconds; at most `max_pending` at a time."""

    def __init__(self, ttl: float = CODE_TTL, max_pending: int = MAX_PENDING) -> None:
        self.ttl = ttl
        self.max_pending = max_pending
        self._pending: dict[str, PendingCode] = {}

    def issue(self, token: str) -> tuple[str, float]:
        now = time.monotonic()
        self._drop_expired(now)
        if len(self._pending) >= self.max_pending:
            self._pending.pop(next(iter(self._pending)))  # the oldest goes first
        code = _new_code()
        self._pending[code] = PendingCode(token, now + self.ttl)
        return code, self.ttl

    def redeem(self, code: str) -> str | None:
        """The token for a code, once; None for an unknown, used or expired code."""
        pending = self._pending.pop(code, None)
        if pending is None or pending.expires < time.monotonic():
            return None
        return pending.token

    def _drop_expired(self, now: float) -> None:
        for code in [code for code, pending in self._pending.items() if pending.expires < now]:
            del self._pending[code]


class RedisSignInCodes:
    """Codes in Redis, shared by every replica: a key with expiry per code, taken with GETDEL (once, atomically)."""

    def __init__(self, url: str, prefix: str, ttl: float = CODE_TTL) -> None:
        self.ttl = ttl
        self.prefix = prefix
        import redis  # here, not at the top: a server without --redis-url never loads it

        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)

    def issue(self, token: str) -> tuple[str, float]:
        code = _new_code()
        self.redis.set(f"{self.prefix}{_digest(code)}", token, px=int(self.ttl * 1000))
        return code, self.ttl

    def redeem(self, code: str) -> str | None:
        token = self.redis.getdel(f"{self.prefix}{_digest(code)}")
        return token.decode() if isinstance(token, bytes) else None


class FileSignInCodes:
    """Codes in a directory every worker of one machine shares: a file per code; a rename claims it, once."""

    def __init__(self, directory: Path, ttl: float = CODE_TTL, max_pending: int = MAX_PENDING) -> None:
        self.ttl = ttl
        self.max_pending = max_pending
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def issue(self, token: str) -> tuple[str, float]:
        self._drop_expired()
        code = _new_code()
        path = self.directory / _digest(code)
        temporary = path.with_suffix(f".{uuid.uuid4().hex}.new")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(orjson.dumps({"token": token, "expires": time.time() + self.ttl}))
        os.replace(temporary, path)
        return code, self.ttl

    def redeem(self, code: str) -> str | None:
        path = self.directory / _digest(code)
        claimed = path.with_suffix(f".{uuid.uuid4().hex}.claimed")
        try:
            os.rename(path, claimed)  # only one process can move the file away
        except FileNotFoundError:
            return None
        try:
            pending = orjson.loads(claimed.read_bytes())
        finally:
            claimed.unlink(missing_ok=True)
        return str(pending["token"]) if pending["expires"] >= time.time() else None

    def _drop_expired(self) -> None:
        """Remove expired codes, then the oldest while `max_pending` are pending."""
        now, ages = time.time(), []
        for entry in self.directory.iterdir():
            try:
                modified = entry.stat().st_mtime
            except FileNotFoundError:
                continue
            if modified + self.ttl < now:
                entry.unlink(missing_ok=True)
            else:
                ages.append((modified, entry))
        for _, entry in sorted(ages)[: max(0, len(ages) - self.max_pending + 1)]:
            entry.unlink(missing_ok=True)
