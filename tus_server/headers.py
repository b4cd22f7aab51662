"""Parsing of tus request headers: strict, so that bad input is a 400 and never a 500."""

from __future__ import annotations

import base64
import binascii
import re

from tus_server.errors import invalid_header

_NUMBER = re.compile(r"[0-9]{1,19}")
_METADATA_KEY = re.compile(r"[^\s,]+")


def parse_size(value: str | None, header: str) -> int | None:
    """A non-negative decimal integer header, or None when absent."""
    if value is None:
        return None
    value = value.strip()
    if not _NUMBER.fullmatch(value):
        raise invalid_header(header, f"{header} must be a non-negative decimal integer, got {value[:40]!r}")
    return int(value)


def parse_metadata(value: str | None) -> dict[str, str | None]:
    """`Upload-Metadata`: comma-separated `key base64value` pairs; values are decoded as UTF-8 where possible.

    A key without a value maps to None. Keys must be unique and free of spaces and commas.
    """
    if value is None or not value.strip():
        return {}
    metadata: dict[str, str | None] = {}
    for pair in value.split(","):
        parts = pair.strip().split(" ")
        if not parts[0] or len(parts) > 2 or not _METADATA_KEY.fullmatch(parts[0]):
            raise invalid_header("Upload-Metadata", f"malformed pair {pair.strip()[:60]!r}: expected 'key base64value'")
        key = parts[0]
        if key in metadata:
            raise invalid_header("Upload-Metadata", f"duplicate key {key!r}")
        if len(parts) == 1:
            metadata[key] = None
            continue
        try:
            raw = base64.b64decode(parts[1], validate=True)
        except (binascii.Error, ValueError):
            raise invalid_header("Upload-Metadata", f"value of {key!r} is not valid base64") from None
        try:
            metadata[key] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid_header("Upload-Metadata", f"value of {key!r} is not UTF-8 text") from None
    return metadata


def encode_metadata(metadata: dict[str, str | None]) -> str:
    return ",".join(
        key if value is None else f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in metadata.items()
    )
