"""The OpenAPI description: it covers every route, is served at /openapi.json and /docs without a token, and
describes every error as problem+json. OPTIONS (issue 9, item 10) is answered on every path without a token."""

from __future__ import annotations

import re

import httpx
import pytest

from fabric.openapi import described_operations, route_operations
from fabric.openapi.document import METHODS
from tests.inprocess import InProcessServer

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def document(auth_app_server: InProcessServer) -> dict:
    with auth_app_server.client() as client:
        r = client.get("/openapi.json")  # no token: the description is public
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    return r.json()


def test_every_route_is_described_and_every_description_has_a_route(
    auth_app_server: InProcessServer, document: dict
) -> None:
    assert auth_app_server.app is not None
    routes = route_operations(auth_app_server.app.routes)
    described = described_operations(document)
    assert routes - described == set(), "routes the OpenAPI document does not describe (add them to `paths`)"
    assert described - routes == set(), "operations described that no route serves"


def test_document_is_openapi_3_1_with_unique_operation_ids(document: dict) -> None:
    assert document["openapi"].startswith("3.1.")
    ids = [op["operationId"] for item in document["paths"].values() for m, op in item.items() if m in METHODS]
    assert len(ids) == len(set(ids))
    for path, item in document["paths"].items():
        for name in re.findall(r"{([^}]+)}", path):
            for method, op in item.items():
                params = {(p["in"], p["name"]) for p in op.get("parameters", [])}
                assert ("path", name) in params, f"{method.upper()} {path} does not describe {{{name}}}"


def test_every_error_answer_is_problem_json(document: dict) -> None:
    errors = 0
    for item in document["paths"].values():
        for method, op in item.items():
            if method not in METHODS:
                continue
            assert op["x-fabric-access"] in ("public", "user", "user-token", "read", "manage", "upload-owner")
            for status, answer in op["responses"].items():
                if int(status) >= 400:
                    errors += 1
                    assert list(answer["content"]) == [PROBLEM]
                    assert answer["content"][PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert errors > 0


def test_docs_page_lists_every_operation_without_a_token(auth_app_server: InProcessServer, document: dict) -> None:
    with auth_app_server.client() as client:
        r = client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<script" not in r.text and "http://" not in r.text and "https://" not in r.text  # nothing fetched
    for item in document["paths"].values():
        for method, op in item.items():
            if method in METHODS:
                assert f"id='{op['operationId']}'" in r.text


def test_options_answers_every_path_without_a_token(auth_app_server: InProcessServer, document: dict) -> None:
    """Issue 9 item 10: OPTIONS is 204 with the path's methods in `Allow` (tus discovery keeps its tus headers),
    no token needed, the same whatever the path parameters name."""
    with auth_app_server.client() as client:
        for path, item in document["paths"].items():
            concrete = re.sub(r"{[^}]+}", "urn:fabric:artifact:00000000-0000-4000-8000-000000000000", path)
            r = client.options(concrete)
            assert r.status_code == 204, (path, r.status_code, r.text)
            if path.startswith("/v1/uploads"):
                assert r.headers["Tus-Version"] == "1.0.0"
                continue
            allowed = {m.strip() for m in r.headers["Allow"].split(",")}
            assert allowed == {m.upper() for m in item if m in METHODS} | {"OPTIONS"} | (
                {"HEAD"} if "get" in item else set()
            )
        assert client.options("/no/such/path").status_code == 404


def test_description_is_the_same_without_authentication(api: httpx.Client, document: dict) -> None:
    assert api.get("/openapi.json").json() == document
