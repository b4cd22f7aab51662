"""Access control over real HTTP, on each graph backend: a matrix of roles against every endpoint.

One `fabric serve --auth` per backend for the module, with a known signing key so the tests mint tokens the
way `fabric token create` does. The world: alice (acme) creates artifacts; bob is her colleague, root the
acme admin; eve is in another organisation; gus is granted by email, the `friends` organisation by id; rex
was granted and then revoked; anonymous sends no token.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from fabric.auth.tokens import Principal, mint_token
from fabric.cli import main as cli
from fabric.client import Fabric, NotFound
from tests.server_process import FabricServer

KEY = "access-tests-signing-key-0123456789abcdef"
TUS = {"Tus-Resumable": "1.0.0"}
PEOPLE = {
    "creator": Principal(email="alice@acme.test", org="acme", name="Alice"),
    "member": Principal(email="bob@acme.test", org="acme"),
    "admin": Principal(email="root@acme.test", org="acme", admin=True),
    "other": Principal(email="eve@rival.test", org="rival"),
    "granted_user": Principal(email="gus@partner.test", org="partner"),
    "granted_org": Principal(email="olga@friends.test", org="friends"),
    "revoked": Principal(email="rex@gone.test", org="gone"),
}
ROLES = [*PEOPLE, "anonymous"]
READERS_OF_SHARED = {"creator", "admin", "granted_user", "granted_org"}
MANAGERS = {"creator", "admin"}


def token(role: str) -> str:
    return mint_token(KEY.encode(), PEOPLE[role], ttl=3600)


def auth(role: str) -> dict[str, str]:
    return {} if role == "anonymous" else {"Authorization": f"Bearer {token(role)}"}


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def upload(api: httpx.Client, headers: dict[str, str], data: bytes, **meta: str) -> tuple[str, str]:
    """(artifact URN, upload URL) of a finished upload."""
    created = api.post(
        "/v1/uploads",
        headers={
            **TUS,
            **headers,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": ",".join(f"{k} {b64(v)}" for k, v in meta.items()),
        },
    )
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    done = api.patch(
        location,
        headers={**TUS, **headers, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"},
        content=data,
    )
    assert done.status_code == 204, done.text
    return created.headers["Artifact-Urn"], location


@dataclass
class World:
    server: FabricServer
    api: httpx.Client
    tag: str
    shared: str = ""  # alice's, granted to gus, to the friends org, to rex (revoked)
    private: str = ""  # alice's, granted to nobody
    open: str = ""  # alice's, policy=open
    eve_own: str = ""  # eve's, private
    shared_upload: str = ""
    collection: str = ""
    order: str = ""
    output: str = ""  # eve's open output of gus's order that used `shared`
    grants: dict[str, str] = field(default_factory=dict)
    note: str = ""  # an aspect gus asserted on `shared`

    def names(self) -> dict[str, str]:
        return {
            self.shared: "shared",
            self.private: "private",
            self.open: "open",
            self.eve_own: "eve_own",
            self.output: "output",
        }


@pytest.fixture(scope="module")
def world(graph_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A real server: the client and CLI tests below talk to it over HTTP (the backend comes from `graph_url`)."""
    args = ["--auth", "--token-key", KEY]
    if graph_url is not None:
        args += ["--graph-url", graph_url]
    with FabricServer(tmp_path_factory.mktemp("access") / "data", args=args) as server:
        with httpx.Client(base_url=server.url, timeout=30) as api:
            w = World(server, api, uuid.uuid4().hex[:8])
            w.collection = f"urn:fabric:collection:c-{w.tag}"
            alice = auth("creator")
            w.shared, w.shared_upload = upload(
                api, alice, b"shared bytes", filename="shared.csv", collection=w.collection
            )
            w.private, _ = upload(api, alice, b"private bytes", filename="private.csv", collection=w.collection)
            w.open, _ = upload(api, alice, b"open bytes", filename="open.csv", collection=w.collection, policy="open")
            w.eve_own, _ = upload(api, auth("other"), b"eve's bytes", filename="eve.csv", collection=w.collection)
            for key, body in (
                ("granted_user", {"email": "gus@partner.test"}),
                ("granted_org", {"org": "friends"}),
                ("revoked", {"email": "rex@gone.test"}),
            ):
                r = api.post(f"/v1/artifacts/{w.shared}/access", json=body, headers=alice)
                assert r.status_code == 201, r.text
                w.grants[key] = r.json()["id"]
            r = api.delete(f"/v1/artifacts/{w.shared}/access/{w.grants['revoked']}", headers=alice)
            assert r.status_code == 200, r.text
            # provenance: an order of gus's used alice's shared artifact (eve may not read it) and produced eve's open
            # output (only an order's owner links artifacts to it, issue 9 item 4)
            w.order = f"urn:fabric:order:{uuid.uuid4()}"
            w.output, _ = upload(api, auth("other"), b"output", filename="output.csv", policy="open")
            for entity, schema, headers in (
                (w.shared, "artifact-used-by-order.1", auth("granted_user")),
                (w.output, "artifact-produced-by-order.1", auth("granted_user")),
            ):
                r = api.post(
                    "/v1/aspects",
                    json={"entity": entity, "schema": schema, "content": {"order": w.order}},
                    headers=headers,
                )
                assert r.status_code == 201, r.text
            r = api.post(
                "/v1/aspects",
                json={
                    "entity": w.shared,
                    "schema": "collection-member.1",
                    "content": {"collection": f"urn:fabric:collection:gus-{w.tag}"},
                },
                headers=auth("granted_user"),
            )
            assert r.status_code == 201, r.text
            w.note = r.json()["urn"]
            yield w


