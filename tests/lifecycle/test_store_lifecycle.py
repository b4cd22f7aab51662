"""The lifecycle in the graph (`aspects.lifecycle`), on LadybugDB and Neo4j by one parametrised suite: types and
labels, repositories with versions and aliases (and `at=`), stages, lock, deletion, drafts with several files."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aspects import AspectStore, Conflict, NotFound, new_urn
from aspects.artifact_filter import ArtifactFilter
from aspects.lifecycle import Lifecycle, check_path, parse_reference
from tests.aspects.helpers import USER, ready_artifact

ORG = "urn:fabric:org:acme"
ORDER_STATUS = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:fabric:schema:order-status.1",
    "type": "object",
}


@pytest.fixture
def lc(store: AspectStore) -> Lifecycle:
    return Lifecycle(store)


def register(lc: Lifecycle, name: str = "m", repo: tuple[str, str] = ("vision", "net"), **kw: object) -> dict:
    artifact = ready_artifact(lc.store, name)
    return lc.register_version(*repo, artifact.urn, asserter=USER, org=ORG, **kw)  # type: ignore[arg-type]


def test_types_and_labels_filter_listings(lc: Lifecycle) -> None:
    model, plain = ready_artifact(lc.store, "model.pt"), ready_artifact(lc.store, "notes.txt")
    lc.set_type(model.urn, "model", asserter=USER)
    lc.set_labels(model.urn, {"team": "vision", "stage": "beta"}, asserter=USER)

    def names(**filters: Any) -> list[str]:
        listed = sorted(a.name for a in lc.store.list_artifacts(ArtifactFilter(**filters)).items)
        assert lc.store.count_artifacts(ArtifactFilter(**filters)) == len(listed)  # the total counts the same
        return listed

    assert names(type="model") == ["model.pt"]
    assert names(type="file") == ["notes.txt"]  # no type recorded means file
    assert names(labels={"team": "vision"}) == ["model.pt"]
    assert names(labels={"team": "vision", "stage": "beta"}) == ["model.pt"]
    assert names(labels={"team": "visio"}) == []
    lc.set_labels(model.urn, {"team": "audio"}, asserter=USER)  # replaces: stage dropped, team changed
    assert names(labels={"team": "vision"}) == [] and names(labels={"team": "audio"}) == ["model.pt"]
    assert lc.describe(model.urn) == {"type": "model", "labels": {"team": "audio"}, "file_count": 0}
    assert plain.urn not in {a.urn for a in lc.store.list_artifacts(ArtifactFilter(type="model")).items}
    with pytest.raises(ValueError):
        lc.set_type(model.urn, "Not A Type", asserter=USER)
    with pytest.raises(ValueError):
        lc.set_labels(model.urn, {"bad key": "x"}, asserter=USER)


def test_versions_number_in_order_and_latest_skips_deleted(lc: Lifecycle) -> None:
    v1, v2, v3 = register(lc, "a"), register(lc, "b"), register(lc, "c")
    assert [v1["number"], v2["number"], v3["number"]] == [1, 2, 3]
    assert lc.resolve("fabric://vision/net")["artifact"] == v3["artifact"]
    assert lc.resolve("fabric://vision/net:2")["artifact"] == v2["artifact"]
    lc.delete(v3["artifact"], asserter=USER)
    assert lc.resolve("fabric://vision/net:latest")["number"] == 2
    assert register(lc, "d")["number"] == 4  # never reused
    assert [v["number"] for v in lc.versions("vision", "net").items] == [4, 2, 1]
    assert [v["number"] for v in lc.versions("vision", "net", include_deleted=True).items] == [4, 3, 2, 1]
    page = lc.versions("vision", "net", limit=2)
    assert [v["number"] for v in page.items] == [4, 2] and page.next_cursor
    assert [v["number"] for v in lc.versions("vision", "net", limit=2, cursor=page.next_cursor).items] == [1]
    with pytest.raises(Conflict):
        lc.register_version("vision", "net", v1["artifact"], asserter=USER, org=ORG)  # already a version
    with pytest.raises(NotFound):
        lc.resolve("fabric://vision/net:9")
    with pytest.raises(NotFound):
        lc.resolve("fabric://vision/other")
    with pytest.raises(ValueError):
        lc.register_version("Vision", "net", v1["artifact"], asserter=USER, org=ORG)


def test_patching_a_version_keeps_its_number_and_order(lc: Lifecycle) -> None:
    v1 = register(lc, "a", description="first", tags=["x"])
    register(lc, "b")
    patched = lc.update_version("vision", "net", 1, {"description": "better", "content": {"number": 99}}, asserter=USER)
    assert patched["number"] == 1 and patched["description"] == "better" and patched["tags"] == ["x"]
    assert lc.resolve("fabric://vision/net")["number"] == 2
    assert [v["number"] for v in lc.versions("vision", "net").items] == [2, 1]
    lc.lock(v1["artifact"], asserter=USER)
    with pytest.raises(Conflict):
        lc.update_version("vision", "net", 1, {"description": "again"}, asserter=USER)


def test_aliases_move_and_history_answers_at(lc: Lifecycle) -> None:
    v1 = register(lc, "a", aliases=["champion"])
    v2 = register(lc, "b")
    assert lc.resolve("fabric://vision/net:champion")["artifact"] == v1["artifact"]
    time.sleep(0.01)
    before_move = datetime.now(UTC)
    time.sleep(0.01)
    lc.set_alias("vision", "net", "champion", 2, asserter=USER)
    assert lc.resolve("fabric://vision/net:champion")["artifact"] == v2["artifact"]
    assert lc.resolve("fabric://vision/net:champion", at=before_move)["artifact"] == v1["artifact"]
    assert lc.get_version("vision", "net", 2)["aliases"] == ["champion"]
    lc.remove_alias("vision", "net", "champion", asserter=USER)
    with pytest.raises(NotFound):
        lc.resolve("fabric://vision/net:champion")
    with pytest.raises(ValueError):
        lc.set_alias("vision", "net", "latest", 1, asserter=USER)
    with pytest.raises(NotFound):
        lc.set_alias("vision", "net", "x", 7, asserter=USER)


def test_stages_need_lock_for_production_and_keep_history(lc: Lifecycle) -> None:
    v1 = register(lc, "a")
    register(lc, "b")
    lc.set_stage("vision", "net", 1, "testing", asserter=USER, reason="smoke", message="first try")
    with pytest.raises(Conflict, match="locked"):
        lc.set_stage("vision", "net", 1, "production", asserter=USER)
    lc.lock(v1["artifact"], asserter=USER)
    lc.set_stage("vision", "net", 1, "production", asserter=USER, reason="approved")
    history = lc.stage_history("vision", "net", 1)
    assert [(h["stage"], h["reason"]) for h in history] == [("testing", "smoke"), ("production", "approved")]
    assert history[0]["to"] is not None and history[1]["to"] is None and history[0]["by"] == USER
    assert [v["number"] for v in lc.versions("vision", "net", stage="production").items] == [1]
    assert [v["stage"] for v in lc.versions("vision", "net").items] == ["none", "production"]
    with pytest.raises(ValueError):
        lc.set_stage("vision", "net", 1, "gold", asserter=USER)


def test_lock_is_one_way_and_blocks_changes_and_deletion(lc: Lifecycle) -> None:
    artifact = ready_artifact(lc.store, "x")
    lc.lock(artifact.urn, asserter=USER)
    lc.lock(artifact.urn, asserter=USER)  # again: nothing changes
    assert lc.state(artifact.urn) == "locked"
    with pytest.raises(Conflict, match="locked"):
        lc.set_type(artifact.urn, "model", asserter=USER)
    with pytest.raises(Conflict, match="locked"):
        lc.set_labels(artifact.urn, {"a": "b"}, asserter=USER)
    with pytest.raises(Conflict, match="locked"):
        lc.delete(artifact.urn, asserter=USER)


def test_deletion_rules_and_tombstones(lc: Lifecycle) -> None:
    store = lc.store
    prod = register(lc, "p", aliases=["prod"])
    busy = ready_artifact(store, "busy")
    order = new_urn("order")
    store.assert_aspect(busy.urn, "urn:fabric:schema:artifact-used-by-order.1", {"order": order}, asserter=USER)
    store.register_schema(ORDER_STATUS, asserter=USER)
    store.assert_aspect(order, "urn:fabric:schema:order-status.1", {"status": "running"}, asserter=USER)
    with pytest.raises(Conflict, match="protected alias 'prod'"):
        lc.delete(prod["artifact"], asserter=USER)
    with pytest.raises(Conflict, match="running order"):
        lc.delete(busy.urn, asserter=USER)
    status = store.query_aspects(entity=order, schema="urn:fabric:schema:order-status.1").items[0]
    store.update_aspect(status.urn, {"status": "succeeded"}, asserter=USER)
    lc.delete(busy.urn, asserter=USER)
    assert busy.urn not in {a.urn for a in store.list_artifacts().items}
    assert busy.urn in {a.urn for a in store.list_artifacts(ArtifactFilter(status="deleted")).items}
    lineage = store.lineage(order, direction="upstream", depth=2)
    assert {"urn": busy.urn, "status": "deleted"}.items() <= next(
        n for n in lineage.nodes if n["urn"] == busy.urn
    ).items()
    assert not store.is_blob_referenced(busy.sha256)  # type: ignore[arg-type]
    assert busy.sha256 not in store.referenced_blob_hashes()
    assert prod["artifact"] and store.is_blob_referenced(store.get_artifact(prod["artifact"]).sha256)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        lc.delete(busy.urn, asserter=USER)
    lc.remove_alias("vision", "net", "prod", asserter=USER)
    lc.delete(prod["artifact"], asserter=USER)


def test_drafts_take_files_then_seal(lc: Lifecycle) -> None:
    store = lc.store
    held = ready_artifact(store, "held")
    urn = new_urn("artifact")
    lc.create_draft(urn, name="run-7", uploader=USER, org=ORG, type_="checkpoint", labels={"run": "7"})
    assert lc.state(urn) == "draft" and store.get_artifact(urn, aspects=False).status == "draft"
    lc.start_file(urn, "weights/a.bin", size=3, mime_type="application/octet-stream", upload="u1", asserter=USER)
    lc.start_file(urn, "weights/a.bin", size=3, mime_type="application/octet-stream", upload="u1", asserter=USER)
    with pytest.raises(Conflict):
        lc.start_file(urn, "weights/a.bin", size=3, mime_type="application/octet-stream", upload="u2", asserter=USER)
    with pytest.raises(Conflict, match=r"weights/a\.bin"):
        lc.seal(urn, asserter=USER)
    sha = "ab" * 32
    lc.finish_file(urn, "weights/a.bin", upload="u1", size=3, sha256=sha, md5=None, asserter=USER)
    assert lc.link_file(
        urn,
        "held.csv",
        sha256=held.sha256,
        size=held.size,
        md5=None,
        mime_type="text/csv",
        asserter=USER,
        reader=None,  # type: ignore[arg-type]
    )
    assert not lc.link_file(
        urn, "new.bin", sha256="cd" * 32, size=1, md5=None, mime_type="x/y", asserter=USER, reader=None
    )
    lc.seal(urn, asserter=USER)
    assert lc.state(urn) == "ready"
    assert [f["path"] for f in lc.files(urn)] == ["held.csv", "weights/a.bin"]
    assert store.get_artifact(urn, aspects=False).size == 3 + (held.size or 0)
    # the largest now: sealing told the listing's order of sizes (on LadybugDB an in-memory order)
    assert [a.urn for a in store.list_artifacts(limit=1, sort="size").items] == [urn]
    assert sha in store.referenced_blob_hashes() and store.is_blob_referenced(sha)
    assert [a.urn for a in store.list_artifacts(ArtifactFilter(type="checkpoint", labels={"run": "7"})).items] == [urn]
    with pytest.raises(Conflict):
        lc.start_file(urn, "late.txt", size=1, mime_type="text/plain", upload="u3", asserter=USER)
    assert lc.files(held.urn)[0]["sha256"] == held.sha256  # a single upload is one file


def test_a_drafts_files_are_found_by_their_exact_path(lc: Lifecycle) -> None:
    """Each file is looked up by its path alone (not by reading every file of the draft): a path that begins
    another, or holds quotes, spaces and non-ASCII letters, is its own file; the state holds among many files."""
    urn = new_urn("artifact")
    lc.create_draft(urn, name="paths", uploader=USER, org=ORG, type_="dataset", labels={})
    paths = ["a.bin", "a.bin.bak", "dir/a.bin", 'q"uote \u00e9t\u00e9.txt'] + [f"many/{k:03d}.bin" for k in range(40)]
    for k, path in enumerate(paths):
        lc.start_file(urn, path, size=k, mime_type="application/octet-stream", upload=f"u{k}", asserter=USER)
    with pytest.raises(Conflict, match="already has a file"):
        lc.start_file(urn, "a.bin", size=0, mime_type="x/y", upload="other", asserter=USER)
    for k, path in enumerate(paths):
        lc.finish_file(urn, path, upload=f"u{k}", size=k, sha256=f"{k:064x}", md5=None, asserter=USER)
    with pytest.raises(NotFound):
        lc.finish_file(urn, "a.bin.ba", upload="u1", size=1, sha256="1" * 64, md5=None, asserter=USER)
    lc.drop_file(urn, "dir/a.bin", upload="u2", asserter=USER)  # finished: dropping an abandoned upload keeps it
    assert lc.state(urn) == "draft"
    lc.seal(urn, asserter=USER)
    assert lc.state(urn) == "ready"
    assert {f["path"]: f["sha256"] for f in lc.files(urn)} == {path: f"{k:064x}" for k, path in enumerate(paths)}
    manifest = {item["path"]: item for item in lc.files(urn)}
    for path in paths:  # one file by its path is the manifest's entry, found alone
        assert lc.file(urn, path) == manifest[path]
    assert lc.file(urn, "a.bin.ba") is None and lc.file(urn, "many") is None


def test_one_file_by_path_as_of_a_time_and_of_a_single_upload(lc: Lifecycle) -> None:
    urn = new_urn("artifact")
    lc.create_draft(urn, name="timed", uploader=USER, org=ORG, type_="dataset", labels={})
    lc.start_file(urn, "x.bin", size=1, mime_type="application/octet-stream", upload="u1", asserter=USER)
    before = datetime.now(UTC)
    time.sleep(0.01)
    lc.finish_file(urn, "x.bin", upload="u1", size=1, sha256="e" * 64, md5=None, asserter=USER)
    assert lc.file(urn, "x.bin")["sha256"] == "e" * 64  # type: ignore[index]
    assert lc.file(urn, "x.bin", at=before)["sha256"] is None  # type: ignore[index]  # as it was: unfinished
    single = ready_artifact(lc.store, "alone.csv")
    assert lc.file(single.urn, "alone.csv") == lc.files(single.urn)[0]  # a single upload is one file
    assert lc.file(single.urn, "other.csv") is None


@pytest.mark.parametrize("path", ["", "/abs", "a/../b", "a//b", "./a", "a/", "..", "a\\b"])
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(ValueError):
        check_path(path)


@pytest.mark.parametrize(
    "ref", ["fabric://p", "fabric://P/n", "fabric://p/n:", "fabric://p/n:a:b", "urn:x", "fabric://p/-n"]
)
def test_bad_references_are_refused(ref: str) -> None:
    with pytest.raises(ValueError):
        parse_reference(ref)


def test_repositories_list_by_organisation_and_grant(lc: Lifecycle) -> None:
    from aspects import Reader

    register(lc, "a", repo=("vision", "net"))
    register(lc, "b", repo=("audio", "asr"))
    assert [r.urn for r in lc.list_repositories().items] == [
        "urn:fabric:repository:audio/asr",
        "urn:fabric:repository:vision/net",
    ]
    assert [r.name for r in lc.list_repositories(project="vision").items] == ["net"]
    outsider = Reader(user="urn:fabric:user:eve@rival.test", org="urn:fabric:org:rival")
    member = Reader(user="urn:fabric:user:bob@acme.test", org=ORG)
    assert lc.list_repositories(reader=outsider).items == []
    assert len(lc.list_repositories(reader=member).items) == 2
    lc.store.assert_aspect(
        "urn:fabric:repository:vision/net", "urn:fabric:schema:grant.1", {"grantee": outsider.user}, asserter=USER
    )
    assert [r.name for r in lc.list_repositories(reader=outsider).items] == ["net"]
    version = lc.get_version("vision", "net", "latest")
    assert lc.readable_through_repository(version["artifact"], outsider)
    other = lc.get_version("audio", "asr", "latest")
    assert not lc.readable_through_repository(other["artifact"], outsider)


def test_bytes_are_collected_once_no_live_artifact_names_them(lc: Lifecycle, tmp_path: Path) -> None:
    from fabric.blobs import BlobStore
    from fabric.maintenance import collect_garbage

    store, blobs = lc.store, BlobStore(tmp_path / "blobs")
    shared, alone = ready_artifact(store, "shared"), ready_artifact(store, "alone")
    urn = new_urn("artifact")
    lc.create_draft(urn, name="dir", uploader=USER, org=ORG)
    lc.link_file(
        urn, "s.bin", sha256=shared.sha256, size=shared.size, md5=None, mime_type="x/y", asserter=USER, reader=None
    )  # type: ignore[arg-type]
    for artifact in (shared, alone):
        source = tmp_path / "incoming"
        source.write_bytes(b"bytes")
        blobs.ingest(source, artifact.sha256)  # type: ignore[arg-type]
    lc.delete(shared.urn, asserter=USER)
    lc.delete(alone.urn, asserter=USER)
    removed = collect_garbage(store, blobs, grace=0)
    assert removed == [alone.sha256]  # the draft's file still names the shared bytes
    assert blobs.exists(shared.sha256) and not blobs.exists(alone.sha256)  # type: ignore[arg-type]
    lc.delete(urn, asserter=USER)
    assert collect_garbage(store, blobs, grace=0) == [shared.sha256]
