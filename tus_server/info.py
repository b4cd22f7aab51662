"""What the server knows of one upload, persisted as a small JSON file beside its data."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

ConcatKind = Literal["partial", "final"]
Protocol = Literal["tus", "ietf-draft"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class UploadInfo:
    id: str
    length: int | None  # None while the length is deferred
    offset: int = 0  # bytes durably written; never more than what is on disk after fdatasync
    metadata: dict[str, str | None] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    expires_at: datetime | None = None
    concat: ConcatKind | None = None
    parts: list[str] = field(default_factory=list)  # ids of the partial uploads of a final upload
    extra_headers: dict[str, str] = field(default_factory=dict)  # given by the creation hook, sent on every answer
    tags: dict[str, str] = field(default_factory=dict)  # what the hooks keep with the upload; never sent to clients
    sha256: str | None = None  # hex digests of the whole upload, known once it is complete
    expected_sha256: str | None = None  # what the client said the whole upload's sha256 is (Repr-Digest)
    md5: str | None = None
    finished: bool = False  # the completion hook has run successfully
    protocol: Protocol = "tus"  # the protocol that created the upload; only it may continue the upload

    @property
    def is_complete(self) -> bool:
        return self.length is not None and self.offset == self.length

    @property
    def is_partial(self) -> bool:
        return self.concat == "partial"

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and (now or utcnow()) >= self.expires_at

    def to_bytes(self) -> bytes:
        """The info as JSON; orjson writes the datetimes and copies nothing (`asdict` deep-copied every field,
        a noticeable part of a small upload's CPU)."""
        return orjson.dumps({name: getattr(self, name) for name in _FIELD_NAMES})

    @classmethod
    def from_bytes(cls, data: bytes) -> UploadInfo:
        raw: dict[str, Any] = orjson.loads(data)
        for key in ("created_at", "expires_at"):
            if raw.get(key):
                raw[key] = datetime.fromisoformat(raw[key])
        return cls(**raw)


_FIELD_NAMES = tuple(f.name for f in fields(UploadInfo))
