"""Replicas started together on a Neo4j that has never seen datafabric all open it (as docker compose starts them).

Each one declares the same constraints and indexes at start-up. On a fresh graph they race: Neo4j answers some
with a deadlock (a transient error: tried again) and some with "an equivalent index already exists" (what they
wanted). A real, new Neo4j server, four stores opened at once from threads released together.
"""

from __future__ import annotations

import threading
from pathlib import Path

from aspects import AspectStore, open_store
from tests.fixtures_neo4j import Neo4jServer

WAIT = 120.0


def test_stores_opened_together_on_a_fresh_neo4j_all_open_it(tmp_path: Path) -> None:
    with Neo4jServer(tmp_path / "neo4j") as server:
        start = threading.Barrier(4)
        opened: list[AspectStore] = []
        failures: list[BaseException] = []

        def open_one(n: int) -> None:
            start.wait(WAIT)
            try:
                opened.append(open_store(server.url, tmp_path / f"replica{n}"))
            except BaseException as exc:  # reported below, by the test's own thread
                failures.append(exc)

        threads = [threading.Thread(target=open_one, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        try:
            assert failures == []
            assert len(opened) == 4
            opened[0].backend.ping()
        finally:
            for store in opened:
                store.close()
