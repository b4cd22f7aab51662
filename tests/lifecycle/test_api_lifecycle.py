"""The lifecycle over HTTP, on each graph backend, with authentication on: drafts with several files (tus uploads
carrying `artifact` and `path`, links by sha256), the manifest, file bytes with Range and ETag, streamed tar and
zip archives, seal, lock, deletion (410, tombstones), repositories with versions, aliases (`at=`), stages, `fabric://`
resolution, and who may do what (members, other organisations, grants on a repository, compute tokens)."""

from __future__ import annotations

import io
import os
import tarfile
import time
import uuid
import zipfile
from datetime import UTC, datetime

import httpx
import pytest

from fabric.auth.tokens import Principal, mint_token
from tests.fixtures_backends import TEST_TOKEN_KEY
from tests.inprocess import InProcessServer
from tests.tus.helpers import create, metadata, patch, sha256

PROBLEM = "application/problem+json"
ALICE = Principal(email="alice@acme.test", org="acme", name="Alice")
BOB = Principal(email="bob@acme.test", org="acme")
EVE = Principal(email="eve@rival.test", org="rival")
GUS = Principal(email="gus@partner.test", org="partner")


def headers(who: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(TEST_TOKEN_KEY.encode(), who, ttl=3600)}"}


@pytest.fixture(scope="module")
def server(auth_app_server: InProcessServer) -> InProcessServer:
    return auth_app_server


@pytest.fixture(scope="module")
def alice(server: InProcessServer) -> httpx.Client:
    return server.client(timeout=30, headers=headers(ALICE))


def as_(server: InProcessServer, who: Principal) -> httpx.Client:
    return server.client(timeout=30, headers=headers(who))


def project() -> str:
    return f"p{uuid.uuid4().hex[:8]}"


def upload_file(client: httpx.Client, data: bytes, **meta: str) -> httpx.Response:
    created = create(client, len(data), **{"Upload-Metadata": metadata(**meta)})
    assert created.status_code == 201, created.text
    return patch(client, created.headers["Location"], 0, data)


def single(client: httpx.Client, data: bytes | None = None) -> str:
    done = upload_file(client, data if data is not None else os.urandom(64), filename="one.bin")
    assert done.status_code == 204, done.text
    return done.headers["Artifact-Urn"]


def draft(client: httpx.Client, **body: object) -> str:
    r = client.post("/v1/artifacts", json={"name": "run", **body})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft" and r.json()["state"] == "draft"
    return r.json()["urn"]


def problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    return r.json()


def test_multi_file_artifact_upload_seal_read_archive(alice: httpx.Client) -> None:
    urn = draft(alice, type="checkpoint", labels={"run": "7"})
    files = {"weights/a.bin": os.urandom(300_000), "config.json": b'{"lr": 0.1}', "logs/x.log": b"step 1\n"}
    started = create(
        alice, len(files["weights/a.bin"]), **{"Upload-Metadata": metadata(artifact=urn, path="weights/a.bin")}
    )
    assert started.status_code == 201, started.text
    for path in ("config.json", "logs/x.log"):
        assert upload_file(alice, files[path], artifact=urn, path=path).status_code == 204
    problem(create(alice, 1, **{"Upload-Metadata": metadata(artifact=urn, path="config.json")}), 409)  # taken
    for bad in ("../x", "/abs", "a//b"):
        problem(create(alice, 1, **{"Upload-Metadata": metadata(artifact=urn, path=bad)}), 400)
    assert "weights/a.bin" in problem(alice.post(f"/v1/artifacts/{urn}/seal"), 409)["detail"]
    assert patch(alice, started.headers["Location"], 0, files["weights/a.bin"]).status_code == 204
    sealed = alice.post(f"/v1/artifacts/{urn}/seal")
    assert sealed.status_code == 200, sealed.text
    assert sealed.json()["state"] == "ready" and sealed.json()["type"] == "checkpoint"
    manifest = alice.get(f"/v1/artifacts/{urn}/files").json()["items"]
    assert [(f["path"], f["size"], f["sha256"]) for f in manifest] == [
        (path, len(files[path]), sha256(files[path])) for path in sorted(files)
    ]
    got = alice.get(f"/v1/artifacts/{urn}/files/weights/a.bin", headers={"Range": "bytes=10-19"})
    assert got.status_code == 206 and got.content == files["weights/a.bin"][10:20]
    whole = alice.get(f"/v1/artifacts/{urn}/files/config.json")
    assert whole.content == files["config.json"] and whole.headers["etag"] == f'"{sha256(files["config.json"])}"'
    assert (
        alice.get(
            f"/v1/artifacts/{urn}/files/config.json", headers={"If-None-Match": whole.headers["etag"]}
        ).status_code
        == 304
    )
    problem(alice.get(f"/v1/artifacts/{urn}/files/nope.txt"), 404)
    assert "/files" in problem(alice.get(f"/v1/artifacts/{urn}/blob"), 409)["detail"]
    tar = tarfile.open(fileobj=io.BytesIO(alice.get(f"/v1/artifacts/{urn}/archive?format=tar").content))
    assert {m.name: tar.extractfile(m).read() for m in tar.getmembers()} == files  # type: ignore[union-attr]
    archive = zipfile.ZipFile(io.BytesIO(alice.get(f"/v1/artifacts/{urn}/archive?format=zip").content))
    assert {name: archive.read(name) for name in archive.namelist()} == files
    problem(alice.get(f"/v1/artifacts/{urn}/archive?format=rar"), 400)
    listed = alice.get("/v1/artifacts", params={"type": "checkpoint", "label": "run:7"}).json()["items"]
    assert [a["urn"] for a in listed] == [urn]
    problem(alice.get("/v1/artifacts", params={"label": "no-colon"}), 400)


