"""One-time sign-in codes: how `fabric login` (or anyone holding a token) opens the portal already signed in.

The holder of a token asks for a code (`POST /v1/auth/codes`); the code travels in the URL's fragment, which
browsers never send to a server, and the portal exchanges it once for the token (`POST /v1/auth/exchange`),
so the token itself never lands in a URL, a history or a log. Codes live in the server's memory for a
short while: a restart or a second server behind a load balancer simply makes the user ask again.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

CODE_TTL = 120.0
MAX_PENDING = 10_000


@dataclass(frozen=True, slots=True)
class PendingCode:
    token: str
    expires: float


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
        code = secrets.token_urlsafe(24)
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
