"""Artifact names come from clients: keep them as display names, never let them act as paths."""

from __future__ import annotations

import mimetypes
import unicodedata

MAX_NAME_LENGTH = 255


def safe_name(raw: str) -> str:
    """The last path segment of `raw`, without control characters; ValueError if nothing usable is left.

    `../../etc/passwd` becomes `passwd` and `C:\\temp\\x.csv` becomes `x.csv`: a name can never climb out of
    the directory a client later saves it in.
    """
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if name in ("", ".", ".."):
        raise ValueError(f"{raw!r} is not a usable file name")
    return name[:MAX_NAME_LENGTH]


def guess_mime_type(name: str | None) -> str:
    guessed = mimetypes.guess_type(name or "", strict=False)[0]
    return guessed or "application/octet-stream"
