"""The authorisation matrix: every operation of the OpenAPI description (read from the code, not a hand list, so a
new route cannot be forgotten) for every role, on both graph backends, in-process with authentication on.

Roles: creator (alice, acme), same-org member (bob), org admin (root), other org (eve), granted user (gus, by
email), granted org member (olga, org `friends`), revoked (rex, granted then revoked), anonymous, expired token,
forged token. The resource each operation names belongs to alice: a private artifact granted to gus and to
`friends`, an aspect on it, a grant, an unfinished upload, an order, a repository of acme.

For each cell the expected status follows from the operation's `x-fabric-access`:
- no or a bad token: exactly 401 (public operations: never 401, and the same answer as a valid token gets);
- `read`/`manage` on alice's artifact: who may not read it gets exactly 404, who reads but may not manage
  exactly 403, the rest never 401/403/404 (a 400 or 422 for the generic body is theirs to get);
- `upload-owner`: only alice and acme's admin reach the upload; everyone else gets exactly the 404 HEAD gives.
Every answer is searched for what the caller may not see: other users' emails, and, for callers who may not read
the artifact, its URN (unless the request named it), name, digest and bytes. No answer is a 5xx.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from fabric.app import api_description
from fabric.openapi.document import METHODS
from tests.inprocess import InProcessServer
from tests.security.people import EMAILS, PEOPLE, TUS, auth, create, upload

ROLES = [
    "creator",
    "member",
    "admin",
    "other",
    "granted_user",
    "granted_org",
    "revoked",
    "anonymous",
    "expired",
    "forged",
]
UNAUTHENTICATED = {"anonymous", "expired", "forged"}
READERS = {"creator", "admin", "granted_user", "granted_org"}
MANAGERS = {"creator", "admin"}
UPLOAD_OWNERS = {"creator", "admin"}
REPO_MEMBERS = {"creator", "member", "admin"}
OPERATIONS = sorted(
    (path, method, op)
    for path, item in api_description()["paths"].items()
    for method, op in item.items()
    if method in METHODS
)
SAFE = {"get", "head", "options"}


@dataclass
class World:
    """Alice's things, made fresh for each operation that changes state (so one role's DELETE does not decide
    what the next role sees)."""

    tag: str
    secret: bytes
    artifact: str = ""
    name: str = ""
    upload: str = ""
    aspect: str = ""
    grant: str = ""
    order: str = ""
    project: str = "acme"
    repo: str = ""
    schema: str = ""
    versioned: str = ""  # alice's artifact registered in acme's repository: acme reads it, others do not
    values: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.secret).hexdigest()


def make_world(api: httpx.Client) -> World:
    w = World(tag=uuid.uuid4().hex[:10], secret=f"matrix secret {uuid.uuid4().hex}".encode())
    alice = auth("creator")
    w.name = f"matrix-{w.tag}.txt"
    w.artifact, _ = upload(api, "creator", w.secret, filename=w.name)
    for body in ({"email": "gus@partner.test"}, {"org": "friends"}, {"email": "rex@gone.test"}):
        r = api.post(f"/v1/artifacts/{w.artifact}/access", json=body, headers=alice)
        assert r.status_code == 201, r.text
        w.grant = r.json()["id"]
    assert api.delete(f"/v1/artifacts/{w.artifact}/access/{w.grant}", headers=alice).status_code == 200  # rex's
    r = api.post(f"/v1/artifacts/{w.artifact}/access", json={"email": "gus@partner.test"}, headers=alice)
    w.grant = r.json()["id"]
    note = api.post(
        "/v1/aspects",
        json={
            "entity": w.artifact,
            "schema": "collection-member.1",
            "content": {"collection": f"urn:fabric:collection:m-{w.tag}"},
        },
        headers=alice,
    )
    assert note.status_code == 201, note.text
    w.aspect = note.json()["urn"]
    unfinished = create(api, alice, 10, filename=f"unfinished-{w.tag}.bin")
    assert unfinished.status_code == 201
    w.upload = unfinished.headers["Location"].rsplit("/", 1)[-1]
    w.order = f"urn:fabric:order:{uuid.uuid4()}"
    assert api.post(f"/v1/orders/{w.order}/token", headers=alice).status_code == 201
    w.repo = f"r-{w.tag}"
    w.versioned, _ = upload(api, "creator", b"a version", filename=f"v-{w.tag}.txt")
    registered = api.post(
        f"/v1/repositories/{w.project}/{w.repo}/versions", json={"artifact": w.versioned}, headers=alice
    )
    assert registered.status_code == 201, registered.text
    w.schema = f"urn:fabric:schema:m{w.tag}.1"
    assert api.post("/v1/schemas", json={"$id": w.schema, "type": "object"}, headers=alice).status_code == 201
    return w


def path_value(path: str, name: str, w: World) -> str:
    """The value of a path parameter: alice's thing of that kind."""
    if name == "urn":
        if path.startswith("/v1/aspects/"):
            return w.aspect
        if path.startswith("/v1/orders/"):
            return w.order
        if path.startswith("/v1/collections/"):
            return f"m-{w.tag}"
        return w.artifact
    known = {
        "grant": w.grant,
        "upload_id": w.upload,
        "project": w.project,
        "name": w.repo,
        "schema_id": w.schema,
        "ref": "1",
        "alias": "latest",
        "path": w.name,
    }
    return known.get(name, "x")


