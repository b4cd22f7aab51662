"""Parsing of tus request headers: strict, so that bad input is a 400 and never a 500."""

from __future__ import annotations

import base64
import binascii
import re

from starlette.datastructures import Headers

from tus_server.errors import CONFLICTING_HEADERS, invalid_header

# Headers the protocol reads: one value each. Repeating one with another value is a 400, never "the first wins".
TUS_HEADERS = (
    "tus-resumable",
    "upload-length",
    "upload-offset",
    "upload-defer-length",
    "upload-metadata",
    "upload-checksum",
    "upload-concat",
    "x-http-method-override",
    "content-type",
)
_NUMBER = re.compile(r"[0-9]{1,19}")
_METADATA_KEY = re.compile(r"[^\s,]+")


def check_duplicates(headers: Headers) -> None:
    """400 if a tus header comes more than once with different values (identical repeats are harmless)."""
    for name in TUS_HEADERS:
        values = {value.strip() for value in headers.getlist(name)}
        if len(values) > 1:
            raise CONFLICTING_HEADERS(f"{name.title()} was sent {len(values)} times with different values")


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
