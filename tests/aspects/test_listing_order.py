"""Listings newest first whichever way the page is found: on LadybugDB through the in-memory order of artifacts
(`aspects.artifact_order`), with the graph sorting what a selective filter leaves; on Neo4j by the graph alone.
Every expectation here is computed from the data, so both backends must give the very same pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from neo4j import GraphDatabase

from aspects import AspectStore, Reader, open_store
from aspects.artifact_filter import ArtifactFilter
from aspects.artifact_operations import ORDER_SCAN_BUDGET
from tests.aspects.helpers import USER, artifact_content
from tests.fixtures_aspects import wipe_neo4j

T0 = datetime(2026, 1, 1, tzinfo=UTC)
COUNT = ORDER_SCAN_BUDGET + 300


def fill(store: AspectStore) -> list[str]:
    """COUNT artifacts one second apart, every 7th also by someone else; URNs newest first."""
    items = [
        {
            "urn": f"urn:fabric:artifact:order-{i:05d}",
            "name": "rare.csv" if i in (3, 5) else f"n{i % 10}.csv",
            "uploader": USER if i % 7 else "urn:fabric:user:bob@example.com",
            "created": T0 + timedelta(seconds=i),
        }
        for i in range(COUNT)
    ]
    store.create_artifacts(items)
    return [item["urn"] for item in reversed(items)]


def every_page(store: AspectStore, limit: int, **filters: Any) -> list[str]:
    urns: list[str] = []
    cursor = None
    while True:
        page = store.list_artifacts(ArtifactFilter(**filters), limit=limit, cursor=cursor)
        urns += [record.urn for record in page.items]
        if page.next_cursor is None:
            return urns
        cursor = page.next_cursor


def test_pages_follow_created_then_urn_through_a_selective_filter(store: AspectStore) -> None:
    newest_first = fill(store)
    assert [r.urn for r in store.list_artifacts(limit=5).items] == newest_first[:5]
    assert every_page(store, 400) == newest_first
    # Two matches older than ORDER_SCAN_BUDGET candidates: found after the graph takes over.
    assert every_page(store, 1, name="rare.csv") == [
        "urn:fabric:artifact:order-00005",
        "urn:fabric:artifact:order-00003",
    ]
    bobs = [urn for urn in newest_first if int(urn.rsplit("-", 1)[1]) % 7 == 0]
    alice = Reader(user=USER, org="urn:fabric:org:acme")
    assert len(every_page(store, 50, reader=alice)) == COUNT - len(bobs)
    # A reader who may read one in seven: small pages fill from the walk, a large one has the graph finish it.
    bob = Reader(user="urn:fabric:user:bob@example.com", org="urn:fabric:org:other")
    for limit in (5, 50, 200):
        assert every_page(store, limit, reader=bob) == bobs, limit
    assert every_page(store, 100, name_prefix="n0", status="pending") == [
        urn for urn in newest_first if int(urn.rsplit("-", 1)[1]) % 10 == 0
    ]


def test_completion_moves_an_artifact_to_its_new_created_time(store: AspectStore) -> None:
    newest_first = fill(store)
    oldest = newest_first[-1]
    later = (T0 + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    store.complete_artifact(oldest, artifact_content("moved.csv", created=later), asserter=USER)
    assert [r.urn for r in store.list_artifacts(limit=2).items] == [oldest, newest_first[0]]


def test_an_artifact_made_older_behind_the_store_is_listed_in_its_place(store: AspectStore) -> None:
    """Only the store writes `created`; should something else make an artifact older, a listing that meets it
    corrects the in-memory order and lets the graph sort (a write making one newer is not caught this way)."""
    newest_first = fill(store)
    newest = newest_first[0]
    store.backend.run(
        "MATCH (a:Artifact {urn: $urn}) SET a.created = $created",
        {"urn": newest, "created": int((T0 - timedelta(days=1)).timestamp() * 1_000_000)},
    )
    for _ in range(2):  # the first listing finds the order stale, the second uses the corrected order
        assert [r.urn for r in store.list_artifacts(limit=3).items] == newest_first[1:4]
    assert every_page(store, 500)[-1] == newest


def test_ties_in_created_are_ordered_by_urn_across_pages(store: AspectStore) -> None:
    """Many artifacts created in the same microsecond: pages continue by URN, descending, on both backends."""
    items = [
        {
            "urn": f"urn:fabric:artifact:tie-{i:03d}",
            "name": "t.csv",
            "uploader": USER,
            "created": T0 + timedelta(0, i // 10),
        }
        for i in range(60)
    ]
    store.create_artifacts(items)
    expected = [item["urn"] for item in sorted(items, key=lambda i: (i["created"], i["urn"]), reverse=True)]
    for limit in (1, 7, 10, 60):
        assert every_page(store, limit) == expected
    assert every_page(store, 4, created_before=T0 + timedelta(seconds=3)) == expected[-30:]


def test_neo4j_lists_by_its_created_index(neo4j_url: str, tmp_path: Path) -> None:
    """Neo4j plans the newest-first listing as a scan of its `created` index that stops at the limit (a partial
    sort of ties only), never a sort of every artifact. LadybugDB has no such index: its listings come from the
    in-memory order, tested above on both backends with the same expectations."""
    wipe_neo4j(neo4j_url)
    with open_store(neo4j_url, tmp_path / "data") as store:
        store.create_artifacts([{"urn": "urn:fabric:artifact:plan-1", "name": "p.csv", "uploader": USER}])
        q = store.backend.q
        reader = Reader(user=USER, org="urn:fabric:org:acme")
        params = {"limit": 51, "cursor_created": 0, "cursor_urn": "", **reader.params(store.namespace)}
        with GraphDatabase.driver(neo4j_url, auth=None) as driver:
            for clauses in ([q.FILTER_LISTED], [q.FILTER_LISTED, q.FILTER_AFTER_CURSOR, q.FILTER_READABLE]):
                statement = f"{q.LIST_ALL_ARTIFACTS_MATCH} AND {' AND '.join(clauses)} {q.LIST_ALL_ARTIFACTS_RETURN}"
                plan = driver.execute_query("EXPLAIN " + statement, params).summary.plan
                operators = _operators(plan)
                assert any(op.startswith("NodeIndex") and "created" in op for op in operators), operators
                assert any(op.startswith("PartialTop") for op in operators), operators
                assert not any(op.startswith(("Sort", "Top")) for op in operators), operators


def _operators(plan: dict[str, Any]) -> list[str]:
    """Each operator of a plan as `Name details`, depth first."""
    details = str(plan.get("args", {}).get("Details", ""))
    found = [f"{plan['operatorType'].split('@')[0]} {details}"]
    for child in plan.get("children", []):
        found += _operators(child)
    return found


def every_sorted_page(store: AspectStore, limit: int, sort: str, descending: bool, **filters: Any) -> list[str]:
    urns: list[str] = []
    cursor = None
    while True:
        page = store.list_artifacts(
            ArtifactFilter(**filters), limit=limit, cursor=cursor, sort=sort, descending=descending
        )
        urns += [record.urn for record in page.items]
        if page.next_cursor is None:
            return urns
        cursor = page.next_cursor


def fill_named_and_sized(store: AspectStore) -> dict[str, tuple[str, int]]:
    """COUNT artifacts with names out of creation order (ties, capitals, non-ASCII) and sizes (some unknown: the
    pending ones), every 7th by someone else; each URN's (name, size as it sorts)."""
    names = ["beta", "Alpha", "émile", "zeta", "beta", "ångström", "a", "Zulu", "b-1", "b_1", "日本", "ß"]
    items = [
        {
            "urn": f"urn:fabric:artifact:sorted-{i:05d}",
            "name": f"{names[i % len(names)]}-{(i * 7919) % 97:02d}",
            "uploader": USER if i % 7 else "urn:fabric:user:bob@example.com",
            "created": T0 + timedelta(seconds=i),
        }
        for i in range(COUNT)
    ]
    store.create_artifacts(items)
    known: dict[str, tuple[str, int]] = {item["urn"]: (item["name"], -1) for item in items}
    for i, item in enumerate(items):
        if i % 3:  # the rest stay pending, their size unknown (-1)
            size = (i * 104729) % 50
            created = item["created"].isoformat().replace("+00:00", "Z")
            content = {**artifact_content(item["name"], created=created), "size": size}
            store.complete_artifact(item["urn"], content, asserter=USER)
            known[item["urn"]] = (item["name"], size)
    return known


