"""When to try a request again, and how long to wait first."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

# A retryable answer: the server is restarting or overloaded (5xx), the upload moved on or is busy (409, 423),
# or asks to slow down (429). Everything else is an answer to act on, not to repeat.
RETRY_STATUSES = frozenset({409, 423, 429, 500, 502, 503, 504, 507})


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in RETRY_STATUSES
    return False


@dataclass(slots=True)
class Backoff:
    """Exponential backoff from `delay`, capped at `cap`; `retries` consecutive failures without progress are allowed."""

    retries: int = 10
    delay: float = 0.5
    cap: float = 10.0
    failures: int = 0

    def progressed(self) -> None:
        self.failures = 0

    def wait(self, exc: BaseException) -> None:
        """Sleep before the next attempt, or re-raise `exc` when the retries are used up."""
        self.failures += 1
        if self.failures > self.retries:
            raise exc
        time.sleep(min(self.cap, self.delay * (2 ** (self.failures - 1))))
