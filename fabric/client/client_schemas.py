"""Aspect schemas the client relies on beyond the built-in ones; registered on first use where missing.

- `metadata.1`: free-form user metadata (`Artifact.add_metadata` without a `$schema`).
- `order-status.1`: an order's state (`running`, `succeeded`, `failed`), asserted on the
  order's URN by `Fabric.order`; each change is an update (retract + assert), so the history stays.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from fabric.client.errors import NotFound
from fabric.client.transport import Transport
from fabric.urns import fabric_urn
from fabric.wire import AspectJSON, schema_name

DRAFT = "https://json-schema.org/draft/2020-12/schema"
METADATA_SCHEMA = "metadata.1"
ORDER_STATUS_SCHEMA = "order-status.1"

CLIENT_SCHEMAS: dict[str, dict[str, Any]] = {
    METADATA_SCHEMA: {
        "$schema": DRAFT,
        "$id": fabric_urn("schema", METADATA_SCHEMA),  # a server in another namespace files it under its own
        "title": "Metadata",
        "description": "Free-form user metadata about an entity: any JSON object.",
        "type": "object",
    },
    ORDER_STATUS_SCHEMA: {
        "$schema": DRAFT,
        "$id": fabric_urn("schema", ORDER_STATUS_SCHEMA),
        "title": "Order status",
        "description": "The state of an order run by a service: which service, its inputs, and how it ended.",
        "type": "object",
        "required": ["service", "status"],
        "additionalProperties": False,
        "properties": {
            "service": {"type": "string", "minLength": 1},
            "status": {"enum": ["running", "succeeded", "failed"]},
            "inputs": {"type": "array", "items": {"type": "string"}},
            "outputs": {"type": "array", "items": {"type": "string"}},
            "started": {"type": "string", "format": "date-time"},
            "finished": {"type": "string", "format": "date-time"},
            "error": {"type": "string"},
        },
    },
}


_registered: weakref.WeakKeyDictionary[Transport, set[str]] = weakref.WeakKeyDictionary()


def ensure_registered(transport: Transport, schema: str) -> None:
    """Register one of the client's own schemas where the fabric lacks it (once per transport)."""
    name = schema_name(schema)
    if name not in CLIENT_SCHEMAS:
        return
    known = _registered.setdefault(transport, set())
    if name in known:
        return
    try:
        transport.get_schema(name)
    except NotFound:
        transport.register_schema(CLIENT_SCHEMAS[name])
    known.add(name)


def assert_aspect(transport: Transport, entity: str, schema: str, content: Any) -> AspectJSON:
    """Assert an aspect, registering the schema first if it is one of the client's own."""
    ensure_registered(transport, schema)
    return transport.assert_aspect(entity, schema, content)


class _Nothing:
    """No value given (None is a value an aspect's content may be)."""

    def __repr__(self) -> str:
        return "NOTHING"


NOTHING: Any = _Nothing()


def has_schema(aspect: Any) -> bool:
    return isinstance(aspect, Mapping) and "$schema" in aspect


def is_aspect_urn(text: str) -> bool:
    parts = text.split(":")
    return len(parts) >= 4 and parts[0] == "urn" and parts[2] == "aspect"


def aspect_and_schema(aspect: Any, content: Any, schema: str | None) -> tuple[str, Any]:
    """(schema, content) of an aspect given IVCAP's way (content with its own `$schema`, or `schema=`) or as
    `(schema, content)`. The `$schema` key is not part of the content asserted."""
    if content is not NOTHING:
        if not isinstance(aspect, str):
            raise TypeError("give the schema and the content, or one aspect with its own '$schema'")
        if schema is not None and schema != aspect:
            raise ValueError(f"two schemas given: {aspect!r} and schema={schema!r}")
        return aspect, content
    if not isinstance(aspect, Mapping):
        raise TypeError("the aspect is a JSON object with its own '$schema', or give schema=")
    body = dict(aspect)
    named = body.pop("$schema", None)
    if schema is not None and named is not None and named != schema:
        raise ValueError(f"the aspect's '$schema' {named!r} is not schema={schema!r}")
    chosen = schema or named
    if not isinstance(chosen, str) or not chosen:
        raise ValueError("the aspect names no schema: give it a '$schema' key, or pass schema=")
    return chosen, body
