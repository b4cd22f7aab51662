"""Version numbers are claimed in the graph, on LadybugDB and Neo4j by one parametrised suite: a number's claim is a
node whose URN is unique in the graph, made in the transaction that registers the version, so writers that do not
share a lock (two replicas on one Neo4j; here two `Lifecycle`s, and on Neo4j two stores) never give one number
twice, and a number whose claim is taken is skipped, never reused."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aspects import AspectStore
from aspects.backends.cypher import fill
from aspects.lifecycle import VERSION_NUMBER_LABEL, Lifecycle
from tests.aspects.helpers import USER, ready_artifact

ORG = "urn:fabric:org:acme"
REPO = "urn:fabric:repository:vision/net"
PER_WRITER = 6


def test_a_claimed_key_is_refused(store: AspectStore) -> None:
    Lifecycle(store)  # registers the lifecycle's labels
    body = {"artifact": ready_artifact(store, "a").urn, "number": 1, "description": "", "tags": []}
    store.assert_aspect(
        REPO, "repository.1", {"project": "vision", "name": "net", "org": ORG, "creator": USER}, asserter=USER
    )
    claim = (VERSION_NUMBER_LABEL, f"{REPO}#1")
    first = store.assert_claiming(REPO, "version.1", body, asserter=USER, claim=claim)
    assert first is not None
    again = store.assert_claiming(REPO, "version.1", {**body, "description": "x"}, asserter=USER, claim=claim)
    assert again is None
    versions = store.query_aspects(entity=REPO, schema="version.1").items
    assert [a.urn for a in versions] == [first.urn]  # the refused claim wrote nothing


def test_a_taken_number_is_skipped_not_reused(store: AspectStore) -> None:
    lc = Lifecycle(store)
    assert lc.register_version("vision", "net", ready_artifact(store, "a").urn, asserter=USER, org=ORG)["number"] == 1
    # another replica holds number 2 (its claim is in the graph)
    store.backend.run(
        fill(store.backend.q.CREATE_NODE, label=VERSION_NUMBER_LABEL).replace("{values}", ""),
        {"urn": f"{REPO}#2", "now": 1},
    )
    made = lc.register_version("vision", "net", ready_artifact(store, "b").urn, asserter=USER, org=ORG)
    assert made["number"] == 3
    assert lc.register_version("vision", "net", ready_artifact(store, "c").urn, asserter=USER, org=ORG)["number"] == 4
    assert [v["number"] for v in lc.versions("vision", "net").items] == [4, 3, 1]


def test_concurrent_writers_never_share_a_number(
    store: AspectStore, backend_name: str, open_aspect_store: Callable[[], AspectStore]
) -> None:
    # LadybugDB is one process's graph: two `Lifecycle`s with their own locks on one store race as two replicas
    # would. Neo4j: two stores (two drivers, as two server processes) on one graph.
    other_store = open_aspect_store() if backend_name == "neo4j" else store
    writers = [Lifecycle(store), Lifecycle(other_store)]
    writers[0].register_version("vision", "net", ready_artifact(store, "first").urn, asserter=USER, org=ORG)
    artifacts = [[ready_artifact(store, f"w{w}-{i}").urn for i in range(PER_WRITER)] for w in range(len(writers))]
    start = threading.Barrier(len(writers))
    numbers: list[int] = []
    errors: list[BaseException] = []

    def write(index: int) -> None:
        try:
            start.wait(timeout=60)
            for urn in artifacts[index]:
                made = writers[index].register_version("vision", "net", urn, asserter=USER, org=ORG)
                numbers.append(int(made["number"]))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(index,)) for index in range(len(writers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert len(numbers) == len(set(numbers)) == len(writers) * PER_WRITER
    listed = [v["number"] for v in writers[0].versions("vision", "net", limit=1000).items]
    assert len(listed) == len(set(listed)) == 1 + len(writers) * PER_WRITER
    assert sorted(listed, reverse=True) == listed  # newest first is highest first


def test_listing_by_number_pages_counts_deletions_and_falls_back_for_unclaimed_versions(store: AspectStore) -> None:
    lc = Lifecycle(store)
    made = [
        lc.register_version("vision", "net", ready_artifact(store, f"v{i}").urn, asserter=USER, org=ORG)
        for i in range(7)
    ]
    before_deletion = datetime.now(UTC)
    time.sleep(0.002)
    lc.delete(made[4]["artifact"], asserter=USER)

    def pages(**kw: object) -> list[list[int]]:
        out, cursor = [], None
        while True:
            page = lc.versions("vision", "net", limit=2, cursor=cursor, **kw)  # type: ignore[arg-type]
            out.append([v["number"] for v in page.items])
            if page.next_cursor is None:
                return out
            cursor = page.next_cursor

    assert pages() == [[7, 6], [4, 3], [2, 1]]
    assert pages(include_deleted=True) == [[7, 6], [5, 4], [3, 2], [1]]
    assert pages(at=before_deletion) == [[7, 6], [5, 4], [3, 2], [1]]
    assert lc.get_version("vision", "net", "latest", at=before_deletion)["number"] == 7
    assert lc.get_version("vision", "net", 5)["status"] == "deleted"
    assert lc.get_version("vision", "net", 3)["artifact"] == made[2]["artifact"]
    before_stages = datetime.now(UTC)
    time.sleep(0.002)
    for number in (2, 3, 7, 1):
        lc.set_stage("vision", "net", number, "testing", asserter=USER)
    lc.set_stage("vision", "net", 1, "staging", asserter=USER)  # moved on: no longer in testing
    assert pages(stage="testing") == [[7, 3], [2]]
    assert pages(stage="staging") == [[1]]
    assert pages(stage="testing", at=before_stages) == [[]]
    # a version registered without a claim (by a server from before claims) is found, by a process started after
    # it, by scanning the repository's edges
    legacy = ready_artifact(store, "legacy").urn
    store.assert_aspect(
        REPO, "version.1", {"artifact": legacy, "number": 8, "description": "", "tags": []}, asserter=USER
    )
    lc = Lifecycle(store)
    assert pages() == [[8, 7], [6, 4], [3, 2], [1]]
    assert lc.get_version("vision", "net", 8)["artifact"] == legacy
    assert lc.get_version("vision", "net", "latest")["artifact"] == legacy
