"""The JSON shapes of `fabric.wire`: each survives a round trip through JSON, and what a real server sends parses
into them without losing or inventing a key."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from fabric.client import Fabric
from fabric.wire import ArtifactJSON, AspectJSON, CreatorJSON, GrantJSON, SharedArtifactJSON
from tests.server_process import FabricServer

ASPECT = AspectJSON(
    urn="urn:fabric:aspect:1f0c8a52-7d0e-4a57-a1a3-0b0d3c3f9a10",
    entity="urn:fabric:artifact:6b1f3f0e-8f43-4a0e-9d7c-2f1f6d0c1e22",
    schema="urn:fabric:schema:collection-member.1",
    content={"collection": "urn:fabric:collection:climate"},
    asserter="urn:fabric:user:alice@acme.org",
    valid_from="2026-01-31T12:00:00.000001Z",
    valid_to="2026-02-01T12:00:00Z",
    retracted_by="urn:fabric:user:bob@acme.org",
    rel="IN_COLLECTION",
    target="urn:fabric:collection:climate",
)
ARTIFACT = ArtifactJSON(
    urn=ASPECT.entity,
    name="train.csv",
    status="ready",
    uploader="urn:fabric:user:alice@acme.org",
    created="2026-01-31T12:00:00Z",
    mime_type="text/csv",
    size=12,
    md5="0" * 32,
    sha256="f" * 64,
    location="blobs/sha256/ff/ff/" + "f" * 64,
    properties={"upload_id": "abc", "uploader_name": "Alice"},
    org="urn:fabric:org:acme",
    aspects=(ASPECT,),
    creator=CreatorJSON(org="acme", name="Alice"),
)
SHAPES: list[Any] = [
    ASPECT,
    AspectJSON(urn="urn:fabric:aspect:x", entity="urn:fabric:order:y", schema="order-status.1", content=[1, "two"]),
    ARTIFACT,
    ArtifactJSON(urn="urn:fabric:artifact:z", name=None, status="pending"),  # a listing: no aspects, no creator
    GrantJSON(id=ASPECT.urn, artifact=ASPECT.entity, grantee="urn:fabric:user:bob@x.org", email="bob@x.org"),
    GrantJSON(id=ASPECT.urn, artifact=ASPECT.entity, grantee="urn:fabric:org:x", org="x", revoked_at="2026-01-01Z"),
    SharedArtifactJSON(
        urn=ARTIFACT.urn,
        name="a",
        status="ready",
        created=None,
        mime_type="text/csv",
        size=1,
        md5=None,
        sha256="f" * 64,
        creator=CreatorJSON(org="acme", name=None),
    ),
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda shape: type(shape).__name__)
def test_every_shape_round_trips_through_json(shape: Any) -> None:
    sent = orjson.loads(orjson.dumps(shape.to_json()))
    assert type(shape).from_json(sent) == shape
    assert type(shape).from_json(sent).to_json() == sent


def test_collections_come_from_collection_member_aspects() -> None:
    assert ARTIFACT.collections == ["urn:fabric:collection:climate"]
    assert ArtifactJSON(urn="urn:fabric:artifact:z", name=None, status="ready").collections == []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with FabricServer(tmp_path_factory.mktemp("wire") / "data") as running:
        yield running


def test_what_the_server_sends_parses_without_losing_a_key(server: FabricServer) -> None:
    collection = f"wire-{uuid.uuid4().hex[:8]}"
    with Fabric(url=server.url) as fab, httpx.Client(base_url=server.url) as http:
        made = fab.upload_artifact(name="w.csv", io_stream=io.BytesIO(b"a,b\n"), collection=collection)
        tagged = fab.add_metadata(made.id, {"station": "Mawson"})
        grant = fab.grant_access(made.id, email="bob@example.org")

        artifact = http.get(f"/v1/artifacts/{made.id}").json()
        assert ArtifactJSON.from_json(artifact).to_json() == artifact
        listing = http.get("/v1/artifacts", params={"collection": f"urn:fabric:collection:{collection}"}).json()
        assert [ArtifactJSON.from_json(item).to_json() for item in listing["items"]] == listing["items"]
        aspect = http.get(f"/v1/aspects/{tagged.urn}").json()
        assert AspectJSON.from_json(aspect).to_json() == aspect
        grants = http.get(f"/v1/artifacts/{made.id}/access").json()["items"]
        assert [GrantJSON.from_json(item).to_json() for item in grants] == grants == [grant]


@pytest.mark.parametrize("mode", ["local", "platform"])
def test_artifact_collection_names_the_collection_it_was_uploaded_to(
    mode: str, server: FabricServer, tmp_path: Path
) -> None:
    fab = Fabric.local(tmp_path / "local") if mode == "local" else Fabric(url=server.url)
    with fab:
        made = fab.upload_artifact(name="c.bin", io_stream=io.BytesIO(b"x"), collection="wire-climate")
        assert made.collection == "urn:fabric:collection:wire-climate"
        assert made.collections == ["urn:fabric:collection:wire-climate"]
        plain = fab.upload_artifact(name="d.bin", io_stream=io.BytesIO(b"y"))
        assert plain.collection is None
