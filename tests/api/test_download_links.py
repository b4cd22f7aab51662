"""Download links on both backends: minted by a reader with a POST, followed without a token, scoped to one
artifact and target, short-lived, checked again when followed, never a bearer token, never in the access log."""

from __future__ import annotations

import base64
import io
import logging
import time
import uuid
import zipfile
from typing import Any

import httpx
import orjson
import pytest

from fabric.download_links import LINK_TTL, LinkTarget, mint_link
from tests.fixtures_backends import TEST_TOKEN_KEY
from tests.inprocess import InProcessServer
from tests.security.people import PEOPLE, auth, is_problem, upload


@pytest.fixture(scope="module")
def api(auth_app_server: InProcessServer) -> httpx.Client:
    return auth_app_server.client(timeout=60)


@pytest.fixture(scope="module")
def world(api: httpx.Client) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    data = b"".join(f"line {i} of {tag}\n".encode() for i in range(2000))
    mine, _ = upload(api, "creator", data, filename=f"secret-{tag}.txt")
    other, _ = upload(api, "creator", b"other bytes " + tag.encode(), filename=f"other-{tag}.txt")
    granted = api.post(f"/v1/artifacts/{mine}/access", headers=auth("creator"), json={"email": "gus@partner.test"})
    assert granted.status_code == 201, granted.text
    return {"tag": tag, "data": data, "urn": mine, "other": other, "grant": granted.json()["id"]}


def mint(api: httpx.Client, role: str, urn: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return (
        api.post(f"/v1/artifacts/{urn}/download-links", headers=auth(role), json=body)
        if body is not None
        else (api.post(f"/v1/artifacts/{urn}/download-links", headers=auth(role)))
    )


def link_of(api: httpx.Client, role: str, urn: str, body: dict[str, Any] | None = None) -> str:
    answer = mint(api, role, urn, body)
    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return str(answer.json()["url"])


def test_a_link_downloads_the_blob_without_a_token(api: httpx.Client, world: dict[str, Any]) -> None:
    answer = mint(api, "creator", world["urn"])
    assert answer.status_code == 201, answer.text
    link = answer.json()
    assert link["url"].startswith("/v1/download?token=") and link["artifact"] == world["urn"]
    expires = time.mktime(time.strptime(link["expires"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert 0 < expires - time.time() <= LINK_TTL + 1
    got = api.get(link["url"])  # no Authorization header
    assert got.status_code == 200, got.text
    assert got.content == world["data"]
    assert got.headers["content-disposition"].startswith("attachment;")
    assert f"secret-{world['tag']}.txt" in got.headers["content-disposition"]
    assert got.headers["cache-control"] == "no-store"
    ranged = api.get(link["url"], headers={"Range": "bytes=5-9"})
    assert ranged.status_code == 206 and ranged.content == world["data"][5:10]


def test_a_link_to_one_file_and_to_an_archive(api: httpx.Client, world: dict[str, Any]) -> None:
    name = f"secret-{world['tag']}.txt"
    one = api.get(link_of(api, "creator", world["urn"], {"path": name}))
    assert one.status_code == 200 and one.content == world["data"]
    archive = api.get(link_of(api, "creator", world["urn"], {"format": "zip"}))
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        assert opened.namelist() == [name] and opened.read(name) == world["data"]
    missing = api.get(link_of(api, "creator", world["urn"], {"path": "no/such/file"}))
    assert is_problem(missing, 404)


def claims_of(url: str) -> dict[str, Any]:
    payload = url.split("token=")[1].split(".")[1]
    return dict(orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def forge(url: str, **changes: Any) -> str:
    """The link with its claims changed and the signature kept."""
    header, _, signature = url.split("token=")[1].split(".")
    claims = {**claims_of(url), **changes}
    body = base64.urlsafe_b64encode(orjson.dumps(claims)).decode().rstrip("=")
    return f"/v1/download?token={header}.{body}.{signature}"


def test_a_link_is_scoped_to_its_artifact_and_target(api: httpx.Client, world: dict[str, Any]) -> None:
    url = link_of(api, "creator", world["urn"], {"path": f"secret-{world['tag']}.txt"})
    assert claims_of(url)["artifact"] == world["urn"]
    for changes in ({"artifact": world["other"]}, {"path": f"other-{world['tag']}.txt"}, {"exp": 4102444800}):
        answer = api.get(forge(url, **changes))
        assert is_problem(answer, 403), answer.text
        assert world["data"][:20].decode() not in answer.text


def test_an_expired_link_is_refused(api: httpx.Client, world: dict[str, Any]) -> None:
    token, _ = mint_link(
        TEST_TOKEN_KEY.encode(), PEOPLE["creator"], LinkTarget(world["urn"]), now=time.time() - LINK_TTL - 5
    )
    answer = api.get("/v1/download", params={"token": token})
    assert is_problem(answer, 403) and "expired" in answer.json()["detail"]
    fresh, _ = mint_link(TEST_TOKEN_KEY.encode(), PEOPLE["creator"], LinkTarget(world["urn"]))
    assert api.get("/v1/download", params={"token": fresh}).content == world["data"]  # the same key, not expired


def test_links_and_bearer_tokens_are_not_interchangeable(api: httpx.Client, world: dict[str, Any]) -> None:
    url = link_of(api, "creator", world["urn"])
    token = url.split("token=")[1]
    as_bearer = api.get(f"/v1/artifacts/{world['urn']}/blob", headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401
    bearer = auth("creator")["Authorization"].removeprefix("Bearer ")
    as_link = api.get("/v1/download", params={"token": bearer})
    assert is_problem(as_link, 403)
    assert is_problem(api.get("/v1/download"), 400)
    assert is_problem(api.get("/v1/download", params={"token": "not-a-link"}), 403)


def test_who_may_not_read_gets_no_link_and_a_revoked_reader_no_bytes(api: httpx.Client, world: dict[str, Any]) -> None:
    for role in ("other", "member", "revoked"):
        answer = mint(api, role, world["urn"])
        assert is_problem(answer, 404), (role, answer.text)
        assert world["tag"] not in answer.text.replace(world["urn"], "")
    assert is_problem(mint(api, "anonymous", world["urn"]), 401)
    gus = link_of(api, "granted_user", world["urn"])
    assert api.get(gus).content == world["data"]
    revoked = api.delete(f"/v1/artifacts/{world['urn']}/access/{world['grant']}", headers=auth("creator"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"], revoked.text
    after = api.get(gus)  # minted while gus could read; followed after the grant was revoked
    assert is_problem(after, 404), after.text
    assert world["data"][:20].decode() not in after.text


@pytest.mark.parametrize(
    "body",
    [{"format": "rar"}, {"path": 7}, {"path": ""}, {"path": "a", "format": "zip"}, {"size": 1}, []],
)
def test_bad_link_requests_are_400(api: httpx.Client, world: dict[str, Any], body: Any) -> None:
    answer = api.post(f"/v1/artifacts/{world['urn']}/download-links", headers=auth("creator"), json=body)
    assert is_problem(answer, 400), answer.text


def test_the_access_log_never_holds_a_link(
    api: httpx.Client, world: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="fabric.access"):
        url = link_of(api, "creator", world["urn"])
        assert api.get(url).status_code == 200
    token = url.split("token=")[1]
    logged = [str(getattr(record, "access", "")) for record in caplog.records if record.name == "fabric.access"]
    assert any("/v1/download" in line and "REDACTED" in line for line in logged), logged
    assert not any(token in line or token[-20:] in line for line in logged)
