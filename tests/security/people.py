"""Who calls the API in the security tests: tokens minted with the in-process server's test key, and helpers."""

from __future__ import annotations

import base64

import httpx

from fabric.auth.tokens import Principal, mint_token
from tests.fixtures_backends import TEST_TOKEN_KEY

TUS = {"Tus-Resumable": "1.0.0"}
PROBLEM = "application/problem+json"
PEOPLE = {
    "creator": Principal(email="alice@acme.test", org="acme", name="Alice"),
    "member": Principal(email="bob@acme.test", org="acme", name="Bob"),
    "admin": Principal(email="root@acme.test", org="acme", admin=True, name="Root"),
    "other": Principal(email="eve@rival.test", org="rival", name="Eve"),
    "granted_user": Principal(email="gus@partner.test", org="partner", name="Gus"),
    "granted_org": Principal(email="olga@friends.test", org="friends", name="Olga"),
    "revoked": Principal(email="rex@gone.test", org="gone", name="Rex"),
}
EMAILS = {principal.email for principal in PEOPLE.values()}


def token(role: str) -> str:
    return mint_token(TEST_TOKEN_KEY.encode(), PEOPLE[role], ttl=3600)


def expired_token() -> str:
    """Alice's token, signed with the right key, that expired two minutes ago."""
    return mint_token(TEST_TOKEN_KEY.encode(), PEOPLE["creator"], ttl=-120)


def forged_token() -> str:
    """Alice's claims signed with another key."""
    return mint_token(b"not-the-server-key-0123456789abcdef0123", PEOPLE["creator"], ttl=3600)


def auth(role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    if role == "expired":
        return {"Authorization": f"Bearer {expired_token()}"}
    if role == "forged":
        return {"Authorization": f"Bearer {forged_token()}"}
    return {"Authorization": f"Bearer {token(role)}"}


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def meta(**values: str) -> str:
    return ",".join(f"{key} {b64(value)}" for key, value in values.items())


def create(api: httpx.Client, headers: dict[str, str], length: int, **values: str) -> httpx.Response:
    return api.post(
        "/v1/uploads", headers={**TUS, **headers, "Upload-Length": str(length), "Upload-Metadata": meta(**values)}
    )


def finish(api: httpx.Client, headers: dict[str, str], location: str, data: bytes) -> httpx.Response:
    return api.patch(
        location,
        headers={**TUS, **headers, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"},
        content=data,
    )


def upload(api: httpx.Client, role: str, data: bytes, **values: str) -> tuple[str, str]:
    """(artifact URN, upload URL) of a finished upload by `role`."""
    created = create(api, auth(role), len(data), **values)
    assert created.status_code == 201, created.text
    done = finish(api, auth(role), created.headers["Location"], data)
    assert done.status_code == 204, done.text
    return created.headers["Artifact-Urn"], created.headers["Location"]


def is_problem(response: httpx.Response, status: int) -> bool:
    return response.status_code == status and response.headers.get("content-type") == PROBLEM