def status_for(role: str, readers: set[str]) -> int:
    return 401 if role == "anonymous" else 200 if role in readers else 404


# ---- the matrix ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_reading_an_artifact(world: World, role: str) -> None:
    api, h = world.api, auth(role)
    expected = {
        world.shared: status_for(role, READERS_OF_SHARED),
        world.private: status_for(role, MANAGERS),
        world.open: 401 if role == "anonymous" else 200,
        world.eve_own: status_for(role, {"other"}),
    }
    for urn, want in expected.items():
        for method, path in (
            ("GET", f"/v1/artifacts/{urn}"),
            ("GET", f"/v1/artifacts/{urn}/blob"),
            ("HEAD", f"/v1/artifacts/{urn}/blob"),
            ("GET", f"/v1/aspects?entity={urn}"),
            ("GET", f"/v1/lineage/{urn}"),
        ):
            r = api.request(method, path, headers=h)
            assert r.status_code == want, (role, world.names()[urn], method, path, r.text)
    if role != "anonymous":
        body = api.get(f"/v1/artifacts/{world.shared}/blob", headers=h)
        assert (body.content == b"shared bytes") == (role in READERS_OF_SHARED)


@pytest.mark.parametrize("role", ROLES)
def test_listing_and_collections_show_exactly_what_each_role_may_read(world: World, role: str) -> None:
    api, h = world.api, auth(role)
    readable = {
        "creator": {"shared", "private", "open", "output"},
        "member": {"open", "output"},
        "admin": {"shared", "private", "open", "output"},
        "other": {"open", "eve_own", "output"},
        "granted_user": {"shared", "open", "output"},
        "granted_org": {"shared", "open", "output"},
        "revoked": {"open", "output"},
    }
    mine = world.names()
    listed = api.get("/v1/artifacts", params={"limit": 1000}, headers=h)
    members = api.get(f"/v1/collections/{world.collection}", headers=h)
    if role == "anonymous":
        assert listed.status_code == members.status_code == 401
        return
    assert listed.status_code == members.status_code == 200
    assert {mine[a["urn"]] for a in listed.json()["items"] if a["urn"] in mine} == readable[role]
    assert {mine[a["urn"]] for a in members.json()["items"]} == readable[role] - {"output"}


