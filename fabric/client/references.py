"""`fabric://<project>/<name>[:<number|alias>]` references to repository versions, and what they resolve to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fabric.client.transport import Transport

SCHEME = "fabric://"


def parse_reference(reference: str) -> tuple[str, str]:
    """(`<project>/<name>`, version or alias) of `p/n`, `p/n:v` or `fabric://p/n[:v]`; `latest` when none."""
    text = reference[len(SCHEME) :] if reference.startswith(SCHEME) else reference
    repository, _, ref = text.partition(":")
    if repository.count("/") != 1:
        raise ValueError(f"{reference!r} is not <project>/<name>[:<version|alias>]")
    return repository, ref or "latest"


def resolve_urn(transport: Transport, urn: str, at: datetime | str | None = None) -> str:
    """`urn` itself, or for a `fabric://` reference the artifact URN it names (now, or at `at`)."""
    if isinstance(urn, str) and urn.startswith(SCHEME):
        return str(transport.resolve(urn, at)["artifact"])
    return urn


def find_references(value: Any) -> list[str]:
    """Every `fabric://` reference in a JSON value, first seen first, once each."""
    found: dict[str, None] = {}
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and item.startswith(SCHEME):
            found.setdefault(item)
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
    return list(found)


def version_body(
    artifact: str,
    *,
    description: str = "",
    tags: list[str] | None = None,
    content: dict[str, Any] | None = None,
    order: str | None = None,
    aliases: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """What registering `artifact` as a repository's next version sends."""
    body: dict[str, Any] = {
        "artifact": artifact,
        "description": description,
        "tags": list(tags or []),
        "aliases": list(aliases),
    }
    if content is not None:
        body["content"] = content
    if order is not None:
        body["order"] = order
    return body
