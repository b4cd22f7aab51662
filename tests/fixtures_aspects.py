"""The aspect store over each backend: every test that takes `store` runs once on LadybugDB, once on Neo4j.

The Neo4j server is session-wide (`neo4j_url`), so each test starts by wiping every node from it.
`open_aspect_store()` opens another store on the same graph (to test what survives a restart).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from neo4j import GraphDatabase

from aspects import AspectStore, open_store

BACKENDS = ["ladybug", "neo4j"]


def wipe_neo4j(url: str) -> None:
    with GraphDatabase.driver(url, auth=None) as driver:
        driver.execute_query("MATCH (n) DETACH DELETE n")


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_aspect_store(
    request: pytest.FixtureRequest, backend_name: str, tmp_path: Path
) -> Iterator[Callable[[], AspectStore]]:
    url: str | None = None
    if backend_name == "neo4j":
        url = request.getfixturevalue("neo4j_url")
        wipe_neo4j(url)
    opened: list[AspectStore] = []

    def factory() -> AspectStore:
        store = open_store(url, tmp_path / "data")
        opened.append(store)
        return store

    yield factory
    for store in opened:
        try:
            store.close()
        except Exception:  # already closed by the test
            pass


@pytest.fixture
def store(open_aspect_store: Callable[[], AspectStore]) -> AspectStore:
    return open_aspect_store()