def alices(urn: str) -> bool:
    """Whether `fill_named_and_sized` left the artifact alice's: she uploaded it, or completed it (and so became
    its uploader)."""
    i = int(urn.rsplit("-", 1)[1])
    return bool(i % 7 or i % 3)


def test_pages_by_name_size_and_oldest_first_follow_the_keys_then_urn(store: AspectStore) -> None:
    """On LadybugDB these pages walk the in-memory orders (the graph taking over after ORDER_SCAN_BUDGET
    candidates), on Neo4j the graph sorts; both give what Python's sort of the same keys gives (names compare by
    code point), page after page, through a selective filter and as a reader."""
    known = fill_named_and_sized(store)
    alice = Reader(user=USER, org="urn:fabric:org:acme")
    twice = "日本-" + f"{(10 * 7919) % 97:02d}"  # the 11th and the 1,175th artifact's name
    assert [name for name, _ in known.values()].count(twice) == 2
    for sort, column in (("name", 0), ("size", 1)):
        for descending in (False, True):
            expected = sorted(known, key=lambda urn: (known[urn][column], urn), reverse=descending)
            assert every_sorted_page(store, 250, sort, descending) == expected, (sort, descending)
            mine = [urn for urn in expected if alices(urn)]
            assert every_sorted_page(store, 97, sort, descending, reader=alice) == mine, (sort, descending)
            rare = [urn for urn in expected if known[urn][0] == twice]  # found past the scan budget
            assert every_sorted_page(store, 1, sort, descending, name=twice) == rare, (sort, descending)
    oldest_first = sorted(known, key=lambda urn: int(urn.rsplit("-", 1)[1]))
    assert every_sorted_page(store, 300, "created", False) == oldest_first


def test_a_completed_artifact_moves_to_its_size_and_name(store: AspectStore) -> None:
    known = fill_named_and_sized(store)
    pending = [urn for urn, (_, size) in known.items() if size == -1]
    content = {**artifact_content("0-first", created="2026-01-01T00:00:00Z"), "size": 10**9}
    store.complete_artifact(pending[-1], content, asserter=USER)
    assert [r.urn for r in store.list_artifacts(limit=1, sort="size").items] == [pending[-1]]
    assert [r.urn for r in store.list_artifacts(limit=1, sort="name", descending=False).items] == [pending[-1]]
    still_pending = store.list_artifacts(limit=1, sort="size", descending=False).items[0]
    assert still_pending.size is None and still_pending.urn in pending