@pytest.mark.parametrize("role", ROLES)
def test_grants_are_managed_by_the_creator_and_org_admins_only(world: World, role: str) -> None:
    api, h = world.api, auth(role)
    want = 401 if role == "anonymous" else 200 if role in MANAGERS else 403 if role in READERS_OF_SHARED else 404
    listed = api.get(f"/v1/artifacts/{world.shared}/access", headers=h)
    assert listed.status_code == want, (role, listed.text)
    if want == 200:
        grants = {(g.get("email") or g.get("org")): g["id"] for g in listed.json()["items"]}
        assert grants == {"gus@partner.test": world.grants["granted_user"], "friends": world.grants["granted_org"]}
        history = api.get(f"/v1/artifacts/{world.shared}/access", params={"include_revoked": "true"}, headers=h).json()[
            "items"
        ]
        revoked = [g for g in history if g["id"] == world.grants["revoked"]]
        assert revoked and revoked[0]["revoked_at"] and revoked[0]["email"] == "rex@gone.test"
    # granting anew: managers 201 (or 200 for a grantee already granted), readers 403, others 404
    granted = api.post(f"/v1/artifacts/{world.shared}/access", json={"email": "gus@partner.test"}, headers=h)
    assert granted.status_code == want, (role, granted.text)
    if want == 200:
        assert granted.json()["id"] == world.grants["granted_user"]  # the same grant, not a second one
    revoke = api.delete(f"/v1/artifacts/{world.shared}/access/{world.grants['granted_user']}", headers=h)
    assert revoke.status_code == want, (role, revoke.text)
    if want == 200:  # put it back for the other roles
        again = api.post(f"/v1/artifacts/{world.shared}/access", json={"email": "gus@partner.test"}, headers=h)
        assert again.status_code == 201
        world.grants["granted_user"] = again.json()["id"]
    # grants are aspects: visible on the artifact only to who manages it
    artifact = api.get(f"/v1/artifacts/{world.shared}", headers=h)
    if artifact.status_code == 200:
        schemas = {a["schema"] for a in artifact.json()["aspects"]}
        assert ("urn:fabric:schema:grant.1" in schemas) == (role in MANAGERS)
        grant_aspect = api.get(f"/v1/aspects/{world.grants['granted_org']}", headers=h)
        assert grant_aspect.status_code == (200 if role in MANAGERS else 404)


@pytest.mark.parametrize("role", ROLES)
def test_aspects_assert_update_and_retract(world: World, role: str) -> None:
    api, h = world.api, auth(role)
    reads = status_for(role, READERS_OF_SHARED)
    asserted = api.post(
        "/v1/aspects",
        json={
            "entity": world.shared,
            "schema": "collection-member.1",
            "content": {"collection": f"urn:fabric:collection:{role}-{world.tag}"},
        },
        headers=h,
    )
    assert asserted.status_code == (201 if reads == 200 else reads), (role, asserted.text)
    if reads == 200:  # the asserter may retract its own aspect
        assert api.delete(f"/v1/aspects/{asserted.json()['urn']}", headers=h).status_code == 200
    # policy, grants and artifact.1 need a manager; a reader that is not one gets 403
    opened = api.post(
        "/v1/aspects",
        json={"entity": world.private, "schema": "policy.1", "content": {"policy": "urn:fabric:policy:open"}},
        headers=h,
    )
    want_private = status_for(role, MANAGERS)
    assert opened.status_code == (201 if want_private == 200 else want_private), (role, opened.text)
    if opened.status_code == 201:
        assert api.delete(f"/v1/aspects/{opened.json()['urn']}", headers=h).status_code == 200
    if role in ("granted_user", "granted_org"):
        r = api.post(
            "/v1/aspects",
            json={"entity": world.shared, "schema": "policy.1", "content": {"policy": "urn:fabric:policy:open"}},
            headers=h,
        )
        assert r.status_code == 403
        assert r.json()["title"] == "Forbidden" and "creator" in r.json()["detail"]
    # gus's note on `shared`: gus (asserter) and managers may change it; other readers 403; the rest 404
    note = api.get(f"/v1/aspects/{world.note}", headers=h)
    assert note.status_code == reads
    if role == "granted_org":
        assert api.delete(f"/v1/aspects/{world.note}", headers=h).status_code == 403
        assert (
            api.put(
                f"/v1/aspects/{world.note}", json={"content": {"collection": "urn:fabric:collection:x"}}, headers=h
            ).status_code
            == 403
        )
    elif role in ("member", "other", "revoked", "anonymous"):
        assert api.delete(f"/v1/aspects/{world.note}", headers=h).status_code == reads


