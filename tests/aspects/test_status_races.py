"""Conditional status changes on Neo4j never lose a change another transaction committed meanwhile.

Neo4j reads under read committed without locks, so `WHERE a.status = 'pending' SET a.status = 'abandoned'` could
see `pending`, wait for the node's lock while another transaction made the artifact a draft (or completed it), and
then overwrite that (CI caught the maintenance abandoning a draft just created). The statements now take the lock
before reading. LadybugDB runs one write transaction at a time, so there is nothing to interleave there.

The test holds the other transaction open and waits until Neo4j reports the store's statement as blocked by it,
so the interleaving is the same on any machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from neo4j import Driver, GraphDatabase

from aspects import AspectStore, open_store
from tests.aspects.helpers import USER
from tests.fixtures_aspects import wipe_neo4j

URN = "urn:fabric:artifact:race-1"


def wait_until_blocked(driver: Driver, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records, _, _ = driver.execute_query("SHOW TRANSACTIONS YIELD status")
        if any(str(record["status"]).startswith("Blocked") for record in records):
            return
        time.sleep(0.02)
    raise AssertionError("the store's statement never waited for the open transaction")


@pytest.mark.parametrize(
    ("meanwhile", "change", "expected"),
    [
        ("draft", lambda store: store.abandon_artifact(URN), False),  # the maintenance against a new draft
        ("ready", lambda store: store.abandon_artifact(URN), False),  # ... against a completion
        ("deleted", lambda store: store.seal_artifact(URN, 0), False),  # sealing a draft being deleted
    ],
    ids=["abandon-vs-draft", "abandon-vs-ready", "seal-vs-delete"],
)
def test_a_status_change_reads_what_a_concurrent_one_committed(
    neo4j_url: str, tmp_path: Path, meanwhile: str, change: Callable[[AspectStore], object], expected: object
) -> None:
    wipe_neo4j(neo4j_url)
    with open_store(neo4j_url, tmp_path / "data") as store, GraphDatabase.driver(neo4j_url, auth=None) as driver:
        store.create_artifacts([{"urn": URN, "name": "race.bin", "uploader": USER}])
        if meanwhile == "deleted":
            store.backend.run(store.backend.q.SET_ARTIFACT_STATUS, {"urn": URN, "from": ["pending"], "to": "draft"})
        outcome: dict[str, object] = {}

        def run_change() -> None:
            try:
                outcome["result"] = change(store)
            except Exception as exc:
                outcome["result"] = type(exc).__name__

        with driver.session() as session:
            tx = session.begin_transaction()
            tx.run("MATCH (a:Artifact {urn: $urn}) SET a.status = $status", urn=URN, status=meanwhile)
            worker = threading.Thread(target=run_change)
            worker.start()
            try:
                wait_until_blocked(driver)
            finally:
                tx.commit()
                worker.join(60)
        assert outcome == {"result": expected}
        assert store.get_artifact(URN, aspects=False).status == meanwhile