def test_files_the_fabric_holds_are_linked_not_sent(alice: httpx.Client, server: InProcessServer) -> None:
    data = os.urandom(2048)
    single(alice, data)
    urn = draft(alice)
    body = {"path": "again.bin", "sha256": sha256(data), "size": len(data)}
    linked = alice.post(f"/v1/artifacts/{urn}/files", json=body)
    assert linked.status_code == 201 and linked.json()["linked"] is True
    unknown = alice.post(f"/v1/artifacts/{urn}/files", json={**body, "path": "new.bin", "sha256": "0" * 64})
    assert unknown.status_code == 200 and unknown.json()["linked"] is False
    problem(alice.post(f"/v1/artifacts/{urn}/files", json={**body, "sha256": "xyz"}), 400)
    eve_draft = draft(as_(server, EVE))
    eve_link = as_(server, EVE).post(f"/v1/artifacts/{eve_draft}/files", json=body)
    assert eve_link.json()["linked"] is False  # eve cannot read alice's bytes: she must send them
    assert alice.post(f"/v1/artifacts/{urn}/seal").status_code == 200
    assert alice.get(f"/v1/artifacts/{urn}/blob").content == data  # one file: the blob route serves it


def test_lock_and_delete_rules(alice: httpx.Client, server: InProcessServer) -> None:
    locked = single(alice)
    assert alice.post(f"/v1/artifacts/{locked}/lock", json={"reason": "release"}).json()["state"] == "locked"
    assert "locked" in problem(alice.patch(f"/v1/artifacts/{locked}", json={"type": "model"}), 409)["detail"]
    assert "locked" in problem(alice.delete(f"/v1/artifacts/{locked}"), 409)["detail"]
    problem(as_(server, BOB).post(f"/v1/artifacts/{locked}/lock"), 404)  # bob cannot read it
    gone = single(alice, b"bytes of a deleted artifact")
    problem(as_(server, EVE).delete(f"/v1/artifacts/{gone}"), 404)
    assert alice.delete(f"/v1/artifacts/{gone}").status_code == 200
    for path in ("", "/blob", "/files"):
        problem(alice.get(f"/v1/artifacts/{gone}{path}"), 410)
    assert gone not in {a["urn"] for a in alice.get("/v1/artifacts").json()["items"]}
    assert gone in {a["urn"] for a in alice.get("/v1/artifacts?status=deleted").json()["items"]}
    assert alice.get(f"/v1/aspects?entity={gone}").status_code == 200  # its history stays
    problem(alice.patch(f"/v1/artifacts/{gone}", json={"labels": {"a": "b"}}), 410)
    state_schema = "urn:fabric:schema:artifact-state.1"
    problem(
        alice.post("/v1/aspects", json={"entity": locked, "schema": state_schema, "content": {"state": "ready"}}), 403
    )


