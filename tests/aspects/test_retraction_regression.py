"""Retracting one of several edges of a type on one node closes exactly that edge (a LadybugDB pitfall)."""

from __future__ import annotations

import uuid

from aspects import AspectStore


def test_each_retraction_closes_its_own_edge(store: AspectStore) -> None:
    artifact = f"urn:fabric:artifact:{uuid.uuid4()}"
    store.create_artifact(artifact, name="a", uploader="urn:fabric:user:u@x")
    used = [
        store.assert_aspect(
            artifact,
            "urn:fabric:schema:artifact-used-by-order.1",
            {"order": f"urn:fabric:order:{uuid.uuid4()}"},
            asserter="urn:fabric:user:u@x",
        )
        for _ in range(3)
    ]
    for aspect in used[1:]:
        assert store.retract_aspect(aspect.urn, asserter="urn:fabric:user:u@x").valid_to is not None
    current = store.query_aspects(entity=artifact, schema="urn:fabric:schema:artifact-used-by-order.1").items
    assert [a.urn for a in current] == [used[0].urn]
