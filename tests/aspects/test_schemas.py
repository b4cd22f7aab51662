"""Schemas: the built-ins validate, users register their own (kept across restarts), bad ones are refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aspects import AspectStore, Conflict, InvalidUrn, NotFound, ValidationFailed, new_urn
from aspects.schema_registry import BUILTIN_IDS
from tests.aspects.helpers import ARTIFACT, MEMBER, POLICY, PRODUCED_BY, USED_BY, USER, artifact_content, ready_artifact

GOOD_AND_BAD: list[tuple[str, Any, Any, str]] = [
    (ARTIFACT, artifact_content(), {**artifact_content(), "size": -1}, "$.size"),
    (ARTIFACT, artifact_content(), {**artifact_content(), "created": "yesterday"}, "$.created"),
    (ARTIFACT, artifact_content(), {**artifact_content(), "sha256": "XYZ"}, "$.sha256"),
    (PRODUCED_BY, {"order": "urn:fabric:order:o1"}, {"order": "urn:fabric:collection:c"}, "$.order"),
    (USED_BY, {"order": "urn:fabric:order:o1"}, {"order": 7}, "$.order"),
    (MEMBER, {"collection": "urn:fabric:collection:raw"}, {"collection": "raw data"}, "$.collection"),
    (POLICY, {"policy": "urn:fabric:policy:p1"}, {"policy": "urn:fabric:policy:p1", "extra": 1}, "$"),
]


@pytest.mark.parametrize(("schema", "good", "bad", "path"), GOOD_AND_BAD)
def test_builtin_schemas_accept_good_and_refuse_bad_content(
    store: AspectStore, schema: str, good: Any, bad: Any, path: str
) -> None:
    entry = store.registry.get(schema)
    store.registry.validate(entry, good)
    with pytest.raises(ValidationFailed) as caught:
        store.registry.validate(entry, bad)
    assert caught.value.path == path


def test_missing_required_property_is_reported(store: AspectStore) -> None:
    artifact = ready_artifact(store)
    with pytest.raises(ValidationFailed) as caught:
        store.assert_aspect(artifact.urn, PRODUCED_BY, {}, asserter=USER)
    assert "order" in caught.value.message
    assert caught.value.path == "$"


def test_the_builtins_are_listed(store: AspectStore) -> None:
    ids = [schema["$id"] for schema in store.list_schemas()]
    assert ids[:5] == sorted(ids[:5])
    assert set(ids) >= {ARTIFACT, PRODUCED_BY, USED_BY, MEMBER, POLICY}
    assert store.get_schema("artifact.1")["$id"] == ARTIFACT
    assert store.get_schema(PRODUCED_BY)["x-fabric-link"]["rel"] == "WAS_GENERATED_BY"


def quality_schema(version: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:fabric:schema:quality.{version}",
        "type": "object",
        "required": ["score"],
        "properties": {"score": {"type": "number", "minimum": 0, "maximum": 1}},
        **extra,
    }


def derived_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:fabric:schema:artifact-derived-from-dataset.1",
        "type": "object",
        "required": ["dataset"],
        "properties": {"dataset": {"type": "string"}},
        "x-fabric-link": {
            "property": "dataset",
            "rel": "DERIVED_FROM",
            "label": "Dataset",
            "direction": "out",
            "lineage": True,
        },
    }


def test_registered_schemas_survive_a_restart(open_aspect_store: Callable[[], AspectStore]) -> None:
    store = open_aspect_store()
    registered = store.register_schema(quality_schema(), asserter=USER)
    assert registered["$id"] == "urn:fabric:schema:quality.1"
    store.register_schema(derived_schema(), asserter=USER)
    artifact = ready_artifact(store)
    aspect = store.assert_aspect(artifact.urn, "quality.1", {"score": 0.5}, asserter=USER)
    link = store.assert_aspect(
        artifact.urn, "artifact-derived-from-dataset.1", {"dataset": "urn:fabric:dataset:imagenet"}, asserter=USER
    )
    assert link.rel == "DERIVED_FROM"
    store.close()

    reopened = open_aspect_store()
    assert reopened.get_schema("urn:fabric:schema:quality.1") == registered
    assert reopened.get_aspect(aspect.urn).content == {"score": 0.5}
    with pytest.raises(ValidationFailed) as caught:
        reopened.assert_aspect(artifact.urn, "quality.1", {"score": 2}, asserter=USER)
    assert caught.value.path == "$.score"
    # The user link schema made a new relationship type that lineage follows (it says lineage: true).
    lineage = reopened.lineage(artifact.urn)
    assert {(edge["rel"], edge["to"]) for edge in lineage.edges} == {("DERIVED_FROM", "urn:fabric:dataset:imagenet")}
    assert {"urn": "urn:fabric:dataset:imagenet", "kind": "dataset"} in lineage.nodes
    # A dataset is an entity of its own now, and can carry aspects.
    on_dataset = reopened.assert_aspect("urn:fabric:dataset:imagenet", "quality.1", {"score": 1}, asserter=USER)
    assert [a.urn for a in reopened.query_aspects(entity="urn:fabric:dataset:imagenet").items] == [on_dataset.urn]


def test_registering_again_is_idempotent_but_other_content_conflicts(store: AspectStore) -> None:
    first = store.register_schema(quality_schema(), asserter=USER)
    assert store.register_schema(quality_schema(), asserter=USER) == first
    with pytest.raises(Conflict):
        store.register_schema(quality_schema(description="changed"), asserter=USER)
    with pytest.raises(Conflict):
        store.register_schema({**quality_schema(), "$id": ARTIFACT}, asserter=USER)
    assert store.register_schema(quality_schema(2), asserter=USER)["$id"] == "urn:fabric:schema:quality.2"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"$id": "quality"}, "$['$id']"),
        ({"$id": "urn:fabric:schema:Quality.1"}, "$['$id']"),
        ({"$id": "urn:fabric:schema:q'}) DETACH DELETE n//.1"}, "$['$id']"),
        ({"type": "no-such-type"}, "$.type"),
        ({"$schema": "http://json-schema.org/draft-04/schema#"}, "$['$schema']"),
        (
            {
                "x-fabric-link": {
                    "property": "score",
                    "rel": "X`]-() DETACH DELETE n//",
                    "label": "Thing",
                    "direction": "out",
                }
            },
            "$.x-fabric-link.rel",
        ),
        (
            {
                "x-fabric-link": {
                    "property": "score",
                    "rel": "RATES",
                    "label": "Thing) DETACH DELETE n//",
                    "direction": "out",
                }
            },
            "$.x-fabric-link.label",
        ),
        (
            {"x-fabric-link": {"property": "score", "rel": "RATES", "label": "Schema", "direction": "out"}},
            "$.x-fabric-link.label",
        ),
        (
            {"x-fabric-link": {"property": "score", "rel": "HAS_ASPECT", "label": "Thing", "direction": "out"}},
            "$.x-fabric-link.rel",
        ),
        (
            {"x-fabric-link": {"property": "score", "rel": "RATES", "label": "Thing", "direction": "sideways"}},
            "$.x-fabric-link.direction",
        ),
        (
            {"x-fabric-link": {"property": "nope", "rel": "RATES", "label": "Thing", "direction": "out"}},
            "$.x-fabric-link.property",
        ),
        ({"x-fabric-link": "RATES"}, "$.x-fabric-link"),
    ],
)
def test_bad_schemas_and_injection_attempts_are_refused(store: AspectStore, change: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        store.register_schema({**quality_schema(), **change}, asserter=USER)
    assert caught.value.path == path
    assert store.get_schema(ARTIFACT)  # the graph is intact
    assert len(store.list_schemas()) == len(BUILTIN_IDS)  # only the built-ins: nothing was registered


def test_unknown_and_malformed_schema_ids(store: AspectStore) -> None:
    artifact = ready_artifact(store)
    with pytest.raises(NotFound):
        store.get_schema("urn:fabric:schema:nothing.1")
    with pytest.raises(NotFound):
        store.assert_aspect(artifact.urn, "urn:fabric:schema:nothing.1", {}, asserter=USER)
    with pytest.raises(InvalidUrn):
        store.get_schema("not a schema")
    with pytest.raises(NotFound):
        store.query_aspects(schema="nothing.1")


def test_a_link_target_of_the_wrong_kind_is_refused(store: AspectStore) -> None:
    store.register_schema(derived_schema(), asserter=USER)
    artifact = ready_artifact(store)
    with pytest.raises(ValidationFailed) as caught:
        store.assert_aspect(
            artifact.urn, "artifact-derived-from-dataset.1", {"dataset": new_urn("order")}, asserter=USER
        )
    assert caught.value.path == "$.dataset"
    with pytest.raises(ValidationFailed):
        store.assert_aspect(artifact.urn, "artifact-derived-from-dataset.1", {"dataset": "imagenet"}, asserter=USER)
