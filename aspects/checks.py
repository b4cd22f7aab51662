"""Checks of what callers pass to the store, shared by its operations: each raises ValueError saying why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aspects.model import to_micros

MAX_LIMIT = 10_000  # largest page and largest batch
SHA256_HEX = frozenset("0123456789abcdef")


def check_limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return limit


def check_asserter(asserter: Any) -> str:
    if not isinstance(asserter, str) or not asserter or len(asserter) > 1024:
        raise ValueError("asserter must be a non-empty string (the URN of a principal)")
    return asserter


def check_sha256(sha256: Any) -> str:
    if not isinstance(sha256, str) or len(sha256) != 64 or not set(sha256) <= SHA256_HEX:
        raise ValueError("sha256 must be 64 lowercase hex digits")
    return sha256


def micros(moment: datetime, name: str) -> int:
    """`moment` as microseconds since the epoch, the way the graph keeps times."""
    if not isinstance(moment, datetime):
        raise ValueError(f"{name} must be a datetime")
    return to_micros(moment)
