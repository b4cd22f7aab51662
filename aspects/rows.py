"""Between graph rows and the store's records: canonical JSON text in, `Aspect` and `ArtifactRecord` out."""

from __future__ import annotations

from typing import Any

import orjson

from aspects.model import ArtifactRecord, Aspect, from_micros


def canonical(content: Any) -> str:
    """Canonical JSON text: orjson with sorted keys."""
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS).decode()


def aspect_from_row(row: dict[str, Any], rel: str) -> Aspect:
    return Aspect(
        urn=row["urn"],
        entity=row["entity"],
        schema=row["schema"],
        content=orjson.loads(row["content"]),
        asserter=row["asserter"],
        valid_from=from_micros(row["valid_from"]),  # type: ignore[arg-type]
        valid_to=from_micros(row["valid_to"]),
        retracted_by=row["retracted_by"],
        rel=rel,
        target=row["target"],
    )


def record_from_row(row: dict[str, Any]) -> ArtifactRecord:
    return ArtifactRecord(
        urn=row["urn"],
        name=row["name"],
        status=row["status"],
        uploader=row["uploader"],
        created=from_micros(row["created"]),
        mime_type=row["mime_type"],
        size=row["size"],
        md5=row["md5"],
        sha256=row["sha256"],
        location=row["location"],
        properties=orjson.loads(row["props"]) if row["props"] else {},
        org=row.get("org"),
    )
