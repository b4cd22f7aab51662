"""Reads that must cost one graph round trip, whatever the number of relationship types: counted at the backend."""

from __future__ import annotations

from typing import Any

import pytest

from aspects import AspectStore, Reader, new_urn
from aspects.lifecycle import Lifecycle
from tests.aspects.helpers import ARTIFACT, MEMBER, POLICY, USER, produced_by, ready_artifact, used_by

OWNER = Reader(user=USER, org="urn:fabric:org:acme")
STRANGER = Reader(user="urn:fabric:user:eve@rival.test", org="urn:fabric:org:rival")


def count_statements(store: AspectStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    ran: list[str] = []
    run = store.backend.run

    def counting(query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        ran.append(query)
        return run(query, params)

    monkeypatch.setattr(store.backend, "run", counting)
    return ran


def test_an_artifact_and_all_its_aspects_are_one_round_trip(
    store: AspectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    urn = ready_artifact(store).urn
    order = new_urn("order")
    produced_by(store, urn, order)
    used_by(store, urn, new_urn("order"))  # an `in` link: the edge points at the artifact
    store.assert_aspect(urn, MEMBER, {"collection": "urn:fabric:collection:c1"}, asserter=USER)
    store.assert_aspect(urn, POLICY, {"policy": "urn:fabric:policy:open"}, asserter=USER)
    grant = store.assert_aspect(urn, "grant.1", {"grantee": STRANGER.user}, asserter=USER)
    store.retract_aspect(
        store.assert_aspect(urn, MEMBER, {"collection": "urn:fabric:collection:c2"}, asserter=USER).urn, asserter=USER
    )
    assert len(store.registry.rels()) > 5
    ran = count_statements(store, monkeypatch)

    full = store.get_artifact(urn)
    assert len(ran) == 1
    schemas = [aspect.schema for aspect in full.aspects or []]
    assert schemas == [
        ARTIFACT,
        *(
            f"urn:fabric:schema:{name}"
            for name in (
                "artifact-produced-by-order.1",
                "artifact-used-by-order.1",
                "collection-member.1",
                "policy.1",
                "grant.1",
            )
        ),
    ]
    assert [(a.valid_from, a.urn) for a in full.aspects or []] == sorted(
        (a.valid_from, a.urn) for a in full.aspects or []
    )

    seen_by_stranger = store.get_artifact(urn, reader=STRANGER)  # granted: reads, but may not see grants
    assert len(ran) == 2
    assert grant.urn not in {aspect.urn for aspect in seen_by_stranger.aspects or []}
    assert len(seen_by_stranger.aspects or []) == len(full.aspects or []) - 1
    assert store.get_artifact(urn, reader=OWNER).aspects == full.aspects
    assert len(ran) == 3


def test_an_artifact_with_its_versions_is_one_round_trip(store: AspectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    lifecycle = Lifecycle(store)
    urn = ready_artifact(store).urn
    other = ready_artifact(store).urn
    for project, name in (("vision", "net"), ("audio", "net")):
        lifecycle.register_version(project, name, urn, asserter=USER, org="urn:fabric:org:acme")
    lifecycle.register_version("vision", "net", other, asserter=USER, org="urn:fabric:org:acme")
    store.assert_aspect(urn, POLICY, {"policy": "urn:fabric:policy:open"}, asserter=USER)
    expected = sorted(lifecycle.versions_of_artifact(urn), key=str)  # read by its own statement
    assert expected == [{"number": 1, "repository": "audio/net"}, {"number": 1, "repository": "vision/net"}]
    ran = count_statements(store, monkeypatch)

    for reader in (None, OWNER, STRANGER):  # the stranger reads it by the open policy, not by the versions' edges
        record = store.get_artifact(urn, reader=reader, linked_by=lifecycle.version_links)
        assert {aspect.entity for aspect in record.aspects or []} == {urn}
        assert {aspect.entity for aspect in record.linked_by or []} == {
            "urn:fabric:repository:vision/net",
            "urn:fabric:repository:audio/net",
        }
        assert sorted(lifecycle.versions_of_artifact(urn, versions=record.linked_by), key=str) == expected
    assert len(ran) == 3
    assert store.get_artifact(urn).linked_by is None  # not asked for
