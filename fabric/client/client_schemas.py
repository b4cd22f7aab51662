"""Aspect schemas the client relies on beyond the built-in ones; registered on first use where missing.

- `urn:fabric:schema:metadata.1`: free-form user metadata (`Artifact.add_metadata` without a `$schema`).
- `urn:fabric:schema:order-status.1`: an order's state (`running`, `succeeded`, `failed`), asserted on the
  order's URN by `Fabric.order`; each change is an update (retract + assert), so the history stays.
"""

from __future__ import annotations

from typing import Any

DRAFT = "https://json-schema.org/draft/2020-12/schema"
METADATA_SCHEMA = "urn:fabric:schema:metadata.1"
ORDER_STATUS_SCHEMA = "urn:fabric:schema:order-status.1"

CLIENT_SCHEMAS: dict[str, dict[str, Any]] = {
    METADATA_SCHEMA: {
        "$schema": DRAFT,
        "$id": METADATA_SCHEMA,
        "title": "Metadata",
        "description": "Free-form user metadata about an entity: any JSON object.",
        "type": "object",
    },
    ORDER_STATUS_SCHEMA: {
        "$schema": DRAFT,
        "$id": ORDER_STATUS_SCHEMA,
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
