"""Artifacts: pending -> ready, listing with filters and keyset paging, collections, consistency helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aspects import (
    ArtifactRecord,
    AspectStore,
    Conflict,
    InvalidCursor,
    NewArtifact,
    NotFound,
    ValidationFailed,
    new_urn,
)
from aspects.artifact_filter import ArtifactFilter
from tests.aspects.helpers import ARTIFACT, MEMBER, POLICY, USER, artifact_content, ready_artifact

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_lifecycle_pending_to_ready(store: AspectStore) -> None:
    urn = new_urn("artifact")
    created = store.create_artifact(urn, name="report.pdf", uploader=USER, created=T0, properties={"upload_id": "u1"})
    assert (created.status, created.name, created.created, created.properties) == (
        "pending",
        "report.pdf",
        T0,
        {"upload_id": "u1"},
    )
    assert store.create_artifact(urn, name="other", uploader=USER) == created  # idempotent
    assert [a.urn for a in store.pending_artifacts()] == [urn]
    assert store.pending_artifacts()[0].properties == {"upload_id": "u1"}
    content = artifact_content("report.pdf", body=b"%PDF", mime_type="application/pdf")
    assert not store.is_blob_referenced(content["sha256"])

    ready = store.complete_artifact(urn, content, asserter=USER)
    assert ready.status == "ready" and ready.sha256 == content["sha256"] and ready.size == 4
    assert ready.mime_type == "application/pdf" and ready.location == content["location"]
    assert store.pending_artifacts() == []
    assert store.is_blob_referenced(content["sha256"])
    assert store.referenced_blob_hashes() == {content["sha256"]}

    again = store.complete_artifact(urn, content, asserter=USER)  # a repeat after a crash changes nothing
    assert again.status == "ready"
    full = store.get_artifact(urn)
    assert [a.schema for a in full.aspects or []] == [ARTIFACT]
    assert full.aspects and full.aspects[0].content == content
    assert full.to_json()["aspects"][0]["schema"] == ARTIFACT
    with pytest.raises(Conflict):
        store.complete_artifact(urn, artifact_content("report.pdf", body=b"other"), asserter=USER)


def test_complete_can_create_the_artifact_in_the_same_commit(store: AspectStore) -> None:
    urn = new_urn("artifact")
    content = artifact_content("one.bin", body=b"one")
    new = NewArtifact(name="one.bin", uploader=USER, created=T0, properties={"upload_id": "u2"})
    batches = store._group.batches
    ready = store.complete_artifact(urn, content, asserter=USER, create=new)
    assert store._group.batches == batches + 1  # node and artifact.1 in one transaction
    assert (ready.status, ready.sha256, ready.properties) == ("ready", content["sha256"], {"upload_id": "u2"})
    assert [a.schema for a in store.get_artifact(urn).aspects or []] == [ARTIFACT]
    assert store.complete_artifact(urn, content, asserter=USER, create=new) == ready  # a repeat changes nothing
    assert store.pending_artifacts() == []

    pending = new_urn("artifact")  # an artifact created earlier is completed, its creation kept
    store.create_artifact(pending, name="two.bin", uploader=USER, properties={"upload_id": "u3"})
    other = NewArtifact(name="other.bin", uploader=USER, properties={"upload_id": "other"})
    done = store.complete_artifact(pending, artifact_content("two.bin", body=b"two"), asserter=USER, create=other)
    assert (done.status, done.name, done.properties) == ("ready", "two.bin", {"upload_id": "u3"})
    with pytest.raises(ValidationFailed):  # checked before anything is written
        store.complete_artifact(new_urn("artifact"), {**content, "md5": "nope"}, asserter=USER, create=new)
    assert store.pending_artifacts() == []


def test_completion_sets_every_property_whether_or_not_the_creation_already_had_some(store: AspectStore) -> None:
    """A pending artifact whose name, creation time and uploader its `artifact.1` repeats (an upload's) has only
    the rest set; one whose `artifact.1` says otherwise has all of them set. Both in one batch, and alone."""
    stamp = "2026-01-02T03:04:05Z"
    created = datetime.fromisoformat(stamp)
    same, other, alone = new_urn("artifact"), new_urn("artifact"), new_urn("artifact")
    for urn in (same, other, alone):
        store.create_artifact(urn, name="up.bin", uploader=USER, created=created)
    contents = {
        same: artifact_content("up.bin", body=b"same", mime_type="image/png", created=stamp),
        other: {
            **artifact_content("renamed.bin", body=b"other", created="2026-03-04T05:06:07Z"),
            "uploader": "urn:fabric:user:bob@example.com",
        },
        alone: artifact_content("up.bin", body=b"alone", created=stamp),
    }
    done = store.complete_artifacts([(urn, contents[urn], USER, None) for urn in (same, other)])
    done.append(store.complete_artifact(alone, contents[alone], asserter=USER))
    for record in done:
        assert isinstance(record, ArtifactRecord)
        content = contents[record.urn]
        for got in (record, store.get_artifact(record.urn, aspects=False)):
            assert got.status == "ready"
            assert (got.name, got.uploader, got.created) == (
                content["name"],
                content["uploader"],
                datetime.fromisoformat(content["created"]),
            )
            assert (got.mime_type, got.size, got.md5, got.sha256, got.location) == (
                content["mime_type"],
                content["size"],
                content["md5"],
                content["sha256"],
                content["location"],
            )


def test_complete_validates_and_needs_the_artifact(store: AspectStore) -> None:
    urn = new_urn("artifact")
    store.create_artifact(urn, name="x", uploader=USER)
    with pytest.raises(ValidationFailed) as caught:
        store.complete_artifact(urn, {**artifact_content(), "md5": "nope"}, asserter=USER)
    assert caught.value.path == "$.md5"
    assert store.get_artifact(urn).status == "pending"
    with pytest.raises(NotFound):
        store.complete_artifact(new_urn("artifact"), artifact_content(), asserter=USER)


def test_updating_artifact_1_refreshes_the_node(store: AspectStore) -> None:
    artifact = ready_artifact(store, "a.csv")
    current = store.query_aspects(entity=artifact.urn, schema=ARTIFACT).items[0]
    store.update_aspect(current.urn, {**current.content, "name": "renamed.csv"}, asserter=USER)
    assert store.get_artifact(artifact.urn).name == "renamed.csv"
    assert [
        a.content["name"]
        for a in store.query_aspects(entity=artifact.urn, schema=ARTIFACT, include_retracted=True).items
    ] == ["a.csv", "renamed.csv"]


def all_pages(store: AspectStore, limit: int, **filters: object) -> list[ArtifactRecord]:
    items: list[ArtifactRecord] = []
    cursor = None
    while True:
        page = store.list_artifacts(ArtifactFilter(**filters), limit=limit, cursor=cursor)  # type: ignore[arg-type]
        items.extend(page.items)
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def test_list_filters_and_paging(store: AspectStore) -> None:
    made = []
    for i in range(12):
        mime = "text/csv" if i % 2 else "image/png"
        made.append(
            ready_artifact(
                store, f"{'img' if i % 2 == 0 else 'tab'}-{i:02d}", mime_type=mime, created=T0 + timedelta(hours=i)
            )
        )
    # Two artifacts created in the same microsecond still page apart (the URN breaks the tie).
    made.append(ready_artifact(store, "tie-a", created=T0 + timedelta(hours=20)))
    made.append(ready_artifact(store, "tie-b", created=T0 + timedelta(hours=20)))
    pending = new_urn("artifact")
    store.create_artifact(pending, name="waiting", uploader=USER, created=T0 + timedelta(hours=30))

    everything = all_pages(store, 100)
    assert everything[0].urn == pending  # newest first
    created = [(a.created, a.urn) for a in everything]
    assert created == sorted(created, reverse=True)
    for size in (1, 3, 5):
        paged = all_pages(store, size)
        assert [a.urn for a in paged] == [a.urn for a in everything]

    assert {a.name for a in all_pages(store, 2, mime_type="image/png")} == {f"img-{i:02d}" for i in range(0, 12, 2)}
    assert [a.name for a in store.list_artifacts(ArtifactFilter(name="tab-03")).items] == ["tab-03"]
    assert (
        store.list_artifacts(ArtifactFilter(name="tab")).items == []
    )  # name is exact; name_prefix is the prefix match
    assert len(all_pages(store, 2, name_prefix="tab-")) == 6
    assert [a.urn for a in store.list_artifacts(ArtifactFilter(status="pending")).items] == [pending]
    assert len(store.list_artifacts(ArtifactFilter(status="ready"), limit=1000).items) == 14
    window = store.list_artifacts(
        ArtifactFilter(created_after=T0 + timedelta(hours=3), created_before=T0 + timedelta(hours=6))
    ).items
    assert [a.name for a in window] == ["tab-05", "img-04", "tab-03"]
    assert len(store.list_artifacts(ArtifactFilter(schema="artifact.1"), limit=1000).items) == 14
    for where in (
        ArtifactFilter(),
        ArtifactFilter(mime_type="image/png"),
        ArtifactFilter(name_prefix="tab-"),
        ArtifactFilter(status="pending"),
        ArtifactFilter(schema="artifact.1"),
    ):  # the total counts what the pages list
        assert store.count_artifacts(where) == len(store.list_artifacts(where, limit=1000).items), where

    store.assert_aspect(made[0].urn, POLICY, {"policy": "urn:fabric:policy:open"}, asserter=USER)
    assert [a.urn for a in store.list_artifacts(ArtifactFilter(schema=POLICY)).items] == [made[0].urn]
    both = store.list_artifacts(ArtifactFilter(schema=POLICY, mime_type="image/png", name_prefix="img")).items
    assert [a.urn for a in both] == [made[0].urn]
    with pytest.raises(InvalidCursor):
        store.list_artifacts(cursor="garbage")
    with pytest.raises(ValueError):
        store.list_artifacts(ArtifactFilter(status="gone"))
    with pytest.raises(ValueError):
        store.list_artifacts(limit=0)


def test_collection_membership_and_paging(store: AspectStore) -> None:
    collection = "urn:fabric:collection:raw-data"
    members = [ready_artifact(store, f"m{i}", created=T0 + timedelta(minutes=i)) for i in range(7)]
    outsider = ready_artifact(store, "outsider")
    links = [store.assert_aspect(a.urn, MEMBER, {"collection": collection}, asserter=USER) for a in members]
    store.assert_aspect(
        members[0].urn, MEMBER, {"collection": collection}, asserter=USER
    )  # a second link, still one member

    seen: list[str] = []
    cursor = None
    while True:
        page = store.collection_members(collection, limit=3, cursor=cursor)
        seen.extend(a.urn for a in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [a.urn for a in reversed(members)]
    assert outsider.urn not in seen
    assert store.count_artifacts(ArtifactFilter(collection=collection)) == 7  # the member linked twice counts once
    assert [a.urn for a in store.list_artifacts(ArtifactFilter(collection=collection, name="m3")).items] == [
        members[3].urn
    ]

    store.retract_aspect(links[2].urn, asserter=USER)
    assert members[2].urn not in [a.urn for a in store.collection_members(collection, limit=100).items]
    with pytest.raises(NotFound):
        store.collection_members("urn:fabric:collection:never-mentioned")
