"""A service written for IVCAP's client ports by changing the import: the examples of IVCAP's guide "Working with
Artifacts" (seed `ivcap-working-with-artifacts.txt`), run as written where they can be, in local and platform mode.

Where the guide's examples name things our fabric does not have, the test says what stands in: the entity of an
aspect is a real artifact (the store refuses aspects on nothing), and the schema `urn:my:schema:tag.1` is
registered first (aspects are validated against registered JSON Schemas).
"""

from __future__ import annotations

import io
import os
import re
import uuid
from pathlib import Path

import pytest

from fabric import Fabric
from fabric.client import Aspect, LocalPath, NotFound
from tests.fixtures_client import artifact_urn_of

DRAFT = "https://json-schema.org/draft/2020-12/schema"
TAG_SCHEMA = "urn:my:schema:tag.1"
ARTIFACT_URN = re.compile(r"urn:fabric:artifact:[0-9a-f-]{36}")


@pytest.fixture
def tagging(fab: Fabric) -> Fabric:
    """The fabric with the guide's `urn:my:schema:tag.1` registered (filed under the fabric's own namespace)."""
    fab.register_schema(
        {
            "$schema": DRAFT,
            "$id": TAG_SCHEMA,
            "type": "object",
            "required": ["tags"],
            "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
        }
    )
    return fab


def test_upload_a_local_file_with_name_and_policy(fab: Fabric, tmp_path: Path) -> None:
    image = tmp_path / "image.jpg"
    image.write_bytes(os.urandom(5000))
    artifact = fab.upload_artifact(name="my-image", file_path=str(image), policy="urn:fabric:policy:open")
    assert repr(artifact) == f"<Artifact id={artifact.id}, name='my-image', status=ready>"
    assert artifact_urn_of(fab, "my-image").fullmatch(artifact.id)
    assert artifact.mime_type == "image/jpeg"  # from the file's extension, as the name has none
    [policy] = fab.list_aspects(entity=artifact.id, schema="policy.1")
    assert policy.content == {"policy": "urn:fabric:policy:open"}


def test_upload_from_an_in_memory_stream(fab: Fabric) -> None:
    data = b"col1,col2\n1,2\n3,4\n"
    artifact = fab.upload_artifact(
        name="my-data.csv", io_stream=io.BytesIO(data), content_type="text/csv", content_size=len(data)
    )
    assert (artifact.name, artifact.mime_type, artifact.size) == ("my-data.csv", "text/csv", len(data))
    with artifact.open() as f:
        assert f.read() == data


def test_every_upload_parameter_of_the_table(fab: Fabric, tmp_path: Path) -> None:
    data = os.urandom(3000)
    source = tmp_path / "every.bin"
    source.write_bytes(data)
    artifact = fab.upload_artifact(
        name="every",
        file_path=source,
        content_type="application/x-every",
        collection="urn:fabric:collection:ivcap-table",
        policy="urn:fabric:policy:open",
        chunk_size=1000,  # three PATCHes on a server
        retries=3,
        retry_delay=0.1,
        force_upload=True,
    )
    fresh = fab.get_artifact(artifact.id)
    assert (fresh.name, fresh.mime_type, fresh.size) == ("every", "application/x-every", len(data))
    assert fresh.collection == "urn:fabric:collection:ivcap-table"
    assert fab.upload_artifact(name="every", file_path=source, force_upload=True).id != artifact.id


def test_automatic_deduplication_and_artifact_for_file(fab: Fabric, tmp_path: Path) -> None:
    path = tmp_path / "file.csv"
    path.write_bytes(b"a,b\n1,2\n")
    assert fab.artifact_for_file(path) is None
    artifact1 = fab.upload_artifact(name="data", file_path=str(path))
    artifact2 = fab.upload_artifact(name="data", file_path=str(path))
    assert artifact1.id == artifact2.id
    found = fab.artifact_for_file(str(path))
    assert found is not None and found.id == artifact1.id


