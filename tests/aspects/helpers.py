"""Small builders shared by the aspect tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from aspects import ArtifactRecord, AspectStore, new_urn

USER = "urn:fabric:user:alice@example.com"
PRODUCED_BY = "urn:fabric:schema:artifact-produced-by-order.1"
USED_BY = "urn:fabric:schema:artifact-used-by-order.1"
MEMBER = "urn:fabric:schema:collection-member.1"
POLICY = "urn:fabric:schema:policy.1"
ARTIFACT = "urn:fabric:schema:artifact.1"


def artifact_content(
    name: str = "data.csv",
    *,
    body: bytes | None = None,
    mime_type: str = "text/csv",
    created: str = "2026-01-02T03:04:05Z",
) -> dict[str, Any]:
    body = name.encode() if body is None else body
    sha256 = hashlib.sha256(body).hexdigest()
    return {
        "name": name,
        "mime_type": mime_type,
        "size": len(body),
        "md5": hashlib.md5(body).hexdigest(),
        "sha256": sha256,
        "location": f"blob:sha256:{sha256}",
        "created": created,
        "uploader": USER,
    }


def ready_artifact(
    store: AspectStore, name: str = "data.csv", *, mime_type: str = "text/csv", created: datetime | None = None
) -> ArtifactRecord:
    urn = new_urn("artifact")
    created = created or datetime.now(UTC)
    store.create_artifact(urn, name=name, uploader=USER, created=created)
    stamp = created.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return store.complete_artifact(
        urn, artifact_content(name, body=urn.encode(), mime_type=mime_type, created=stamp), asserter=USER
    )


def produced_by(store: AspectStore, artifact: str, order: str) -> str:
    return store.assert_aspect(artifact, PRODUCED_BY, {"order": order}, asserter=USER).urn


def used_by(store: AspectStore, artifact: str, order: str) -> str:
    return store.assert_aspect(artifact, USED_BY, {"order": order}, asserter=USER).urn