def request_body(op: dict[str, Any], w: World) -> dict[str, Any]:
    """A plausible JSON body for the operation, so that an allowed caller gets past parsing."""
    if "requestBody" not in op or "application/json" not in op["requestBody"].get("content", {}):
        return {}
    by_id: dict[str, Any] = {
        "assertAspect": {
            "entity": w.artifact,
            "schema": "collection-member.1",
            "content": {"collection": f"urn:fabric:collection:x-{w.tag}"},
        },
        "updateAspect": {"content": {"collection": f"urn:fabric:collection:y-{w.tag}"}},
        "createGrant": {"email": "new@partner.test"},
        "updateArtifact": {"labels": {"stage": "matrix"}},
        "linkFile": {"path": f"more-{w.tag}.txt", "sha256": w.digest, "size": len(w.secret)},
        "registerSchema": {"$id": f"urn:fabric:schema:n{uuid.uuid4().hex[:10]}.1", "type": "object"},
    }
    return {"json": by_id.get(op["operationId"], {})}


def expected(op: dict[str, Any], path: str, role: str) -> set[int] | None:
    """The statuses the role may get; None: any status but 401 (and no 5xx)."""
    access = op["x-fabric-access"]
    if access == "public":
        return None
    if role in UNAUTHENTICATED:
        return {401}
    resource_is_artifact = "{urn}" in path and path.startswith("/v1/artifacts/")
    if access == "upload-owner":
        return None if role in UPLOAD_OWNERS else {404}
    if access in ("read", "manage") and resource_is_artifact:
        if role not in READERS:
            return {404}
        if access == "manage" and role not in MANAGERS:
            return {403}
    return None


def hidden_strings(role: str, w: World, sent: str) -> list[str]:
    """What the role must not find in an answer."""
    own = PEOPLE[role].email if role in PEOPLE else None
    hidden = [email for email in EMAILS if email != own and role not in MANAGERS]
    if role not in READERS:
        hidden += [w.name, w.digest, w.secret.decode()]
        hidden += [urn for urn in (w.artifact, w.aspect, w.grant) if urn not in sent]
    if role not in REPO_MEMBERS:
        hidden += [w.versioned] if w.versioned not in sent else []
    if role in UNAUTHENTICATED:
        hidden += [email for email in EMAILS]
    return hidden


@pytest.fixture(scope="module")
def api(auth_app_server: InProcessServer) -> httpx.Client:
    return auth_app_server.client(timeout=60)


@pytest.fixture(scope="module")
def shared_world(api: httpx.Client) -> World:
    return make_world(api)


@pytest.mark.parametrize("path, method, op", OPERATIONS, ids=[f"{m.upper()} {p}" for p, m, _ in OPERATIONS])
def test_authorisation_matrix(api: httpx.Client, shared_world: World, path: str, method: str, op: dict) -> None:
    failures: list[str] = []
    public_answers: set[int] = set()
    w = shared_world if method in SAFE else make_world(api)
    for role in ROLES:
        url = re.sub(r"{([^}]+)}", lambda m, w=w: path_value(path, m.group(1), w), path)
        headers = {**TUS, **auth(role)} if path.startswith("/v1/uploads") else auth(role)
        if method in ("patch", "post") and path.startswith("/v1/uploads/"):
            headers = {**headers, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
        kwargs = request_body(op, w) if not path.startswith("/v1/uploads") else {"content": b"0123456789"[:10]}
        if path == "/v1/uploads/{upload_id}" and method == "post":
            headers["X-HTTP-Method-Override"] = "PATCH"
        r = api.request(method.upper(), url, headers=headers, **kwargs)
        cell = f"{role}: {method.upper()} {url} -> {r.status_code}"
        if r.status_code >= 500:
            failures.append(f"{cell} (server error) {r.text[:200]}")
        want = expected(op, path, role)
        if want is not None and r.status_code not in want:
            failures.append(f"{cell}, expected {sorted(want)}: {r.text[:200]}")
        if want is None and op["x-fabric-access"] != "public" and r.status_code == 401:
            failures.append(f"{cell}: a valid token was refused")
        if want is None and role not in UNAUTHENTICATED and op["x-fabric-access"] in ("read", "manage", "upload-owner"):
            if (
                r.status_code in (401, 403, 404)
                and "{urn}" in path
                and path.startswith("/v1/artifacts/")
                and "{path}" not in path
            ):
                failures.append(f"{cell}: an allowed caller was refused: {r.text[:200]}")
        if op["x-fabric-access"] == "public":
            public_answers.add(r.status_code)
        text = r.text + " " + " ".join(f"{k}: {v}" for k, v in r.headers.items())
        for secret in hidden_strings(role, w, url):
            if secret and secret in text:
                failures.append(f"{cell}: the answer shows {secret!r}")
        if method not in SAFE and r.status_code < 400 and role != ROLES[-1]:
            w = make_world(api)  # this role changed alice's things: the next role meets fresh ones
    if op["x-fabric-access"] == "public":
        assert len(public_answers) == 1, f"a public operation answered differently by role: {public_answers}"
    assert not failures, "\n".join(failures)
