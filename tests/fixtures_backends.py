"""The both-backends fixtures of the HTTP tests, defined once: every test that takes one runs on LadybugDB and
on Neo4j.

- `graph_url`: None for the embedded LadybugDB graph, the Bolt URL of the session's Neo4j (wiped) otherwise.
- `app_server` / `api`: the app in this process (httpx ASGI transport), without authentication.
- `auth_app_server`: the same with `--auth` and the known key `TEST_TOKEN_KEY`, so tests mint tokens.
Module-scoped: one app per backend per module; tests keep to their own names and URNs.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures_aspects import BACKENDS, wipe_neo4j
from tests.inprocess import InProcessServer

TEST_TOKEN_KEY = "fabric-tests-signing-key-0123456789abcdef"


@pytest.fixture(scope="module", params=BACKENDS)
def graph_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "ladybug":
        return None
    url = str(request.getfixturevalue("neo4j_url"))
    wipe_neo4j(url)
    return url


@pytest.fixture(scope="module")
def app_server(graph_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with InProcessServer(tmp_path_factory.mktemp("app") / "data", graph_url=graph_url, no_auth=True) as server:
        yield server


@pytest.fixture(scope="module")
def api(app_server: InProcessServer) -> httpx.Client:
    return app_server.client(timeout=30)


@pytest.fixture(scope="module")
def auth_app_server(graph_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with InProcessServer(
        tmp_path_factory.mktemp("auth-app") / "data", graph_url=graph_url, no_auth=False, token_key=TEST_TOKEN_KEY
    ) as server:
        yield server
