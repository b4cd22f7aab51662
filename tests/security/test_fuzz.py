"""Schemathesis, driven by the server's own /openapi.json, against a real `fabric serve --auth` on each graph
backend: no 5xx, answers that conform to the description (status, content type, body schema), and
problem+json for every error. Bounded: a few examples per operation, so all of it stays well under a minute.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from fabric.app import api_description
from fabric.openapi.document import METHODS
from tests.fixtures_backends import TEST_TOKEN_KEY
from tests.security.people import PROBLEM, auth, upload
from tests.server_process import FabricServer

# A longer hunt: FABRIC_FUZZ_EXAMPLES=200 pytest tests/security/test_fuzz.py
EXAMPLES_PER_OPERATION = int(os.environ.get("FABRIC_FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_server(graph_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FabricServer]:
    args = ["--auth", "--token-key", TEST_TOKEN_KEY]
    if graph_url is not None:
        args += ["--graph-url", graph_url]
    with FabricServer(tmp_path_factory.mktemp("fuzz") / "data", args=args) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            upload(client, "creator", b"something to find", filename="fuzz.txt", policy="open")
        yield server


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_server: FabricServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")


@schemathesis.serializer("application/offset+octet-stream")
def tus_bytes(context: object, value: object) -> dict[str, bytes]:
    """Bodies of tus PATCH requests: bytes as they are."""
    return {"data": value if isinstance(value, bytes) else str(value).encode()}


OPERATIONS = sorted(
    (path, method) for path, item in api_description()["paths"].items() for method in item if method in METHODS
)


@pytest.mark.parametrize("path, method", OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_generated_requests(
    fuzz_schema: schemathesis.BaseSchema, fuzz_server: FabricServer, path: str, method: str
) -> None:
    """Every operation the description lists (read from the code, so a new route is fuzzed without a new test)."""
    operation = fuzz_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,  # the same examples every run: a failure here is reproducible, never flaky
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=fuzz_server.url, headers=auth("creator"), timeout=30)
        case.validate_response(response, checks=CHECKS)
        if response.status_code >= 400 and case.method.upper() != "HEAD":
            assert response.headers.get("content-type") == [PROBLEM], (response.status_code, response.text[:300])
            body = response.json()
            assert body["status"] == response.status_code and body["title"]

    check()
