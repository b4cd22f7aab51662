"""The client in both modes: uploads, reads, downloads, aspects, lineage, errors, configuration."""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

import pytest

from fabric import Artifact, Fabric
from fabric.client import BadRequest, ConfigurationError, NotFound
from fabric.client.http_transport import HttpTransport
from tests.fixtures_client import artifact_urn_of

ARTIFACT_URN = re.compile(r"urn:fabric:artifact:[0-9a-f-]{36}")


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ---- configuration --------------------------------------------------------------------------------


def test_fabric_picks_platform_mode_from_fabric_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FABRIC_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("FABRIC_TOKEN", "t0ken")
    fab = Fabric()
    assert fab.mode == "platform"
    assert fab.destination == "http://127.0.0.1:9"
    assert isinstance(fab._transport, HttpTransport)
    assert fab._transport.http.headers["Authorization"] == "Bearer t0ken"


def test_fabric_without_url_is_local_under_fabric_local_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FABRIC_LOCAL_DIR", str(tmp_path / "here"))
    fab = Fabric()
    assert fab.mode == "local"
    assert fab.destination == f"local:{(tmp_path / 'here').resolve()}"


def test_local_default_dir_is_fabric_artifacts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert Fabric().destination == f"local:{tmp_path.resolve() / 'fabric-artifacts'}"


def test_token_without_url_is_a_clear_value_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="no server URL"):
        Fabric(token="abc")
    monkeypatch.setenv("FABRIC_TOKEN", "abc")
    with pytest.raises(ConfigurationError, match="FABRIC_URL"):
        Fabric()


def test_local_ignores_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FABRIC_URL", "http://127.0.0.1:9")
    assert Fabric.local(tmp_path).mode == "local"


# ---- uploads --------------------------------------------------------------------------------------


