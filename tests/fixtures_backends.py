"""The both-backends fixtures, defined once: every test that takes one runs on LadybugDB and on Neo4j.

- `backend_name`: "ladybug" or "neo4j", the one parametrisation every both-backends test goes through (the
  aspect store's `store`, the HTTP tests' `graph_url`, the portal's server, the query-module checks).
- `graph_url`: None for the embedded LadybugDB graph, the Bolt URL of the session's Neo4j (wiped) otherwise.
- `app_server` / `api`: the app in this process (httpx ASGI transport), without authentication.
- `auth_app_server`: the same with `--auth` and the known key `TEST_TOKEN_KEY`, so tests mint tokens.
Module-scoped: one app per backend per module; tests keep to their own names and URNs.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from neo4j import GraphDatabase

from tests.inprocess import InProcessServer

BACKENDS = ["ladybug", "neo4j"]
TEST_TOKEN_KEY = "fabric-tests-signing-key-0123456789abcdef"


def wipe_neo4j(url: str) -> None:
    with GraphDatabase.driver(url, auth=None) as driver:
        driver.execute_query("MATCH (n) DETACH DELETE n")


@pytest.fixture(scope="module", params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    """Module-scoped, so that a module's servers start once per backend; tests group by backend."""
    return str(request.param)


@pytest.fixture(scope="module")
def graph_url(request: pytest.FixtureRequest, backend_name: str) -> str | None:
    if backend_name == "ladybug":
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