@pytest.mark.parametrize("role", ROLES)
def test_global_aspect_queries_are_filtered(world: World, role: str) -> None:
    r = world.api.get("/v1/aspects", params={"limit": 1000, "include_retracted": "true"}, headers=auth(role))
    if role == "anonymous":
        assert r.status_code == 401
        return
    entities = {a["entity"] for a in r.json()["items"]}
    names = world.names()
    seen = {names[e] for e in entities if e in names}
    grants = {
        a["urn"]
        for a in r.json()["items"]
        if a["schema"] == "urn:fabric:schema:grant.1" and a["entity"] == world.shared
    }
    assert ("shared" in seen) == (role in READERS_OF_SHARED)
    assert ("private" in seen) == (role in MANAGERS)
    assert bool(grants) == (role in MANAGERS)
    assert ("eve_own" in seen) == (role == "other")


@pytest.mark.parametrize("role", ROLES)
def test_upload_head_is_the_uploaders_and_admins(world: World, role: str) -> None:
    r = world.api.head(world.shared_upload, headers={**TUS, **auth(role)})
    assert r.status_code == status_for(role, MANAGERS), role


@pytest.mark.parametrize("role", ROLES)
def test_shared_with_me_lists_grants_from_others_without_the_creators_email(world: World, role: str) -> None:
    r = world.api.get("/v1/shared/artifacts", headers=auth(role))
    if role == "anonymous":
        assert r.status_code == 401
        return
    items = [item for item in r.json()["items"] if item["urn"] in world.names()]
    assert [item["urn"] for item in items] == ([world.shared] if role in ("granted_user", "granted_org") else [])
    for item in items:
        assert item["creator"] == {"org": "acme", "name": "Alice"}
        assert "alice@acme.test" not in r.text and "uploader" not in item and "roles" not in r.text


def test_lineage_through_an_unreadable_artifact_is_redacted(world: World) -> None:
    api = world.api
    seen_by_eve = api.get(f"/v1/lineage/{world.output}", headers=auth("other"), params={"direction": "upstream"}).json()
    seen_by_gus = api.get(
        f"/v1/lineage/{world.output}", headers=auth("granted_user"), params={"direction": "upstream"}
    ).json()
    assert {n["urn"] for n in seen_by_gus["nodes"]} == {world.output, world.order, world.shared}
    redacted = [n for n in seen_by_eve["nodes"] if n.get("redacted")]
    assert len(redacted) == 1 and set(redacted[0]) == {"urn", "kind", "redacted"} and redacted[0]["kind"] == "artifact"
    assert world.shared not in str(seen_by_eve) and "shared.csv" not in str(seen_by_eve)
    assert len(seen_by_eve["edges"]) == len(seen_by_gus["edges"]) == 2  # the shape is the same
    again = api.get(f"/v1/lineage/{world.output}", headers=auth("member"), params={"direction": "upstream"}).json()
    assert [n["urn"] for n in again["nodes"] if n.get("redacted")] == [redacted[0]["urn"]]  # stable per artifact


# ---- tokens --------------------------------------------------------------------------------------


