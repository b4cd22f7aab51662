"""The portal's server side over real HTTP: the page and its files, `/v1/me`, one-time sign-in codes, and CORS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from fabric.auth.tokens import Principal, mint_token
from fabric.cli import main as cli
from fabric.cors import parse_origins
from tests.server_process import FabricServer

KEY = "portal-http-tests-signing-key-0123456789"
ALLOWED = "http://127.0.0.1:9"  # an origin nobody serves: CORS is answered by the server alone
OTHER = "http://127.0.0.1:10"
ALICE = Principal(email="alice@acme.test", org="acme", name="Alice")


def bearer(principal: Principal = ALICE) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(KEY.encode(), principal, ttl=600)}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FabricServer]:
    data = tmp_path_factory.mktemp("portal-http") / "data"
    with FabricServer(data, args=["--auth", "--token-key", KEY, "--cors-origins", ALLOWED]) as running:
        yield running


@pytest.fixture(scope="module")
def api(server: FabricServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def test_the_page_and_its_files_are_served_without_a_token(api: httpx.Client) -> None:
    page = api.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert '<script type="module" src="/portal/assets/app.js">' in page.text
    script = api.get("/portal/assets/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert len(script.content) > 10_000
    assert api.get("/portal/assets/style.css").status_code == 200
    missing = api.get("/portal/assets/nothing.js")
    assert missing.status_code == 404


def test_the_api_still_needs_a_token(api: httpx.Client) -> None:
    assert api.get("/v1/me").status_code == 401
    assert api.get("/v1/artifacts").status_code == 401


def test_me_names_the_caller(api: httpx.Client) -> None:
    me = api.get("/v1/me", headers=bearer())
    assert me.status_code == 200
    assert me.json() == {"email": "alice@acme.test", "org": "acme", "name": "Alice", "admin": False, "auth": True}


def test_a_sign_in_code_is_exchanged_once_for_the_callers_token(api: httpx.Client, server: FabricServer) -> None:
    headers = bearer()
    issued = api.post("/v1/auth/codes", headers=headers)
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["url"] == f"{server.url}/#signin={body['code']}"
    assert headers["Authorization"].split()[1] not in issued.text  # the token itself is never in the link
    assert issued.headers["cache-control"] == "no-store"
    exchanged = api.post("/v1/auth/exchange", json={"code": body["code"]})
    assert exchanged.status_code == 200
    assert exchanged.json() == {"token": headers["Authorization"].split()[1]}
    again = api.post("/v1/auth/exchange", json={"code": body["code"]})
    assert again.status_code == 400
    assert again.headers["content-type"] == "application/problem+json"
    assert "token" not in again.json()


def test_fabric_portal_prints_a_one_time_link(api: httpx.Client, server: FabricServer) -> None:
    alice = bearer()["Authorization"].split()[1]
    result = CliRunner().invoke(cli, ["portal", "--url", server.url, "--token", alice], env={"FABRIC_URL": None})
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith(f"{server.url}/#signin=") and alice not in link
    code = link.split("#signin=", 1)[1]
    assert api.post("/v1/auth/exchange", json={"code": code}).json() == {"token": alice}


def test_fabric_portal_without_authentication_is_the_plain_address(fabric_server: FabricServer) -> None:
    result = CliRunner().invoke(cli, ["portal", "--url", fabric_server.url, "--token", "anything"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{fabric_server.url}/"


@pytest.mark.parametrize("body", [{}, {"code": 7}, {"code": "not-a-code"}, {"code": ""}])
def test_bad_codes_are_clear_400s(api: httpx.Client, body: dict[str, object]) -> None:
    answer = api.post("/v1/auth/exchange", json=body)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"


def test_codes_need_a_users_own_token(api: httpx.Client) -> None:
    assert api.post("/v1/auth/codes").status_code == 401
    order = Principal(email="alice@acme.test", org="acme", order="urn:fabric:order:1", reads_before=1.0)
    assert api.post("/v1/auth/codes", headers=bearer(order)).status_code == 403


def test_a_preflight_from_an_allowed_origin_needs_no_token(api: httpx.Client) -> None:
    answer = api.options(
        "/v1/uploads",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, tus-resumable, upload-length, upload-metadata",
        },
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == ALLOWED
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "tus-resumable", "upload-length", "upload-metadata", "upload-offset"} <= allowed
    assert {"x-http-method-override", "content-type", "upload-checksum", "upload-concat"} <= allowed
    assert "access-control-allow-credentials" not in answer.headers
    for method in ("POST", "PATCH", "HEAD", "DELETE"):
        assert method in answer.headers["access-control-allow-methods"]


def test_responses_to_an_allowed_origin_expose_the_tus_headers(api: httpx.Client) -> None:
    created = api.post(
        "/v1/uploads",
        headers={**bearer(), "Origin": ALLOWED, "Tus-Resumable": "1.0.0", "Upload-Length": "3"},
    )
    assert created.status_code == 201, created.text
    assert created.headers["access-control-allow-origin"] == ALLOWED
    exposed = {h.strip().lower() for h in created.headers["access-control-expose-headers"].split(",")}
    assert {
        "location",
        "upload-offset",
        "upload-length",
        "upload-metadata",
        "upload-expires",
        "artifact-urn",
    } <= exposed
    assert {"tus-resumable", "tus-version", "tus-extension", "tus-max-size"} <= exposed


def test_other_origins_get_no_cors_headers(api: httpx.Client) -> None:
    preflight = api.options("/v1/uploads", headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
    plain = api.get("/v1/me", headers={**bearer(), "Origin": OTHER})
    assert plain.status_code == 200
    assert "access-control-allow-origin" not in plain.headers


def test_tus_discovery_without_a_preflight_is_still_tus(api: httpx.Client) -> None:
    answer = api.options("/v1/uploads", headers={"Origin": ALLOWED})
    assert answer.status_code == 204
    assert answer.headers["tus-resumable"] == "1.0.0"
    assert answer.headers["access-control-allow-origin"] == ALLOWED


def test_without_cors_origins_there_are_no_cors_headers(fabric_server: FabricServer) -> None:
    answer = httpx.options(
        f"{fabric_server.url}/v1/uploads",
        headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in answer.headers


def test_any_origin_is_never_with_credentials(tmp_path: Path) -> None:
    with FabricServer(tmp_path / "data", args=["--cors-origins", "*"]) as server:
        answer = httpx.options(
            f"{server.url}/v1/uploads",
            headers={"Origin": "http://anything.test", "Access-Control-Request-Method": "PATCH"},
        )
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in answer.headers
        me = httpx.get(f"{server.url}/v1/me", headers={"Origin": "http://anything.test"})
        assert me.json()["auth"] is False  # no-auth mode: the local user
        code = httpx.post(f"{server.url}/v1/auth/codes")
        assert code.status_code == 400 and "without authentication" in code.json()["detail"]


@pytest.mark.parametrize(
    ("text", "origins"),
    [
        ("", ()),
        (" https://a.example.org/ , http://127.0.0.1:3000", ("https://a.example.org", "http://127.0.0.1:3000")),
        ("*", ("*",)),
    ],
)
def test_cors_origins_are_parsed(text: str, origins: tuple[str, ...]) -> None:
    assert parse_origins(text) == origins


@pytest.mark.parametrize("text", ["example.org", "https://a.example.org/path", "ftp://a.example.org"])
def test_bad_cors_origins_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_origins(text)
