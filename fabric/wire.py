"""The JSON the HTTP API sends and the client reads: one frozen dataclass per shape, with `to_json`/`from_json`.

The server builds its answers from these (`from_record` takes what the aspect store hands back), local mode
builds the same ones in process, and the client parses the server's answers with `from_json`, so a key is
named in one place. `tests/client/test_wire.py` checks that each shape survives a round trip through JSON and
that what a real server sends parses without losing a key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aspects import ArtifactRecord
from aspects import Aspect as AspectRecord
from aspects.model import ARTIFACT_RECORD_KEYS

ARTIFACT_SCHEMA_NAME = "artifact.1"
COLLECTION_SCHEMA_NAME = "collection-member.1"


def _str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return None if value is None else int(value)


def schema_name(schema: str) -> str:
    """`urn:<ns>:schema:artifact.1` -> `artifact.1`; a bare name stays as it is."""
    return schema.rsplit(":", 1)[-1] if schema.startswith("urn:") else schema


@dataclass(frozen=True, slots=True)
class AspectJSON:
    """One aspect: typed content about an entity, asserted at `valid_from`, retracted at `valid_to` (if ever)."""

    urn: str
    entity: str
    schema: str
    content: Any
    asserter: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    retracted_by: str | None = None
    rel: str = "HAS_ASPECT"
    target: str | None = None

    @property
    def id(self) -> str:
        return self.urn

    @property
    def retracted(self) -> bool:
        return self.valid_to is not None

    @classmethod
    def from_record(cls, aspect: AspectRecord) -> AspectJSON:
        """What the store hands back, in the shape the API sends (the record's own JSON, read as any other)."""
        return cls.from_json(aspect.to_json())

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AspectJSON:
        return cls(
            urn=str(data.get("urn") or data.get("id") or ""),
            entity=str(data.get("entity") or ""),
            schema=str(data.get("schema") or ""),
            content=data.get("content"),
            asserter=_str(data, "asserter"),
            valid_from=_str(data, "valid_from"),
            valid_to=_str(data, "valid_to"),
            retracted_by=_str(data, "retracted_by"),
            rel=str(data.get("rel") or "HAS_ASPECT"),
            target=_str(data, "target"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "entity": self.entity,
            "schema": self.schema,
            "content": self.content,
            "asserter": self.asserter,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "retracted_by": self.retracted_by,
            "rel": self.rel,
            "target": self.target,
        }


@dataclass(frozen=True, slots=True)
class CreatorJSON:
    """Who made an artifact, as readers who do not manage it see them: organisation and display name only."""

    org: str | None
    name: str | None

    def to_json(self) -> dict[str, Any]:
        return {"org": self.org, "name": self.name}


@dataclass(frozen=True, slots=True)
class ArtifactJSON:
    """An artifact: its record and, when read one at a time, its current aspects.

    `uploader` is the uploader's URN for the uploader and those who manage the artifact; other readers get
    None there and `creator` (organisation and display name) instead.
    """

    urn: str
    name: str | None
    status: str
    uploader: str | None = None
    created: str | None = None
    mime_type: str | None = None
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None
    location: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    org: str | None = None
    aspects: tuple[AspectJSON, ...] | None = None  # None: not sent (listings)
    creator: CreatorJSON | None = None  # only in the view of readers who do not manage the artifact
    # The lifecycle, sent when one artifact is read (None: not sent).
    type: str | None = None
    labels: dict[str, str] | None = None
    file_count: int | None = None
    state: str | None = None  # draft, ready, locked, deleted (or the upload's pending, abandoned)
    versions: list[dict[str, Any]] | None = None  # `{repository, number}` of every repository version it is

    @classmethod
    def from_record(cls, record: ArtifactRecord) -> ArtifactJSON:
        """What the store hands back, in the shape the API sends (the record's own JSON, read as any other)."""
        return cls.from_json(record.to_json())

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ArtifactJSON:
        aspects = data.get("aspects")
        creator = data.get("creator")
        return cls(
            urn=str(data.get("urn") or data.get("id") or ""),
            name=_str(data, "name"),
            status=str(data.get("status") or ""),
            uploader=_str(data, "uploader"),
            created=_str(data, "created"),
            mime_type=_str(data, "mime_type"),
            size=_int(data, "size"),
            md5=_str(data, "md5"),
            sha256=_str(data, "sha256"),
            location=_str(data, "location"),
            properties=dict(data.get("properties") or {}),
            org=_str(data, "org"),
            aspects=None
            if aspects is None
            else tuple(AspectJSON.from_json(a) for a in aspects if isinstance(a, Mapping)),
            creator=CreatorJSON(_str(creator, "org"), _str(creator, "name")) if isinstance(creator, Mapping) else None,
            type=_str(data, "type"),
            labels=None if data.get("labels") is None else {str(k): str(v) for k, v in data["labels"].items()},
            file_count=_int(data, "file_count"),
            state=_str(data, "state"),
            versions=None if data.get("versions") is None else [dict(v) for v in data["versions"]],
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {key: getattr(self, key) for key in ARTIFACT_RECORD_KEYS}  # the store's keys, in order
        if self.aspects is not None:
            out["aspects"] = [aspect.to_json() for aspect in self.aspects]
        if self.creator is not None:
            out["creator"] = self.creator.to_json()
        lifecycle = {
            "type": self.type,
            "labels": self.labels,
            "file_count": self.file_count,
            "state": self.state,
            "versions": self.versions,
        }
        out.update((key, value) for key, value in lifecycle.items() if value is not None)
        return out

    def with_lifecycle(self, description: Mapping[str, Any], versions: list[dict[str, Any]]) -> ArtifactJSON:
        """The artifact with its type, labels, file count and state (`describe` of the lifecycle) and versions."""
        return replace(
            self,
            type=_str(description, "type"),
            labels=dict(description.get("labels") or {}),
            file_count=_int(description, "file_count"),
            state=_str(description, "state") or self.status,
            versions=list(versions),
        )

    def current(self, schema: str) -> list[AspectJSON]:
        """The aspects sent with the artifact whose schema is `schema` (a name such as `artifact.1`, or a URN)."""
        wanted = schema_name(schema)
        return [a for a in self.aspects or () if schema_name(a.schema) == wanted]

    @property
    def collections(self) -> list[str]:
        """The collections the artifact is in, from its `collection-member.1` aspects (sent with one artifact)."""
        return [
            str(a.content["collection"])
            for a in self.current(COLLECTION_SCHEMA_NAME)
            if isinstance(a.content, dict) and a.content.get("collection")
        ]


@dataclass(frozen=True, slots=True)
class GrantJSON:
    """A grant: the `grant.1` aspect that lets a user (`email`) or an organisation (`org`) read an artifact."""

    id: str
    artifact: str
    grantee: str
    email: str | None = None
    org: str | None = None
    granted_by: str | None = None
    granted_at: str | None = None
    revoked_at: str | None = None
    revoked_by: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GrantJSON:
        return cls(
            id=str(data["id"]),
            artifact=str(data["artifact"]),
            grantee=str(data["grantee"]),
            email=_str(data, "email"),
            org=_str(data, "org"),
            granted_by=_str(data, "granted_by"),
            granted_at=_str(data, "granted_at"),
            revoked_at=_str(data, "revoked_at"),
            revoked_by=_str(data, "revoked_by"),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "artifact": self.artifact, "grantee": self.grantee}
        if self.email is not None:
            out["email"] = self.email
        if self.org is not None:
            out["org"] = self.org
        out.update(
            granted_by=self.granted_by,
            granted_at=self.granted_at,
            revoked_at=self.revoked_at,
            revoked_by=self.revoked_by,
        )
        return out


@dataclass(frozen=True, slots=True)
class SharedArtifactJSON:
    """An artifact someone else shared with the caller (`/v1/shared/artifacts`): no uploader, the creator shown as
    organisation and display name."""

    urn: str
    name: str | None
    status: str
    created: str | None
    mime_type: str | None
    size: int | None
    md5: str | None
    sha256: str | None
    creator: CreatorJSON
    type: str | None = None
    labels: dict[str, str] | None = None
    state: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SharedArtifactJSON:
        creator = data.get("creator") or {}
        return cls(
            urn=str(data["urn"]),
            name=_str(data, "name"),
            status=str(data.get("status") or ""),
            created=_str(data, "created"),
            mime_type=_str(data, "mime_type"),
            size=_int(data, "size"),
            md5=_str(data, "md5"),
            sha256=_str(data, "sha256"),
            creator=CreatorJSON(_str(creator, "org"), _str(creator, "name")),
            type=_str(data, "type"),
            labels=None if data.get("labels") is None else {str(k): str(v) for k, v in data["labels"].items()},
            state=_str(data, "state"),
        )

    def to_json(self) -> dict[str, Any]:
        lifecycle = {"type": self.type, "labels": self.labels, "state": self.state}
        return {
            "urn": self.urn,
            "name": self.name,
            "status": self.status,
            "created": self.created,
            "mime_type": self.mime_type,
            "size": self.size,
            "md5": self.md5,
            "sha256": self.sha256,
            "creator": self.creator.to_json(),
            **{key: value for key, value in lifecycle.items() if value is not None},
        }