def test_the_file_name_is_the_default_name_and_streams_without_one_get_a_generated_name(
    fab: Fabric, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("data").mkdir()
    Path("data/train.csv").write_bytes(b"x,y\n")
    assert fab.upload_artifact(file_path="data/train.csv").name == "train.csv"
    with open("data/train.csv", "rb") as opened:
        assert fab.upload_artifact(io_stream=opened).name == "train.csv"
    generated = fab.upload_artifact(io_stream=io.BytesIO(b"{}"), content_type="application/json")
    assert re.fullmatch(r"[0-9a-f-]{36}\.json", generated.name or "")


def test_get_an_artifact_and_the_three_ways_to_its_bytes(fab: Fabric, tmp_path: Path) -> None:
    data = os.urandom(200_000)
    source = tmp_path / "photo.jpg"
    source.write_bytes(data)
    artifact = fab.get_artifact(fab.upload_artifact(name="photo.jpg", file_path=source).id)
    assert (artifact.name, artifact.size, artifact.mime_type) == ("photo.jpg", len(data), "image/jpeg")

    with artifact.as_local_file() as path:
        assert isinstance(path, LocalPath)
        assert path.read_bytes() == data
    if fab.mode == "platform":
        assert not path.exists()  # a temporary download, deleted on leaving the block
    else:
        assert path.exists()  # local mode: the file that is already there, never deleted

    kept = artifact.as_local_file(tmp_path / "result.jpg")
    assert kept == (tmp_path / "result.jpg").resolve() and kept.read_bytes() == data
    with kept:
        pass
    assert kept.exists()  # an explicit path is kept

    with artifact.open() as f:
        assert f.read() == data

    total = 0
    with open(tmp_path / "output.jpg", "wb") as f:
        for chunk in artifact.as_stream():
            f.write(chunk)
            total += len(chunk)
    assert total == len(data) and (tmp_path / "output.jpg").read_bytes() == data


def test_list_artifacts_with_their_metadata(tagging: Fabric, tmp_path: Path) -> None:
    fab = tagging
    made = fab.upload_artifact(name="listed.txt", io_stream=io.BytesIO(b"listed"))
    made.add_metadata({"$schema": TAG_SCHEMA, "tags": ["listed"]})
    seen = {artifact.id: artifact for artifact in fab.list_artifacts(limit=20)}
    assert made.id in seen
    listed = fab.get_artifact(made.id)
    assert "urn:fabric:schema:tag.1" in {meta.schema for meta in listed.metadata}


def test_add_metadata_with_its_own_schema(tagging: Fabric) -> None:
    artifact = tagging.get_artifact(tagging.upload_artifact(name="reef.nc", io_stream=io.BytesIO(b"reef")).id)
    aspect = artifact.add_metadata({"$schema": TAG_SCHEMA, "tags": ["marine", "coral"]})
    assert aspect.entity == artifact.id
    assert aspect.schema == "urn:fabric:schema:tag.1"
    assert aspect.content == {"tags": ["marine", "coral"]}  # `$schema` names the schema; it is not content


def test_add_aspect_takes_the_schema_from_the_aspect_or_the_keyword(tagging: Fabric) -> None:
    fab = tagging
    entity = fab.upload_artifact(name="some", io_stream=io.BytesIO(b"some")).id
    aspect = fab.add_aspect(entity=entity, aspect={"$schema": TAG_SCHEMA, "tags": ["marine", "coral"]})
    assert isinstance(aspect, Aspect)
    assert re.fullmatch(r"urn:fabric:aspect:[0-9a-f-]{36}", aspect.id)
    assert aspect.content == {"tags": ["marine", "coral"]}

    retrieved = fab.get_aspect(aspect.id)
    assert retrieved == aspect
    assert fab.get_aspect(aspect.id.rsplit(":", 1)[-1]) == aspect  # a bare UUID

    explicit = fab.add_aspect(entity, {"tags": ["reef"]}, schema=TAG_SCHEMA)
    assert explicit.schema == aspect.schema and explicit.content == {"tags": ["reef"]}
    assert fab.add_aspect(entity, TAG_SCHEMA, {"tags": ["positional"]}).content == {"tags": ["positional"]}

    with pytest.raises(ValueError, match="names no schema"):
        fab.add_aspect(entity, {"tags": ["no schema"]})
    with pytest.raises(ValueError, match="is not schema="):
        fab.add_aspect(entity, {"$schema": TAG_SCHEMA, "tags": []}, schema="metadata.1")
    with pytest.raises(NotFound):
        fab.get_aspect(str(uuid.uuid4()))


def test_update_aspect_replaces_the_current_one_of_its_schema(tagging: Fabric) -> None:
    fab = tagging
    entity = fab.upload_artifact(name="upd", io_stream=io.BytesIO(b"upd")).id
    first = fab.update_aspect(entity, {"$schema": TAG_SCHEMA, "tags": ["one"]})  # nothing to replace: asserted
    second = fab.update_aspect(entity, {"tags": ["two"]}, schema=TAG_SCHEMA)
    assert second.urn != first.urn
    [current] = fab.list_aspects(entity=entity, schema=TAG_SCHEMA)
    assert current.content == {"tags": ["two"]}
    history = list(fab.list_aspects(entity=entity, schema=TAG_SCHEMA, include_retracted=True))
    assert sorted(a.content["tags"][0] for a in history) == ["one", "two"]
    assert fab.get_aspect(first.urn).retracted  # the old one stays in the history, retracted

    fab.add_aspect(entity, {"$schema": TAG_SCHEMA, "tags": ["three"]})  # now two current ones: both replaced
    four = fab.update_aspect(entity, {"$schema": TAG_SCHEMA, "tags": ["four"]})
    assert [a.content for a in fab.list_aspects(entity=entity, schema=TAG_SCHEMA)] == [{"tags": ["four"]}]

    by_urn = fab.update_aspect(four.urn, {"tags": ["five"]})  # this client's own form: the aspect by URN
    assert fab.get_aspect(four.urn).retracted and not by_urn.retracted
    assert [a.content for a in fab.list_aspects(entity=entity, schema=TAG_SCHEMA)] == [{"tags": ["five"]}]


def test_list_aspects_by_entity_schema_and_limit(tagging: Fabric) -> None:
    fab = tagging
    entity = fab.upload_artifact(name="many", io_stream=io.BytesIO(b"many")).id
    for tag in ("a", "b", "c"):
        fab.add_aspect(entity, {"$schema": TAG_SCHEMA, "tags": [tag]})
    assert len(list(fab.list_aspects(entity=entity, schema=TAG_SCHEMA))) == 3
    assert len(list(fab.list_aspects(entity=entity, schema=TAG_SCHEMA, limit=2))) == 2


def test_local_file_urns_in_both_forms(fab: Fabric, tmp_path: Path) -> None:
    data = b"input bytes"
    (tmp_path / "input.csv").write_bytes(data)
    for urn in (f"file://{tmp_path}/input.csv", f"urn:file://{tmp_path}/input.csv"):
        artifact = fab.get_artifact(urn)
        assert artifact.id == f"urn:file://{tmp_path}/input.csv"
        assert (artifact.name, artifact.size) == ("input.csv", len(data))
        with artifact.open() as f:
            assert f.read() == data
        with artifact.as_local_file() as path:
            assert path == tmp_path / "input.csv"  # the file itself: no copy, no network
        assert (tmp_path / "input.csv").exists()
    with pytest.raises(NotFound):
        fab.get_artifact(f"urn:file://{tmp_path}/missing.csv")