def test_upload_file_returns_a_ready_artifact(fab: Fabric, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    artifact = fab.upload_artifact(name="weights.bin", file_path=write(tmp_path / "w.bin", data))
    assert isinstance(artifact, Artifact)
    assert artifact_urn_of(fab, "weights.bin").fullmatch(artifact.id)
    assert (artifact.name, artifact.size, artifact.status) == ("weights.bin", len(data), "ready")
    assert artifact.sha256 == hashlib.sha256(data).hexdigest()
    # local mode hashes as it copies; a server computes md5 only for uploads that ask for it
    assert artifact.md5 == (hashlib.md5(data).hexdigest() if fab.mode == "local" else None)
    assert repr(artifact) == f"<Artifact id={artifact.id}, name='weights.bin', status=ready>"


def test_content_type_guessed_and_the_file_name_kept(fab: Fabric, tmp_path: Path) -> None:
    artifact = fab.upload_artifact(file_path=write(tmp_path / "table.csv", b"a,b\n1,2\n"))
    assert artifact.name == "table.csv"
    assert artifact.mime_type == "text/csv"
    named = fab.upload_artifact(name="x.json", file_path=write(tmp_path / "blob", b"{}"))
    assert named.mime_type == "application/json"
    explicit = fab.upload_artifact(
        name="x.json", file_path=tmp_path / "blob", content_type="application/x-thing", force_upload=True
    )
    assert explicit.mime_type == "application/x-thing"


def test_upload_in_memory_stream_of_known_size(fab: Fabric) -> None:
    data = b"col1,col2\n1,2\n3,4\n"
    artifact = fab.upload_artifact(
        name="my-data.csv", io_stream=io.BytesIO(data), content_type="text/csv", content_size=len(data)
    )
    assert (artifact.size, artifact.mime_type, artifact.name) == (len(data), "text/csv", "my-data.csv")
    assert artifact.read_bytes() == data


class OneWay(io.RawIOBase):
    """A stream that cannot seek and whose size nobody knows (like a pipe)."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        chunk = self.inner.read(min(len(buffer), 7000))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("size", [0, 5000, 3 * 65536])
def test_upload_stream_of_unknown_size_uses_deferred_length(fab: Fabric, size: int) -> None:
    data = os.urandom(size)
    artifact = fab.upload_artifact(name="piped.bin", io_stream=OneWay(data), chunk_size=65536)
    assert artifact.size == size
    assert artifact.sha256 == hashlib.sha256(data).hexdigest()
    assert b"".join(artifact.as_stream()) == data


def test_text_stream_is_encoded(fab: Fabric) -> None:
    artifact = fab.upload_artifact(name="note.txt", io_stream=io.StringIO("héllo"))
    assert artifact.read_bytes() == "héllo".encode()
    assert artifact.mime_type == "text/plain"


def test_upload_needs_exactly_one_source(fab: Fabric, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        fab.upload_artifact(name="x")
    with pytest.raises(FileNotFoundError):
        fab.upload_artifact(file_path=tmp_path / "missing.bin")


def test_collection_and_policy_are_applied(fab: Fabric, tmp_path: Path) -> None:
    artifact = fab.upload_artifact(
        file_path=write(tmp_path / "c.txt", b"c"), collection="results", policy="urn:fabric:policy:open"
    )
    schemas = {a.schema: a.content for a in artifact.aspects}
    assert schemas["urn:fabric:schema:collection-member.1"] == {"collection": "urn:fabric:collection:results"}
    assert schemas["urn:fabric:schema:policy.1"] == {"policy": "urn:fabric:policy:open"}
    assert artifact.id in [a.id for a in fab.collection("results")]
    assert artifact.id in [a.id for a in fab.list_artifacts(collection="urn:fabric:collection:results")]


def test_bad_collection_is_refused_with_the_servers_reason(fab: Fabric) -> None:
    with pytest.raises(BadRequest, match="collection"):
        fab.upload_artifact(name="x.txt", io_stream=io.BytesIO(b"x"), collection="urn:fabric:policy:x")


# ---- reading --------------------------------------------------------------------------------------


def test_get_artifact_and_unknown_urn(fab: Fabric) -> None:
    artifact = fab.upload_artifact(name="g.txt", io_stream=io.BytesIO(b"g"))
    again = fab.get_artifact(artifact.id)
    assert again == artifact
    assert again.to_json()["sha256"] == artifact.sha256
    assert any(a.schema == "urn:fabric:schema:artifact.1" for a in again.aspects)
    with pytest.raises(NotFound) as caught:
        fab.get_artifact("urn:fabric:artifact:00000000-0000-4000-8000-000000000000")
    assert "00000000-0000-4000-8000-000000000000" in str(caught.value)
    with pytest.raises(BadRequest):
        fab.get_artifact("urn:fabric:aspect:not-an-artifact")


def test_list_artifacts_follows_next_links_and_filters(fab: Fabric) -> None:
    tag = os.urandom(4).hex()
    made = [
        fab.upload_artifact(name=f"{tag}-{i}.txt", io_stream=io.BytesIO(b"%d" % i), collection=tag) for i in range(5)
    ]
    listed = list(fab.list_artifacts(collection=f"urn:fabric:collection:{tag}"))
    assert sorted(a.id for a in listed) == sorted(a.id for a in made)
    assert len(list(fab.list_artifacts(limit=3, collection=f"urn:fabric:collection:{tag}"))) == 3
    by_name = list(fab.list_artifacts(name=f"{tag}-2.txt"))
    assert [a.id for a in by_name] == [made[2].id]
    if fab.mode == "platform":  # paging over HTTP: a page size of 2 needs three pages for five items
        pages = fab._transport._pages("/v1/artifacts", {"collection": f"urn:fabric:collection:{tag}", "limit": 2}, None)
        assert len(list(pages)) == 5


def test_file_urn_is_a_view_of_a_local_file(fab: Fabric, tmp_path: Path) -> None:
    path = write(tmp_path / "input.csv", b"1,2\n")
    artifact = fab.get_artifact(f"urn:file://{path}")
    assert (artifact.name, artifact.size, artifact.mime_type, artifact.status) == ("input.csv", 4, "text/csv", "ready")
    with artifact.as_local_file() as local:
        assert local == path
    assert path.exists()  # the user's file is never removed
    assert artifact.read_bytes() == b"1,2\n"
    with pytest.raises(NotFound):
        fab.get_artifact(f"urn:file://{tmp_path}/nope.csv")


# ---- downloads ------------------------------------------------------------------------------------


def test_as_local_file_temporary_then_removed(fab: Fabric) -> None:
    data = os.urandom(200_000)
    artifact = fab.upload_artifact(name="image.jpg", io_stream=io.BytesIO(data))
    with artifact.as_local_file() as path:
        assert path.read_bytes() == data
        kept = Path(path)
    if fab.mode == "platform":
        assert not kept.exists()
    else:
        assert kept.exists()  # local mode hands out the stored file itself, never removed


def test_as_local_file_with_a_path_keeps_it(fab: Fabric, tmp_path: Path) -> None:
    data = os.urandom(100_000)
    artifact = fab.upload_artifact(name="result.bin", io_stream=io.BytesIO(data))
    path = artifact.as_local_file(tmp_path / "out" / "result.bin")
    assert path == (tmp_path / "out" / "result.bin").resolve()
    with path:
        pass
    assert path.read_bytes() == data
    into_dir = artifact.as_local_file(tmp_path / "out")  # a directory: the artifact's name inside it
    assert into_dir.name == "result.bin"


def test_open_reads_in_pieces_and_as_stream_yields_chunks(fab: Fabric) -> None:
    data = os.urandom(3 << 20)
    artifact = fab.upload_artifact(name="big.bin", io_stream=io.BytesIO(data))
    with artifact.open() as f:
        assert f.read(10) == data[:10]
        assert f.read(1 << 20) == data[10 : 10 + (1 << 20)]
        assert f.read() == data[10 + (1 << 20) :]
    chunks = list(artifact.as_stream())
    assert len(chunks) > 1
    assert b"".join(chunks) == data


# ---- aspects --------------------------------------------------------------------------------------


def test_add_metadata_free_form_and_with_a_schema(fab: Fabric) -> None:
    artifact = fab.upload_artifact(name="m.txt", io_stream=io.BytesIO(b"m"))
    free = artifact.add_metadata({"tags": ["marine", "coral"], "site": 3})
    assert (free.schema, free.content, free.entity) == (
        "urn:fabric:schema:metadata.1",
        {"tags": ["marine", "coral"], "site": 3},
        artifact.id,
    )
    registered = fab.register_schema(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:fabric:schema:tag.1",
            "type": "object",
            "required": ["tags"],
            "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
        }
    )
    assert registered["$id"] == "urn:fabric:schema:tag.1"
    typed = artifact.add_metadata({"$schema": "urn:fabric:schema:tag.1", "tags": ["reef"]})
    assert (typed.schema, typed.content) == ("urn:fabric:schema:tag.1", {"tags": ["reef"]})
    schemas = {a.schema for a in artifact.refresh().aspects}
    assert {"urn:fabric:schema:metadata.1", "urn:fabric:schema:tag.1", "urn:fabric:schema:artifact.1"} <= schemas
    from fabric.client import ValidationFailed

    with pytest.raises(ValidationFailed):
        artifact.add_metadata({"$schema": "urn:fabric:schema:tag.1", "tags": "not-a-list"})


def test_aspect_lifecycle_add_get_update_retract_list(fab: Fabric) -> None:
    artifact = fab.upload_artifact(name="a.txt", io_stream=io.BytesIO(b"a"))
    first = fab.add_aspect(artifact.id, "urn:fabric:schema:metadata.1", {"v": 1})
    assert fab.get_aspect(first.urn).content == {"v": 1}
    second = fab.update_aspect(first.urn, {"v": 2})
    assert second.urn != first.urn
    assert fab.get_aspect(first.urn).retracted
    current = list(fab.list_aspects(entity=artifact.id, schema="urn:fabric:schema:metadata.1"))
    assert [a.content for a in current] == [{"v": 2}]
    history = list(fab.list_aspects(entity=artifact.id, schema="urn:fabric:schema:metadata.1", include_retracted=True))
    assert sorted(a.content["v"] for a in history) == [1, 2]
    as_of_first = list(fab.list_aspects(entity=artifact.id, schema="urn:fabric:schema:metadata.1", at=first.valid_from))
    assert [a.content for a in as_of_first] == [{"v": 1}]
    retracted = fab.retract_aspect(second.urn)
    assert retracted.retracted
    assert list(fab.list_aspects(entity=artifact.id, schema="urn:fabric:schema:metadata.1")) == []
    with pytest.raises(NotFound):
        fab.get_aspect("urn:fabric:aspect:00000000-0000-4000-8000-000000000000")


def test_schemas_list_contains_builtins_and_client_schemas(fab: Fabric) -> None:
    artifact = fab.upload_artifact(name="s.txt", io_stream=io.BytesIO(b"s"))
    artifact.add_metadata({"k": "v"})
    ids = {s.get("$id") for s in fab.list_schemas()}
    assert {
        "urn:fabric:schema:artifact.1",
        "urn:fabric:schema:artifact-used-by-order.1",
        "urn:fabric:schema:metadata.1",
    } <= ids