def test_repository_versions_aliases_stages_and_resolve(alice: httpx.Client) -> None:
    p = project()
    base = f"/v1/repositories/{p}/net"
    first, second = single(alice), single(alice)
    r = alice.post(f"{base}/versions", json={"artifact": first, "description": "one", "aliases": ["champion"]})
    assert r.status_code == 201 and r.json()["number"] == 1, r.text
    assert alice.post(f"{base}/versions", json={"artifact": second, "tags": ["b"]}).json()["number"] == 2
    problem(alice.post(f"{base}/versions", json={"artifact": second}), 409)
    resolved = alice.get("/v1/resolve", params={"ref": f"fabric://{p}/net"}).json()
    assert resolved["artifact"] == second and resolved["number"] == 2
    assert alice.get("/v1/resolve", params={"ref": f"fabric://{p}/net:champion"}).json()["artifact"] == first
    time.sleep(0.01)
    before = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    time.sleep(0.01)
    assert alice.put(f"{base}/aliases/champion", json={"version": 2}).status_code == 200
    assert alice.get(f"{base}/versions/champion").json()["number"] == 2
    assert alice.get(f"{base}/versions/champion", params={"at": before}).json()["number"] == 1
    assert (
        alice.get("/v1/resolve", params={"ref": f"fabric://{p}/net:champion", "at": before}).json()["artifact"] == first
    )
    assert alice.patch(f"{base}/versions/1", json={"description": "first"}).json()["description"] == "first"
    assert "locked" in problem(alice.post(f"{base}/versions/2/stage", json={"stage": "production"}), 409)["detail"]
    alice.post(f"/v1/artifacts/{second}/lock")
    staged = alice.post(f"{base}/versions/2/stage", json={"stage": "production", "reason": "ok", "message": "ship"})
    assert staged.status_code == 200 and staged.json()["stage"] == "production", staged.text
    assert alice.get(f"{base}/versions/2/stages").json()["items"][0]["reason"] == "ok"
    assert [v["number"] for v in alice.get(f"{base}/versions?stage=production").json()["items"]] == [2]
    repo = alice.get(base).json()
    assert [v["number"] for v in repo["versions"]["items"]] == [2, 1] and repo["aliases"]["champion"]["version"] == 2
    assert alice.get(f"/v1/artifacts/{second}").json()["versions"] == [{"repository": f"{p}/net", "number": 2}]
    lineage = alice.get("/v1/lineage", params={"ref": f"fabric://{p}/net:2"}).json()
    assert lineage["root"] == second
    assert alice.put(f"{base}/aliases/prod", json={"version": 1}).status_code == 200
    assert "protected alias 'prod'" in problem(alice.delete(f"/v1/artifacts/{first}"), 409)["detail"]
    assert alice.delete(f"{base}/aliases/prod").status_code == 204
    assert alice.delete(f"/v1/artifacts/{first}").status_code == 200
    assert [v["number"] for v in alice.get(f"{base}/versions").json()["items"]] == [2]
    for bad, status in (
        (f"/v1/repositories/{p}/Net/versions", 400),
        (f"/v1/repositories/{p}/nope/versions", 404),
        (f"{base}/versions/9", 404),
        (f"{base}/versions/no-such-alias", 404),
        (f"{base}/versions/BAD_ALIAS", 400),
        ("/v1/resolve?ref=fabric://x", 400),
        (f"{base}/versions?stage=gold", 400),
    ):
        problem(alice.get(bad), status)
    problem(alice.put(f"{base}/aliases/latest", json={"version": 1}), 400)
    problem(alice.put(f"{base}/aliases/x", json={"version": "one"}), 400)
    problem(alice.post(f"{base}/versions/2/stage", json={"stage": "gold"}), 400)


def test_repository_access(alice: httpx.Client, server: InProcessServer) -> None:
    p = project()
    base = f"/v1/repositories/{p}/net"
    artifact = single(alice)
    assert alice.post(f"{base}/versions", json={"artifact": artifact}).status_code == 201
    bob, eve, gus = as_(server, BOB), as_(server, EVE), as_(server, GUS)
    assert bob.get(f"{base}/versions/1").status_code == 200  # a member of its organisation
    assert bob.get(f"/v1/artifacts/{artifact}/blob").status_code == 200  # reads the version through it
    problem(bob.post(f"{base}/versions", json={"artifact": artifact}), 403)  # bob does not manage the artifact
    for client in (eve, gus):
        problem(client.get(base), 404)
        problem(client.get("/v1/resolve", params={"ref": f"fabric://{p}/net"}), 404)
        problem(client.get(f"/v1/artifacts/{artifact}/blob"), 404)
        assert p not in str(client.get("/v1/repositories").json())
    problem(eve.put(f"{base}/aliases/x", json={"version": 1}), 404)
    problem(bob.post(f"{base}/access", json={"email": GUS.email}), 403)
    grant = alice.post(f"{base}/access", json={"email": GUS.email})
    assert grant.status_code == 201, grant.text
    seen = gus.get(f"{base}/versions/latest").json()
    assert seen["artifact"] == artifact and seen["registered_by"] is None  # no other user's email
    assert ALICE.email not in gus.get(base).text and ALICE.email not in bob.get(f"{base}/versions").text
    assert alice.get(f"{base}/versions/1").json()["registered_by"] == f"urn:fabric:user:{ALICE.email}"
    assert gus.get(f"/v1/artifacts/{artifact}/blob").status_code == 200  # a grant on it reads every version
    problem(gus.put(f"{base}/aliases/x", json={"version": 1}), 403)  # reading is not changing
    problem(eve.get(f"/v1/artifacts/{artifact}/blob"), 404)
    problem(
        eve.post(
            "/v1/aspects",
            json={
                "entity": f"urn:fabric:repository:{p}/net",
                "schema": "urn:fabric:schema:grant.1",
                "content": {"grantee": "urn:fabric:user:eve@rival.test"},
            },
        ),
        404,
    )
    assert alice.delete(f"{base}/access/{grant.json()['id']}").status_code == 200
    problem(gus.get(f"/v1/artifacts/{artifact}/blob"), 404)
    compute = alice.post(f"/v1/orders/urn:fabric:order:{uuid.uuid4()}/token", json={})
    assert compute.status_code == 201, compute.text
    worker = server.client(timeout=30, headers={"Authorization": f"Bearer {compute.json()['token']}"})
    assert worker.get(f"{base}/versions/1").status_code == 200  # a compute token reads
    problem(worker.put(f"{base}/aliases/x", json={"version": 1}), 403)  # and changes nothing
    problem(worker.post(f"/v1/artifacts/{artifact}/lock"), 403)
    problem(worker.post(f"{base}/versions/1/stage", json={"stage": "testing"}), 403)
