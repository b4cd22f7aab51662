"""URNs: `urn:<ns>:<kind>:<id>`, plus `urn:file:///abs/path` for artifacts in local mode."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from aspects.errors import InvalidUrn

DEFAULT_NAMESPACE = "fabric"  # the namespace word of `urn:<namespace>:...` unless a store is given another
MAX_URN_LENGTH = 1024
NAMESPACE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
KIND_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
# Printable ASCII without spaces, quotes, angle brackets, backslash or backtick.
URN_RE = re.compile(r"^urn:([a-z0-9][a-z0-9-]{0,31}):([a-z][a-z0-9-]{0,31}):([A-Za-z0-9._~:@!$&()*+,;=/%?#\[\]-]+)$")
FILE_URN_RE = re.compile(r"^urn:file://(/[^\x00-\x1f\x7f]*)$")
ARTIFACT_RE = re.compile(r"^urn:[a-z0-9][a-z0-9-]{0,31}:artifact:[A-Za-z0-9._~:@!$&()*+,;=/%?#\[\]-]+$")


@dataclass(frozen=True, slots=True)
class Urn:
    ns: str
    kind: str
    id: str

    def __str__(self) -> str:
        if self.ns == "file":
            return f"urn:file://{self.id}"
        return f"urn:{self.ns}:{self.kind}:{self.id}"


def parse_urn(text: Any, kind: str | None = None) -> Urn:
    """The parts of `text`; InvalidUrn if it is not a URN (or not of `kind`, when given)."""
    if not isinstance(text, str) or len(text) > MAX_URN_LENGTH:
        raise InvalidUrn(f"{str(text)[:80]!r} is not a URN")
    if (match := FILE_URN_RE.match(text)) is not None:
        urn = Urn("file", "artifact", match.group(1))
    elif (match := URN_RE.match(text)) is not None:
        urn = Urn(match.group(1), match.group(2), match.group(3))
    else:
        raise InvalidUrn(f"{text[:80]!r} is not a URN of the form urn:<namespace>:<kind>:<id>")
    if kind is not None and urn.kind != kind:
        raise InvalidUrn(f"{text[:80]!r} is not a {kind} URN")
    return urn


def new_urn(kind: str, ns: str = DEFAULT_NAMESPACE) -> str:
    """A fresh `urn:<ns>:<kind>:<uuid4>`."""
    if not NAMESPACE_RE.match(ns) or not KIND_RE.match(kind):
        raise InvalidUrn(f"bad namespace {ns!r} or kind {kind!r}")
    return f"urn:{ns}:{kind}:{uuid.uuid4()}"


def is_artifact_urn(text: Any) -> bool:
    """Whether `text` names an artifact: `urn:<any ns>:artifact:<id>` or `urn:file:///abs/path`."""
    if not isinstance(text, str) or len(text) > MAX_URN_LENGTH:
        return False
    return bool(ARTIFACT_RE.match(text) or FILE_URN_RE.match(text))


def find_artifact_urns(value: Any) -> list[str]:
    """Every string in a JSON value (objects, arrays, nested) that is an artifact URN, first seen first, once each."""
    found: dict[str, None] = {}
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if is_artifact_urn(item):
                found.setdefault(item)
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
    return list(found)
