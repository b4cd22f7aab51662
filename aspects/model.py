"""What the store hands back: plain dataclasses, each with `to_json()` giving a JSON-ready dict."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAR_FUTURE = 1 << 62  # "now" in time-window queries: later than any stored time (microseconds)


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch; naive datetimes are taken as UTC. The graph stores times this way."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int | None) -> datetime | None:
    if micros is None:
        return None
    return datetime.fromtimestamp(micros // 1_000_000, tz=UTC).replace(microsecond=micros % 1_000_000)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, e.g. `2026-01-31T12:00:00.123456Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class Aspect:
    urn: str
    entity: str
    schema: str
    content: Any
    asserter: str
    valid_from: datetime
    valid_to: datetime | None = None
    retracted_by: str | None = None
    rel: str = "HAS_ASPECT"
    target: str | None = None  # the node the edge joins the entity to (a schema node for content-only aspects)

    @property
    def current(self) -> bool:
        return self.valid_to is None

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "entity": self.entity,
            "schema": self.schema,
            "content": self.content,
            "asserter": self.asserter,
            "valid_from": iso(self.valid_from),
            "valid_to": iso(self.valid_to),
            "retracted_by": self.retracted_by,
            "rel": self.rel,
            "target": self.target,
        }


@dataclass(slots=True)
class ArtifactRecord:
    urn: str
    name: str | None
    status: str  # "pending" until artifact.1 is asserted, then "ready"
    uploader: str | None = None
    created: datetime | None = None
    mime_type: str | None = None
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None
    location: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)  # what the upload recorded, e.g. upload_id
    org: str | None = None  # the creator's organisation (`urn:<ns>:org:<id>`), whose admins manage it
    aspects: list[Aspect] | None = None  # the current aspects, filled by get_artifact
    # Current link aspects of other entities pointing at it, of the schemas get_artifact was asked for (`linked_by`).
    linked_by: list[Aspect] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {key: getattr(self, key) for key in ARTIFACT_RECORD_KEYS}
        out["created"] = iso(self.created)
        if self.aspects is not None:
            out["aspects"] = [aspect.to_json() for aspect in self.aspects]
        return out


ARTIFACT_RECORD_KEYS = tuple(f.name for f in fields(ArtifactRecord) if f.name not in ("aspects", "linked_by"))
"""The keys of an artifact's JSON, in order (its aspects, when read one at a time, come after them)."""


@dataclass(slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None  # None on the last page

    def to_json(self) -> dict[str, Any]:
        return {
            "items": [item.to_json() if hasattr(item, "to_json") else item for item in self.items],
            "next_cursor": self.next_cursor,
        }


@dataclass(slots=True)
class Lineage:
    root: str
    nodes: list[dict[str, Any]]  # {"urn", "kind", ...properties such as name and status}
    edges: list[dict[str, Any]]  # {"from", "to", "rel", "aspect"}, in the edge's stored direction
    truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"root": self.root, "nodes": self.nodes, "edges": self.edges, "truncated": self.truncated}