def test_expired_tampered_and_foreign_tokens_are_refused(world: World) -> None:
    api, path = world.api, f"/v1/artifacts/{world.open}"
    assert api.get(path, headers=auth("creator")).status_code == 200
    expired = mint_token(KEY.encode(), PEOPLE["creator"], ttl=-10)
    header, payload, signature = token("creator").split(".")
    forged_payload = (
        base64.urlsafe_b64encode(base64.urlsafe_b64decode(payload + "==").replace(b"acme", b"evil"))
        .decode()
        .rstrip("=")
    )
    for bad in (
        expired,
        f"{header}.{forged_payload}.{signature}",
        f"{header}.{payload}.{signature[:-4]}AAAA",
        mint_token(b"another key, also long enough for HS256!", PEOPLE["creator"]),
        "not-a-token",
    ):
        r = api.get(path, headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, bad
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.get("/healthz").status_code == 200  # health stays public


def test_compute_token_reads_what_its_caller_could_at_minting_and_can_upload(world: World) -> None:
    api, alice, gus = world.api, auth("creator"), auth("granted_user")
    later, _ = upload(api, alice, b"granted later", filename="later.csv")
    revoked_after, _ = upload(api, alice, b"revoked after", filename="revoked-after.csv")
    grant = api.post(f"/v1/artifacts/{revoked_after}/access", json={"email": "gus@partner.test"}, headers=alice).json()[
        "id"
    ]
    order = f"urn:fabric:order:{uuid.uuid4()}"
    minted = api.post(f"/v1/orders/{order}/token", headers=gus)
    assert minted.status_code == 201, minted.text
    compute = {"Authorization": f"Bearer {minted.json()['token']}"}
    time.sleep(0.01)
    assert (
        api.post(f"/v1/artifacts/{later}/access", json={"email": "gus@partner.test"}, headers=alice).status_code == 201
    )
    assert api.delete(f"/v1/artifacts/{revoked_after}/access/{grant}", headers=alice).status_code == 200
    # gus himself now reads `later`; his compute token does not (granted after minting), nor the revoked one
    assert api.get(f"/v1/artifacts/{later}", headers=gus).status_code == 200
    assert api.get(f"/v1/artifacts/{later}", headers=compute).status_code == 404
    assert api.get(f"/v1/artifacts/{revoked_after}", headers=compute).status_code == 404
    assert api.get(f"/v1/artifacts/{world.shared}/blob", headers=compute).content == b"shared bytes"
    assert api.get(f"/v1/artifacts/{world.open}", headers=compute).status_code == 200
    for other in (world.private, world.eve_own):
        assert api.get(f"/v1/artifacts/{other}", headers=compute).status_code == 404
    listed = {a["urn"] for a in api.get("/v1/artifacts", params={"limit": 1000}, headers=compute).json()["items"]}
    assert world.shared in listed and later not in listed and world.private not in listed
    # it uploads, and reads what it made; gus (the caller) owns it
    made, _ = upload(api, compute, b"order output", filename="made.csv")
    assert api.get(f"/v1/artifacts/{made}", headers=compute).json()["uploader"] == "urn:fabric:user:gus@partner.test"
    assert api.get(f"/v1/artifacts/{made}", headers=gus).status_code == 200
    # and nothing else
    assert (
        api.post(f"/v1/artifacts/{made}/access", json={"email": "eve@rival.test"}, headers=compute).status_code == 403
    )
    assert (
        api.post(
            "/v1/aspects",
            json={"entity": made, "schema": "policy.1", "content": {"policy": "urn:fabric:policy:open"}},
            headers=compute,
        ).status_code
        == 403
    )
    assert api.post(f"/v1/orders/{order}/token", headers=compute).status_code == 403
    assert (
        api.post(
            "/v1/schemas", json={"$id": f"urn:fabric:schema:x{world.tag}.1", "type": "object"}, headers=compute
        ).status_code
        == 403
    )


# ---- the client and the CLI ----------------------------------------------------------------------


def test_client_and_cli_share_list_and_revoke(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "report.txt"
    source.write_bytes(os.urandom(256))
    with (
        Fabric(url=world.server.url, token=token("creator")) as alice,
        Fabric(url=world.server.url, token=token("other")) as eve,
    ):
        artifact = alice.upload_artifact(file_path=source, name="report.txt")
        with pytest.raises(NotFound):
            eve.get_artifact(artifact.id)
        monkeypatch.setenv("FABRIC_URL", world.server.url)
        monkeypatch.setenv("FABRIC_TOKEN", token("creator"))
        runner = CliRunner()
        granted = runner.invoke(cli, ["access", "grant", artifact.id, "--email", "eve@rival.test"])
        assert granted.exit_code == 0, granted.output
        grant_id = granted.stdout.strip()  # stderr says where the command went
        assert eve.get_artifact(artifact.id).name == "report.txt"
        assert [item["urn"] for item in eve.shared_artifacts() if item["urn"] == artifact.id] == [artifact.id]
        listed = runner.invoke(cli, ["access", "list", artifact.id])
        assert listed.exit_code == 0 and grant_id in listed.stdout and "email:eve@rival.test" in listed.stdout
        monkeypatch.setenv("FABRIC_TOKEN", token("other"))
        refused = runner.invoke(cli, ["access", "revoke", artifact.id, grant_id])
        assert refused.exit_code == 1 and "403" in refused.stderr and "Forbidden" in refused.stderr
        monkeypatch.setenv("FABRIC_TOKEN", token("creator"))
        assert runner.invoke(cli, ["access", "revoke", artifact.id, grant_id]).exit_code == 0
        with pytest.raises(NotFound):
            eve.get_artifact(artifact.id)
        assert [g["id"] for g in alice.list_access(artifact.id)] == []
        assert [g["id"] for g in alice.list_access(artifact.id, include_revoked=True)] == [grant_id]


def test_client_order_uses_a_compute_token(world: World, tmp_path: Path) -> None:
    output = tmp_path / "out.bin"
    output.write_bytes(b"computed")
    with Fabric(url=world.server.url, token=token("granted_user")) as gus:
        with gus.order("compute-test", inputs={"data": world.shared}) as order:
            assert order.compute_token is not None and order.compute is not gus
            assert order.input_path(world.shared).read_bytes() == b"shared bytes"
            made = order.upload_artifact(file_path=output, name="out.bin")
        assert gus.get_artifact(made.id).status == "ready"
        produced = [a.content for a in gus.list_aspects(entity=made.id, schema="artifact-produced-by-order.1")]
        assert produced == [{"order": order.urn}]


def test_token_create_mints_what_the_server_accepts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with FabricServer(data, args=["--auth"]) as server:
        minted = CliRunner().invoke(
            cli,
            [
                "token",
                "create",
                "--user",
                "zoe@acme.test",
                "--org",
                "acme",
                "--admin",
                "--ttl",
                "600",
                "--data-dir",
                str(data),
            ],
        )
        assert minted.exit_code == 0, minted.output
        assert f"signed with the key in {(data / 'token-secret').resolve()}" in minted.stderr
        good = {"Authorization": f"Bearer {minted.stdout.strip()}"}
        assert httpx.get(f"{server.url}/v1/artifacts", headers=good).status_code == 200
        assert httpx.get(f"{server.url}/v1/artifacts").status_code == 401


@pytest.mark.parametrize("role", ["granted_user", "granted_org", "other"])
def test_readers_who_do_not_manage_see_the_creator_without_email(world: World, role: str) -> None:
    readable = world.shared if role != "other" else world.open
    views = [
        world.api.get(f"/v1/artifacts/{readable}", headers=auth(role)),
        world.api.get("/v1/artifacts", params={"collection": world.collection}, headers=auth(role)),
        world.api.get(f"/v1/collections/{world.collection}", headers=auth(role)),
    ]
    for view in views:
        assert view.status_code == 200, view.text
        assert "alice@acme.test" not in view.text
    artifact = views[0].json()
    assert artifact["creator"] == {"org": "acme", "name": "Alice"}
    assert artifact["uploader"] is None
    assert artifact["sha256"] and artifact["aspects"], "everything but who made it is still there"


def test_managers_see_the_uploader(world: World) -> None:
    for role in MANAGERS:
        artifact = world.api.get(f"/v1/artifacts/{world.shared}", headers=auth(role)).json()
        assert artifact["uploader"] == "urn:fabric:user:alice@acme.test"
