"""When to try a request again, and how long to wait first."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import httpx

# Each retry is told here at INFO (silent unless a program asks): `fabric` commands show it to their user.
log = logging.getLogger("fabric.client.retry")


@dataclass(frozen=True, slots=True)
class RetryNotice:
    """What a retry waits for: the failure, which attempt failed, the pause, and the longest wait still ahead."""

    error: BaseException
    failures: int
    retries: int
    pause: float
    remaining: float  # seconds of pauses left if every further attempt fails too


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
        pause = self._pause(self.failures)
        remaining = sum(self._pause(n) for n in range(self.failures, self.retries + 1))
        log.info(
            "retrying in %.1f s after: %s",
            pause,
            exc,
            extra={"retry": RetryNotice(exc, self.failures, self.retries, pause, remaining)},
        )
        time.sleep(pause)

    def _pause(self, failures: int) -> float:
        return min(self.cap, self.delay * 2.0 ** (failures - 1))
