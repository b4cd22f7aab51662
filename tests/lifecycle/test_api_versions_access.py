"""Versions and references over HTTP, on each graph backend, with authentication on: listings carry each artifact's
type, labels and state; `latest` as of a time counts deletions as they were then; who reads a version through a
repository grant sees it in lineage; compute tokens read repositories as their caller could when they were minted;
`fabric://` references (URL-encoded) in place of an artifact URN in a path; an artifact's versions shown only
in the repositories the reader may read."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
import pytest

from tests.inprocess import InProcessServer
from tests.lifecycle.test_api_lifecycle import ALICE, BOB, EVE, GUS, as_, draft, problem, project, single, upload_file


@pytest.fixture(scope="module")
def server(auth_app_server: InProcessServer) -> InProcessServer:
    return auth_app_server


@pytest.fixture(scope="module")
def alice(server: InProcessServer) -> httpx.Client:
    return as_(server, ALICE)


def now_iso() -> str:
    time.sleep(0.002)
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    time.sleep(0.002)
    return stamp


def compute_client(server: InProcessServer, owner: httpx.Client) -> httpx.Client:
    made = owner.post(f"/v1/orders/urn:fabric:order:{uuid.uuid4()}/token", json={})
    assert made.status_code == 201, made.text
    return server.client(timeout=30, headers={"Authorization": f"Bearer {made.json()['token']}"})


def ref_path(reference: str) -> str:
    return quote(reference, safe="")


def test_listings_carry_type_labels_and_state(alice: httpx.Client, server: InProcessServer) -> None:
    name = f"listed-{uuid.uuid4().hex[:8]}"
    urn = draft(alice, name=name, type="model", labels={"team": "vision"})
    done = upload_file(alice, b"weights", filename="w.bin", artifact=urn, path="w.bin")
    assert done.status_code == 204, done.text
    assert alice.post(f"/v1/artifacts/{urn}/lock").status_code == 200
    plain = single(alice)
    items = {item["urn"]: item for item in alice.get("/v1/artifacts", params={"limit": 50}).json()["items"]}
    assert {k: items[urn][k] for k in ("type", "labels", "state")} == {
        "type": "model",
        "labels": {"team": "vision"},
        "state": "locked",
    }
    assert {k: items[plain][k] for k in ("type", "labels", "state")} == {"type": "file", "labels": {}, "state": "ready"}
    filtered = alice.get("/v1/artifacts", params={"type": "model", "label": "team:vision", "name": name}).json()
    assert [(i["urn"], i["state"]) for i in filtered["items"]] == [(urn, "locked")]
    # what others shared with me carries them too
    assert alice.post(f"/v1/artifacts/{urn}/access", json={"email": GUS.email}).status_code == 201
    shared = {i["urn"]: i for i in as_(server, GUS).get("/v1/shared/artifacts").json()["items"]}
    assert shared[urn]["type"] == "model" and shared[urn]["labels"] == {"team": "vision"}
    assert shared[urn]["state"] == "locked"
    # and a repository's versions
    p = project()
    assert alice.post(f"/v1/repositories/{p}/net/versions", json={"artifact": urn}).status_code == 201
    assert alice.post(f"/v1/repositories/{p}/net/versions", json={"artifact": plain}).status_code == 201
    versions = alice.get(f"/v1/repositories/{p}/net/versions").json()["items"]
    assert [(v["number"], v["type"], v["labels"], v["state"]) for v in versions] == [
        (2, "file", {}, "ready"),
        (1, "model", {"team": "vision"}, "locked"),
    ]
    assert alice.get(f"/v1/repositories/{p}/net").json()["versions"]["items"][1]["state"] == "locked"
    assert alice.get(f"/v1/repositories/{p}/net/versions/1").json()["type"] == "model"


def test_latest_as_of_a_time_counts_deletions_as_they_were(alice: httpx.Client) -> None:
    p = project()
    base = f"/v1/repositories/{p}/net"
    first, second = single(alice), single(alice)
    for artifact in (first, second):
        assert alice.post(f"{base}/versions", json={"artifact": artifact}).status_code == 201
    before_deletion = now_iso()
    assert alice.delete(f"/v1/artifacts/{second}").status_code == 200
    assert alice.get(f"{base}/versions/latest").json()["artifact"] == first
    then = alice.get(f"{base}/versions/latest", params={"at": before_deletion}).json()
    assert then["artifact"] == second and then["number"] == 2
    resolved = alice.get("/v1/resolve", params={"ref": f"fabric://{p}/net", "at": before_deletion}).json()
    assert resolved["artifact"] == second
    listed = alice.get(f"{base}/versions", params={"at": before_deletion}).json()["items"]
    assert [v["number"] for v in listed] == [2, 1]
    assert [v["number"] for v in alice.get(f"{base}/versions").json()["items"]] == [1]
    assert [v["number"] for v in alice.get(f"{base}/versions", params={"at": now_iso()}).json()["items"]] == [1]


def test_a_repository_grant_shows_its_versions_in_lineage(alice: httpx.Client, server: InProcessServer) -> None:
    p = project()
    base = f"/v1/repositories/{p}/net"
    shared_input, private_input, output = single(alice), single(alice), single(alice)
    order = f"urn:fabric:order:{uuid.uuid4()}"
    for artifact in (shared_input, private_input):
        used = alice.post(
            "/v1/aspects",
            json={
                "entity": artifact,
                "schema": "urn:fabric:schema:artifact-used-by-order.1",
                "content": {"order": order},
            },
        )
        assert used.status_code == 201, used.text
    assert alice.post(f"{base}/versions", json={"artifact": shared_input}).status_code == 201
    assert alice.post(f"{base}/versions", json={"artifact": output, "order": order}).status_code == 201
    gus, eve = as_(server, GUS), as_(server, EVE)
    problem(gus.get(f"/v1/lineage/{output}"), 404)  # no grant yet
    assert alice.post(f"{base}/access", json={"email": GUS.email}).status_code == 201
    for answer in (
        gus.get(f"/v1/lineage/{output}"),
        gus.get("/v1/lineage", params={"ref": f"fabric://{p}/net:2"}),
    ):
        assert answer.status_code == 200, answer.text
        lineage = answer.json()
        assert lineage["root"] == output
        nodes = {node["urn"]: node for node in lineage["nodes"]}
        assert output in nodes and shared_input in nodes and order in nodes
        assert not nodes[shared_input].get("redacted")
        redacted = [node for node in lineage["nodes"] if node.get("redacted")]
        assert len(redacted) == 1  # the input outside the repository
        assert private_input not in answer.text
    problem(eve.get(f"/v1/lineage/{output}"), 404)
    assert output not in eve.get(f"/v1/lineage/{order}", params={"direction": "both"}).text
    # a version seen through the repository from another version's lineage is not hidden either
    downstream = gus.get(f"/v1/lineage/{shared_input}", params={"direction": "downstream"}).json()
    assert {output, shared_input} <= {node["urn"] for node in downstream["nodes"]}


def test_compute_tokens_read_repositories_as_when_minted(alice: httpx.Client, server: InProcessServer) -> None:
    p = project()
    base = f"/v1/repositories/{p}/net"
    gus, bob = as_(server, GUS), as_(server, BOB)
    bob_before_repository = compute_client(server, bob)
    first = single(alice)
    assert alice.post(f"{base}/versions", json={"artifact": first}).status_code == 201
    gus_before_grant = compute_client(server, gus)
    bob_before_second = compute_client(server, bob)
    grant = alice.post(f"{base}/access", json={"email": GUS.email})
    assert grant.status_code == 201
    gus_after_grant = compute_client(server, gus)
    second = single(alice)
    assert alice.post(f"{base}/versions", json={"artifact": second}).status_code == 201
    # A repository made after the token was minted: the organisation's member's token does not read it.
    assert bob.get(f"{base}/versions/1").status_code == 200
    problem(bob_before_repository.get(f"{base}/versions/1"), 404)
    problem(bob_before_repository.get(f"/v1/artifacts/{first}/blob"), 404)
    assert p not in bob_before_repository.get("/v1/repositories").text
    # A grant made after the token was minted does not count; one made before does.
    problem(gus_before_grant.get(base), 404)
    problem(gus_before_grant.get(f"/v1/artifacts/{first}/blob"), 404)
    assert p not in gus_before_grant.get("/v1/repositories").text
    assert gus_after_grant.get(f"/v1/artifacts/{first}/blob").status_code == 200
    assert p in gus_after_grant.get("/v1/repositories").text
    # A version registered after the token was minted is not read through the repository.
    assert bob_before_second.get(f"/v1/artifacts/{first}/blob").status_code == 200
    problem(bob_before_second.get(f"/v1/artifacts/{second}/blob"), 404)
    problem(gus_after_grant.get(f"/v1/artifacts/{second}/blob"), 404)
    assert bob.get(f"/v1/artifacts/{second}/blob").status_code == 200
    # A revocation counts at once.
    assert alice.delete(f"{base}/access/{grant.json()['id']}").status_code == 200
    problem(gus_after_grant.get(f"/v1/artifacts/{first}/blob"), 404)


def test_references_in_artifact_paths(alice: httpx.Client, server: InProcessServer) -> None:
    p = project()
    base = f"/v1/repositories/{p}/net"
    first = draft(alice, name="run")
    assert upload_file(alice, b"alpha", filename="a.txt", artifact=first, path="a.txt").status_code == 204
    assert alice.post(f"/v1/artifacts/{first}/seal").status_code == 200
    second = single(alice, b"the second version")
    assert alice.post(f"{base}/versions", json={"artifact": first, "aliases": ["champion"]}).status_code == 201
    assert alice.post(f"{base}/versions", json={"artifact": second}).status_code == 201
    for reference, expected in (
        (f"fabric://{p}/net", second),
        (f"fabric://{p}/net:latest", second),
        (f"fabric://{p}/net:1", first),
        (f"fabric://{p}/net:champion", first),
    ):
        got = alice.get(f"/v1/artifacts/{ref_path(reference)}")
        assert got.status_code == 200, got.text
        assert got.json()["urn"] == expected
    assert alice.get(f"/v1/artifacts/{ref_path(f'fabric://{p}/net')}/blob").content == b"the second version"
    champion = ref_path(f"fabric://{p}/net:champion")
    assert [f["path"] for f in alice.get(f"/v1/artifacts/{champion}/files").json()["items"]] == ["a.txt"]
    assert alice.get(f"/v1/artifacts/{champion}/files/a.txt").content == b"alpha"
    assert alice.get(f"/v1/artifacts/{champion}/archive", params={"format": "tar"}).status_code == 200
    assert alice.get(f"/v1/lineage/{champion}").json()["root"] == first
    # only the slashes encoded works as well
    assert alice.get(f"/v1/artifacts/fabric:%2F%2F{p}%2Fnet:1").json()["urn"] == first
    # what a reference names is what the artifact routes answer for, under their own rules
    assert alice.post(f"/v1/artifacts/{champion}/lock").json()["state"] == "locked"
    assert "locked" in problem(alice.delete(f"/v1/artifacts/{champion}"), 409)["detail"]
    # bad and unknown references, and repositories the caller may not read, as problems naming only the request
    problem(alice.get(f"/v1/artifacts/{ref_path('fabric://Not_A/repo')}"), 400)
    problem(alice.get(f"/v1/artifacts/{ref_path(f'fabric://{p}/net:BAD')}"), 400)
    problem(alice.get(f"/v1/artifacts/{ref_path('fabric://')}/blob"), 400)
    problem(alice.get(f"/v1/artifacts/{ref_path(f'fabric://{p}/net:9')}"), 404)
    problem(alice.get(f"/v1/artifacts/{ref_path(f'fabric://{p}/nope')}"), 404)
    problem(alice.get(f"/v1/lineage/{champion}", params={"at": "yesterday"}), 400)
    for odd in (
        "fabric:%FF",
        "fabric%3A%2F%2F%C3%A9%2Fx",
        "fabric:" + "a" * 5000,
        "fabric:%2F%2Fp%2Fn:1:2",
        "fabric:%00",
    ):
        answer = alice.get(f"/v1/artifacts/{odd}/blob")
        assert 400 <= answer.status_code < 500 and answer.headers["content-type"] == "application/problem+json", odd
    eve = as_(server, EVE)
    unknown = problem(eve.get(f"/v1/artifacts/{ref_path(f'fabric://{p}/nope:1')}"), 404)
    hidden = problem(eve.get(f"/v1/artifacts/{ref_path(f'fabric://{p}/net:1')}"), 404)
    assert first not in str(hidden) and hidden["title"] == unknown["title"]
    problem(eve.get(f"/v1/artifacts/{champion}/blob"), 404)
    problem(server.client(timeout=30).get(f"/v1/artifacts/{champion}"), 401)


def test_an_artifact_shows_only_versions_in_repositories_the_reader_reads(
    alice: httpx.Client, server: InProcessServer
) -> None:
    p = project()
    artifact = single(alice)
    for name in ("open-net", "closed-net"):
        assert alice.post(f"/v1/repositories/{p}/{name}/versions", json={"artifact": artifact}).status_code == 201
    assert alice.post(f"/v1/artifacts/{artifact}/access", json={"email": GUS.email}).status_code == 201
    gus = as_(server, GUS)
    assert gus.get(f"/v1/artifacts/{artifact}").json()["versions"] == []
    assert f"{p}/" not in gus.get(f"/v1/artifacts/{artifact}").text
    assert alice.post(f"/v1/repositories/{p}/open-net/access", json={"email": GUS.email}).status_code == 201
    assert gus.get(f"/v1/artifacts/{artifact}").json()["versions"] == [{"repository": f"{p}/open-net", "number": 1}]
    assert sorted(v["repository"] for v in alice.get(f"/v1/artifacts/{artifact}").json()["versions"]) == [
        f"{p}/closed-net",
        f"{p}/open-net",
    ]
    bob = as_(server, BOB)  # a member of the repositories' organisation reads them all
    assert len(bob.get(f"/v1/artifacts/{artifact}").json()["versions"]) == 2
