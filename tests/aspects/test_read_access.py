"""Reads by URN decide access in Python from the edges they fetch (`Reader.may_read`), listings and aspect queries
with the Cypher predicate (`READABLE`): both must say the same for every way an artifact becomes readable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aspects import ArtifactFilter, AspectStore, NotFound, Reader, new_urn
from aspects.model import to_micros
from tests.aspects.helpers import POLICY, artifact_content

ACME = "urn:fabric:org:acme"
RIVAL = "urn:fabric:org:rival"
ALICE = "urn:fabric:user:alice@acme.test"
BOB = "urn:fabric:user:bob@rival.test"
EVE = "urn:fabric:user:eve@rival.test"
GRANT = "grant.1"


def artifact(store: AspectStore, uploader: str, org: str, *, created: datetime | None = None) -> str:
    """A complete artifact (completing it sets its uploader and creation time from `artifact.1`)."""
    urn = new_urn("artifact")
    created = created or datetime.now(UTC)
    store.create_artifact(urn, name="x.csv", uploader=uploader, org=org, created=created)
    content = {**artifact_content("x.csv", body=urn.encode(), created=created.isoformat()), "uploader": uploader}
    store.complete_artifact(urn, content, asserter=uploader)
    return urn


def test_reads_by_urn_and_the_cypher_predicate_agree(store: AspectStore) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=30)
    minted = to_micros(datetime.now(UTC) - timedelta(days=1))  # a compute token of alice's, minted yesterday
    arts = {
        "alice's": artifact(store, ALICE, ACME),
        "acme's, old": artifact(store, BOB, ACME, created=long_ago),
        "acme's, new": artifact(store, BOB, ACME),
        "open": artifact(store, BOB, RIVAL),
        "open, retracted": artifact(store, BOB, RIVAL),
        "other policy": artifact(store, BOB, RIVAL),
        "granted to alice": artifact(store, BOB, RIVAL),
        "granted to acme": artifact(store, BOB, RIVAL),
        "grant revoked": artifact(store, BOB, RIVAL),
        "granted to eve": artifact(store, BOB, RIVAL),
        "bob's": artifact(store, BOB, RIVAL),
    }
    store.assert_aspect(arts["open"], POLICY, {"policy": "urn:fabric:policy:open"}, asserter=BOB)
    retracted = store.assert_aspect(arts["open, retracted"], POLICY, {"policy": "urn:fabric:policy:open"}, asserter=BOB)
    store.retract_aspect(retracted.urn, asserter=BOB)
    store.assert_aspect(arts["other policy"], POLICY, {"policy": "urn:fabric:policy:secret"}, asserter=BOB)
    store.assert_aspect(arts["granted to alice"], GRANT, {"grantee": ALICE}, asserter=BOB)
    store.assert_aspect(arts["granted to acme"], GRANT, {"grantee": ACME}, asserter=BOB)
    revoked = store.assert_aspect(arts["grant revoked"], GRANT, {"grantee": ALICE}, asserter=BOB)
    store.retract_aspect(revoked.urn, asserter=BOB)
    store.assert_aspect(arts["granted to eve"], GRANT, {"grantee": EVE}, asserter=BOB)

    readers = {
        "alice": Reader(user=ALICE, org=ACME),
        "acme admin": Reader(user="urn:fabric:user:root@acme.test", org=ACME, admin=True),
        "alice's compute token": Reader(user=ALICE, org=ACME, as_of=minted),
        "acme admin's compute token": Reader(user="urn:fabric:user:root@acme.test", org=ACME, admin=True, as_of=minted),
    }
    expected = {
        "alice": {"alice's", "open", "granted to alice", "granted to acme"},
        "acme admin": {"alice's", "acme's, old", "acme's, new", "open", "granted to acme"},
        # grants and policies made after minting do not count, nor artifacts of the organisation made since
        "alice's compute token": {"alice's"},
        "acme admin's compute token": {"acme's, old"},
    }
    for who, reader in readers.items():
        by_predicate = store.readable_artifacts(list(arts.values()), reader)
        assert {name for name, urn in arts.items() if urn in by_predicate} == expected[who], who
        for limit in (1, 3, 100):  # pages of a listing (on LadybugDB: its own artifacts decided without the predicate)
            listed: list[str] = []
            cursor: str | None = None
            while True:
                page = store.list_artifacts(ArtifactFilter(reader=reader), limit=limit, cursor=cursor)
                listed += [item.urn for item in page.items]
                if (cursor := page.next_cursor) is None:
                    break
            assert sorted(name for name, urn in arts.items() if urn in listed) == sorted(expected[who]), (who, limit)
            assert len(listed) == len(expected[who])
        for name, urn in arts.items():
            for aspects in (True, False):
                try:
                    store.get_artifact(urn, reader=reader, aspects=aspects)
                    read = True
                except NotFound:
                    read = False
                assert read == (name in expected[who]), (who, name, aspects)


@pytest.mark.parametrize("aspects", [True, False])
def test_an_unknown_artifact_is_not_found_for_a_reader(store: AspectStore, aspects: bool) -> None:
    with pytest.raises(NotFound):
        store.get_artifact(new_urn("artifact"), reader=Reader(user=ALICE, org=ACME), aspects=aspects)
