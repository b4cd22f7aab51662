"""Opaque keyset-paging cursors: a kind word and the last row's sort key, as base64url JSON."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from aspects.errors import InvalidCursor


def encode_cursor(kind: str, *values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([kind, *values])).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str, types: tuple[type, ...]) -> list[Any]:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidCursor("the cursor is not one this server handed out") from None
    if not isinstance(raw, list) or len(raw) != len(types) + 1 or raw[0] != kind:
        raise InvalidCursor("the cursor is not one this server handed out")
    values = raw[1:]
    if not all(isinstance(value, kind_) and not isinstance(value, bool) for value, kind_ in zip(values, types)):
        raise InvalidCursor("the cursor is not one this server handed out")
    return values
