"""The aspect store over each backend: every test that takes `store` runs once on LadybugDB, once on Neo4j
(through `backend_name`, the one both-backends parametrisation in `tests/fixtures_backends.py`).

The Neo4j server is session-wide (`neo4j_url`), so each test starts by wiping every node from it.
`open_aspect_store()` opens another store on the same graph (to test what survives a restart).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aspects import AspectStore, open_store
from tests.fixtures_backends import wipe_neo4j


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
