"""Filling identifier placeholders in query templates, and opaque paging cursors."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from aspects.errors import InvalidCursor
from aspects.schemas import LABEL_RE, REL_RE

_CHECKS = {"label": LABEL_RE, "src": LABEL_RE, "dst": LABEL_RE, "rel": REL_RE}


def fill(template: str, **identifiers: str | list[str]) -> str:
    """`template` with `{label}`, `{src}`, `{dst}`, `{rel}` or `{rels}` replaced by checked identifiers.

    A value reaching here has been validated when its schema was registered; this checks again, so that no
    query text is ever built from an unchecked string.
    """
    for key, value in identifiers.items():
        if key == "rels":
            assert isinstance(value, list) and value
            for rel in value:
                if not REL_RE.match(rel):
                    raise ValueError(f"bad relationship type {rel!r}")
            text = "|".join(f"`{rel}`" for rel in value)
        else:
            assert isinstance(value, str)
            if not _CHECKS[key].match(value):
                raise ValueError(f"bad identifier {value!r}")
            text = value
        template = template.replace("{" + key + "}", text)
    return template


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
