"""Asserting, reading, retracting, updating and querying aspects; history and `at`."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import orjson
import pytest

from aspects import AspectStore, Conflict, InvalidCursor, InvalidUrn, NotFound, ValidationFailed, new_urn
from aspects.artifact_filter import ArtifactFilter
from tests.aspects.helpers import MEMBER, POLICY, PRODUCED_BY, USER, ready_artifact

NOTE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:fabric:schema:note.1",
    "type": "object",
    "required": ["text"],
    "properties": {"text": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
}


@pytest.fixture
def noted(store: AspectStore) -> AspectStore:
    store.register_schema(NOTE, asserter=USER)
    return store


def test_assert_then_get(noted: AspectStore) -> None:
    artifact = ready_artifact(noted)
    aspect = noted.assert_aspect(
        artifact.urn, "urn:fabric:schema:note.1", {"text": "hello", "tags": ["b", "a"]}, asserter=USER
    )
    assert aspect.urn.startswith("urn:fabric:aspect:")
    got = noted.get_aspect(aspect.urn)
    assert got == aspect
    assert got.valid_to is None and got.retracted_by is None
    assert got.rel == "HAS_ASPECT" and got.target == "urn:fabric:schema:note.1"
    as_json = got.to_json()
    assert as_json["valid_from"].endswith("Z") and as_json["content"] == {"text": "hello", "tags": ["b", "a"]}
    orjson.dumps(as_json)


def test_link_aspects_create_their_target_on_first_mention(store: AspectStore) -> None:
    artifact = ready_artifact(store)
    order = new_urn("order")
    aspect = store.assert_aspect(artifact.urn, PRODUCED_BY, {"order": order}, asserter=USER)
    assert (aspect.rel, aspect.target) == ("WAS_GENERATED_BY", order)
    # The order exists now: aspects can be queried on it, and a second link reuses it.
    assert store.query_aspects(entity=order).items == []
    store.assert_aspect(ready_artifact(store).urn, PRODUCED_BY, {"order": order}, asserter=USER)
    assert len(store.lineage(order, direction="downstream").nodes) == 3


def test_retract_closes_validity_and_keeps_history(noted: AspectStore) -> None:
    artifact = ready_artifact(noted)
    aspect = noted.assert_aspect(artifact.urn, "note.1", {"text": "v1"}, asserter=USER)
    retracted = noted.retract_aspect(aspect.urn, asserter="urn:fabric:user:bob@example.com")
    assert retracted.valid_to is not None and retracted.valid_to >= retracted.valid_from
    assert retracted.retracted_by == "urn:fabric:user:bob@example.com"
    assert noted.query_aspects(entity=artifact.urn, schema="note.1").items == []
    history = noted.query_aspects(entity=artifact.urn, schema="note.1", include_retracted=True).items
    assert [a.urn for a in history] == [aspect.urn]
    with pytest.raises(Conflict):
        noted.retract_aspect(aspect.urn, asserter=USER)
    with pytest.raises(Conflict):
        noted.update_aspect(aspect.urn, {"text": "v2"}, asserter=USER)


def test_update_is_retract_plus_assert_and_at_sees_each_version(noted: AspectStore) -> None:
    artifact = ready_artifact(noted)
    v1 = noted.assert_aspect(artifact.urn, "note.1", {"text": "v1"}, asserter=USER)
    time.sleep(0.002)
    v2 = noted.update_aspect(v1.urn, {"text": "v2"}, asserter=USER)
    time.sleep(0.002)
    v3 = noted.update_aspect(v2.urn, {"text": "v3"}, asserter=USER)
    old = noted.get_aspect(v1.urn)
    assert old.valid_to == v2.valid_from and old.retracted_by == USER
    assert v2.entity == v1.entity and v2.schema == v1.schema and v2.urn != v1.urn

    def texts(**kwargs: object) -> list[str]:
        return [a.content["text"] for a in noted.query_aspects(entity=artifact.urn, schema="note.1", **kwargs).items]  # type: ignore[arg-type]

    assert texts() == ["v3"]
    assert texts(include_retracted=True) == ["v1", "v2", "v3"]
    assert texts(at=v1.valid_from) == ["v1"]
    assert texts(at=v2.valid_from) == ["v2"]
    assert texts(at=v2.valid_from + timedelta(microseconds=1)) == ["v2"]
    assert texts(at=v3.valid_from) == ["v3"]
    assert texts(at=v1.valid_from - timedelta(seconds=1)) == []
    assert texts(at=v2.valid_from, include_retracted=True) == ["v1", "v2"]


def test_update_validates_before_changing_anything(noted: AspectStore) -> None:
    artifact = ready_artifact(noted)
    v1 = noted.assert_aspect(artifact.urn, "note.1", {"text": "v1"}, asserter=USER)
    with pytest.raises(ValidationFailed) as caught:
        noted.update_aspect(v1.urn, {"text": 3}, asserter=USER)
    assert caught.value.path == "$.text"
    assert noted.get_aspect(v1.urn).valid_to is None


def test_update_of_a_link_moves_the_edge(store: AspectStore) -> None:
    artifact = ready_artifact(store)
    first = store.assert_aspect(artifact.urn, MEMBER, {"collection": "urn:fabric:collection:raw"}, asserter=USER)
    store.update_aspect(first.urn, {"collection": "urn:fabric:collection:clean"}, asserter=USER)
    assert store.collection_members("urn:fabric:collection:raw").items == []
    assert [a.urn for a in store.collection_members("urn:fabric:collection:clean").items] == [artifact.urn]


def test_query_paging_covers_every_aspect_exactly_once(noted: AspectStore) -> None:
    artifacts = [ready_artifact(noted, f"f{i}.csv") for i in range(3)]
    made = set()
    for i in range(17):
        target = artifacts[i % 3].urn
        if i % 4 == 0:
            made.add(noted.assert_aspect(target, POLICY, {"policy": f"urn:fabric:policy:p{i}"}, asserter=USER).urn)
        else:
            made.add(noted.assert_aspect(target, "note.1", {"text": str(i)}, asserter=USER).urn)
    made |= {
        a.urn for artifact in artifacts for a in noted.get_artifact(artifact.urn).aspects or []
    }  # the artifact.1 aspects
    for page_size in (1, 4, 1000):
        seen: list[str] = []
        cursor = None
        while True:
            page = noted.query_aspects(limit=page_size, cursor=cursor)
            seen.extend(a.urn for a in page.items)
            assert len(page.items) <= page_size
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert len(seen) == len(set(seen)) and set(seen) == made
    by_entity = noted.query_aspects(entity=artifacts[0].urn, limit=2)
    assert len(by_entity.items) == 2 and by_entity.next_cursor is not None
    with pytest.raises(InvalidCursor):
        noted.query_aspects(cursor="not-a-cursor")


def test_an_entitys_aspects_are_paged_over_every_relationship_type_at_once(noted: AspectStore) -> None:
    artifact, other = ready_artifact(noted, "a.csv"), ready_artifact(noted, "b.csv")
    made = {a.urn: a.rel for a in noted.get_artifact(artifact.urn).aspects or []}
    for i in range(9):
        if i % 3 == 0:
            made_now = noted.assert_aspect(artifact.urn, POLICY, {"policy": f"urn:fabric:policy:p{i}"}, asserter=USER)
        elif i % 3 == 1:
            made_now = noted.assert_aspect(
                artifact.urn, MEMBER, {"collection": f"urn:fabric:collection:c{i}"}, asserter=USER
            )
        else:
            made_now = noted.assert_aspect(artifact.urn, "note.1", {"text": str(i)}, asserter=USER)
        made[made_now.urn] = made_now.rel
    noted.assert_aspect(other.urn, POLICY, {"policy": "urn:fabric:policy:elsewhere"}, asserter=USER)
    assert len(set(made.values())) == 3  # content, policy and collection edges
    for page_size in (1, 4, 1000):
        seen: dict[str, str] = {}
        order: list[tuple[datetime, str]] = []
        cursor = None
        while True:
            page = noted.query_aspects(entity=artifact.urn, limit=page_size, cursor=cursor)
            assert len(page.items) <= page_size
            for a in page.items:
                assert a.urn not in seen
                seen[a.urn] = a.rel
                order.append((a.valid_from, a.urn))
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == made
        assert order == sorted(order)
    only_members = noted.query_aspects(entity=artifact.urn, schema=MEMBER).items
    assert {a.urn for a in only_members} == {urn for urn, rel in made.items() if rel == "IN_COLLECTION"}


def test_unknown_names_raise_not_found(store: AspectStore) -> None:
    artifact = ready_artifact(store)
    with pytest.raises(NotFound):
        store.get_aspect(new_urn("aspect"))
    with pytest.raises(NotFound):
        store.retract_aspect(new_urn("aspect"), asserter=USER)
    with pytest.raises(NotFound):
        store.update_aspect(new_urn("aspect"), {}, asserter=USER)
    with pytest.raises(NotFound):
        store.assert_aspect(new_urn("artifact"), POLICY, {"policy": "urn:fabric:policy:p"}, asserter=USER)
    with pytest.raises(NotFound):
        store.assert_aspect("urn:fabric:widget:w1", POLICY, {"policy": "urn:fabric:policy:p"}, asserter=USER)
    with pytest.raises(NotFound):
        store.query_aspects(entity=new_urn("artifact"))
    with pytest.raises(NotFound):
        store.get_artifact(new_urn("artifact"))
    assert store.get_artifact(artifact.urn).urn == artifact.urn


@pytest.mark.parametrize(
    "bad", ["nope", "urn:fabric:aspect", "urn:fabric:aspect:a b", "urn:fabric:aspect:x'}) DETACH DELETE n//"]
)
def test_malformed_urns_raise_invalid_urn(store: AspectStore, bad: str) -> None:
    with pytest.raises(InvalidUrn):
        store.get_aspect(bad)
    with pytest.raises(InvalidUrn):
        store.assert_aspect(bad.replace("aspect", "artifact"), POLICY, {"policy": "urn:fabric:policy:p"}, asserter=USER)
    with pytest.raises(InvalidUrn):
        store.create_artifact(bad.replace("aspect", "artifact"), name="x", uploader=USER)
    with pytest.raises(InvalidUrn):
        store.lineage(bad)
    with pytest.raises(InvalidUrn):
        store.get_aspect(new_urn("artifact"))  # the wrong kind


def test_hostile_strings_are_stored_verbatim(noted: AspectStore) -> None:
    hostile = "x'}) MATCH (n) DETACH DELETE n // `) \" \\ $param {}"
    artifact = ready_artifact(noted, hostile)
    aspect = noted.assert_aspect(artifact.urn, "note.1", {"text": hostile, hostile: hostile}, asserter=USER)
    assert noted.get_aspect(aspect.urn).content == {"text": hostile, hostile: hostile}
    assert [a.urn for a in noted.list_artifacts(ArtifactFilter(name=hostile)).items] == [artifact.urn]
    assert noted.list_artifacts(ArtifactFilter(name_prefix="x'})")).items[0].name == hostile
    assert len(noted.list_artifacts().items) == 1


def test_content_is_canonical_json(noted: AspectStore) -> None:
    artifact = ready_artifact(noted)
    aspect = noted.assert_aspect(artifact.urn, "note.1", {"tags": ["z"], "text": "t"}, asserter=USER)
    rows = noted.backend.run(
        "MATCH ()-[e:HAS_ASPECT]->() WHERE e.urn = $urn RETURN e.content AS content", {"urn": aspect.urn}
    )
    assert rows == [{"content": '{"tags":["z"],"text":"t"}'}]


def test_batched_assert_is_all_or_nothing(noted: AspectStore) -> None:
    artifacts = [ready_artifact(noted, f"b{i}").urn for i in range(3)]
    order = new_urn("order")
    made = noted.assert_aspects(
        [(a, PRODUCED_BY, {"order": order}) for a in artifacts] + [(a, "note.1", {"text": a}) for a in artifacts],
        asserter=USER,
    )
    assert len(made) == 6 and len({a.urn for a in made}) == 6
    assert {noted.get_aspect(a.urn).content["text"] for a in made if a.schema.endswith("note.1")} == set(artifacts)
    assert len(noted.lineage(order, direction="downstream").nodes) == 4
    before = len(noted.query_aspects(limit=1000).items)
    with pytest.raises(ValidationFailed) as caught:
        noted.assert_aspects(
            [(artifacts[0], "note.1", {"text": "ok"}), (artifacts[1], "note.1", {"text": 1})], asserter=USER
        )
    assert caught.value.path == "$[1].text"
    with pytest.raises(NotFound):
        noted.assert_aspects(
            [(artifacts[0], "note.1", {"text": "ok"}), (new_urn("artifact"), "note.1", {"text": "x"})], asserter=USER
        )
    assert len(noted.query_aspects(limit=1000).items) == before
