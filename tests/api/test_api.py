"""The HTTP API of aspects, schemas, artifacts, collections and lineage, on each graph backend.

The app runs in this process (the shared `api` fixture: httpx's ASGI transport, one app per backend for the
module, a fresh graph at its start); tests keep to their own names and URNs so they do not see each other's data.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest

from fabric.ingest import SMALL_UPLOAD
from tests.tus.helpers import metadata, upload

PROBLEM = "application/problem+json"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_artifact(api: httpx.Client, data: bytes | None = None, **meta: str) -> str:
    return upload(api, data if data is not None else os.urandom(64), **meta).headers["Artifact-Urn"]


def register_quality_schema(api: httpx.Client) -> str:
    schema_id = f"urn:fabric:schema:{unique('quality')}.1"
    r = api.post(
        "/v1/schemas",
        json={
            "$id": schema_id,
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "score": {"type": "number", "minimum": 0, "maximum": 1},
                "checked": {"type": "string", "format": "date-time"},
            },
            "required": ["score"],
            "additionalProperties": False,
        },
    )
    assert r.status_code == 201, r.text
    return schema_id


def all_pages(api: httpx.Client, url: str) -> list[dict]:
    items: list[dict] = []
    next_url: str | None = url
    while next_url:
        body = api.get(next_url).json()
        items.extend(body["items"])
        next_url = body["next"]
    return items


# ---- schemas ------------------------------------------------------------------------------------------


def test_builtin_schemas_are_listed(api: httpx.Client) -> None:
    ids = {schema["$id"] for schema in api.get("/v1/schemas").json()["items"]}
    assert {
        f"urn:fabric:schema:{name}"
        for name in (
            "artifact.1",
            "artifact-produced-by-order.1",
            "artifact-used-by-order.1",
            "policy.1",
            "collection-member.1",
        )
    } <= ids


def test_registered_schema_can_be_read_back(api: httpx.Client) -> None:
    schema_id = register_quality_schema(api)
    r = api.get(f"/v1/schemas/{schema_id}")
    assert r.status_code == 200
    assert r.json()["$id"] == schema_id
    assert schema_id in {schema["$id"] for schema in api.get("/v1/schemas").json()["items"]}


@pytest.mark.parametrize(
    "body",
    [
        {"type": "object"},  # no $id
        {"$id": "not-a-urn", "type": "object"},
        {"$id": "urn:fabric:schema:bad", "type": "object"},  # no version
        {"$id": "urn:fabric:schema:broken.1", "type": "no-such-type"},
    ],
)
def test_invalid_schemas_are_refused(api: httpx.Client, body: dict) -> None:
    r = api.post("/v1/schemas", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["Content-Type"] == PROBLEM


def test_unknown_schema_is_404(api: httpx.Client) -> None:
    assert api.get("/v1/schemas/urn:fabric:schema:nothing-here.7").status_code == 404


# ---- aspects -------------------------------------------------------------------------------------------


def test_assert_get_update_retract_and_history(api: httpx.Client) -> None:
    artifact = new_artifact(api)
    schema = register_quality_schema(api)
    created = api.post("/v1/aspects", json={"entity": artifact, "schema": schema, "content": {"score": 0.5}})
    assert created.status_code == 201, created.text
    first = created.json()
    assert first["urn"].startswith("urn:fabric:aspect:")
    assert created.headers["Location"] == f"/v1/aspects/{first['urn']}"
    assert api.get(f"/v1/aspects/{first['urn']}").json()["content"] == {"score": 0.5}

    updated = api.put(f"/v1/aspects/{first['urn']}", json={"content": {"score": 0.9}})
    assert updated.status_code == 200, updated.text
    second = updated.json()
    assert second["urn"] != first["urn"]
    old = api.get(f"/v1/aspects/{first['urn']}").json()
    assert old["valid_to"] is not None
    assert old["retracted_by"]

    current = api.get("/v1/aspects", params={"entity": artifact, "schema": schema}).json()["items"]
    assert [a["content"] for a in current] == [{"score": 0.9}]
    history = api.get("/v1/aspects", params={"entity": artifact, "schema": schema, "include_retracted": "true"}).json()[
        "items"
    ]
    assert sorted(a["content"]["score"] for a in history) == [0.5, 0.9]
    as_of_first = api.get(
        "/v1/aspects", params={"entity": artifact, "schema": schema, "at": first["valid_from"]}
    ).json()["items"]
    assert [a["content"] for a in as_of_first] == [{"score": 0.5}]

    retracted = api.delete(f"/v1/aspects/{second['urn']}")
    assert retracted.status_code == 200
    assert retracted.json()["valid_to"] is not None
    assert api.get("/v1/aspects", params={"entity": artifact, "schema": schema}).json()["items"] == []
    assert api.put(f"/v1/aspects/{second['urn']}", json={"content": {"score": 0.1}}).status_code == 409


def test_md5_is_in_the_artifact_when_the_upload_asked_for_it(api: httpx.Client) -> None:
    data = os.urandom(3000)
    artifact = new_artifact(api, data, filename="m.bin", md5="yes")
    view = api.get(f"/v1/artifacts/{artifact}").json()
    assert view["md5"] == hashlib.md5(data).hexdigest()
    assert view["sha256"] == hashlib.sha256(data).hexdigest()
    (content,) = [a["content"] for a in view["aspects"] if a["schema"].endswith("artifact.1")]
    assert content["md5"] == view["md5"]


def test_aspects_of_an_artifact_are_in_its_view(api: httpx.Client) -> None:
    artifact = new_artifact(api, b"hello aspects", filename="h.txt")
    view = api.get(f"/v1/artifacts/{artifact}").json()
    assert view["status"] == "ready"
    assert view["sha256"] and view["size"] == 13
    assert view["md5"] is None  # computed only when the upload asks for it
    artifact_aspects = [a for a in view["aspects"] if a["schema"].endswith("artifact.1")]
    assert len(artifact_aspects) == 1
    content = artifact_aspects[0]["content"]
    assert content["name"] == "h.txt"
    assert content["mime_type"] == "text/plain"
    assert content["size"] == 13
    assert content["location"] == f"blob:sha256:{view['sha256']}"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (
            {
                "entity": "urn:fabric:artifact:00000000-0000-4000-8000-000000000000",
                "schema": "urn:fabric:schema:policy.1",
                "content": {"policy": "urn:fabric:policy:open"},
            },
            404,
        ),
        ({"entity": "not a urn", "schema": "urn:fabric:schema:policy.1", "content": {}}, 400),
        ({"schema": "urn:fabric:schema:policy.1", "content": {}}, 400),
        ({"entity": 3, "schema": "urn:fabric:schema:policy.1", "content": {}}, 400),
    ],
)
def test_bad_aspect_requests(api: httpx.Client, body: dict, status: int) -> None:
    r = api.post("/v1/aspects", json=body)
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == PROBLEM


def test_schema_violation_is_422_with_the_message(api: httpx.Client) -> None:
    artifact = new_artifact(api)
    schema = register_quality_schema(api)
    r = api.post("/v1/aspects", json={"entity": artifact, "schema": schema, "content": {"score": 7}})
    assert r.status_code == 422
    assert r.headers["Content-Type"] == PROBLEM
    assert "7" in r.json()["detail"]
    r = api.post(
        "/v1/aspects", json={"entity": artifact, "schema": schema, "content": {"score": 0.1, "checked": "yesterday"}}
    )
    assert r.status_code == 422, "format checks are on"
    r = api.post(
        "/v1/aspects",
        json={
            "entity": artifact,
            "schema": "urn:fabric:schema:artifact-used-by-order.1",
            "content": {"order": "urn:fabric:artifact:x"},
        },
    )
    assert r.status_code == 400  # the link names a URN of the wrong kind


def test_unknown_schema_or_aspect_is_404(api: httpx.Client) -> None:
    artifact = new_artifact(api)
    r = api.post(
        "/v1/aspects", json={"entity": artifact, "schema": "urn:fabric:schema:never-registered.1", "content": {}}
    )
    assert r.status_code == 404
    assert api.get(f"/v1/aspects/urn:fabric:aspect:{uuid.uuid4()}").status_code == 404
    assert api.delete(f"/v1/aspects/urn:fabric:aspect:{uuid.uuid4()}").status_code == 404
    assert api.get("/v1/aspects/garbage").status_code == 400


def test_malformed_bodies(api: httpx.Client) -> None:
    assert (
        api.post("/v1/aspects", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
    )
    assert api.post("/v1/aspects", json=[1, 2]).status_code == 400
    huge = b'{"entity": "' + b"x" * (2 << 20) + b'"}'
    assert api.post("/v1/aspects", content=huge, headers={"Content-Type": "application/json"}).status_code == 413


def test_bad_query_parameters_are_400(api: httpx.Client) -> None:
    assert api.get("/v1/aspects", params={"at": "last tuesday"}).status_code == 400
    assert api.get("/v1/aspects", params={"limit": "0"}).status_code == 400
    assert api.get("/v1/artifacts", params={"limit": "many"}).status_code == 400
    assert api.get("/v1/artifacts", params={"cursor": "not-a-cursor"}).status_code == 400


# ---- artifacts and collections -------------------------------------------------------------------------


def test_list_filters_and_keyset_paging(api: httpx.Client) -> None:
    collection = unique("coll")
    before = datetime.now(UTC) - timedelta(seconds=1)
    urns = {
        new_artifact(api, os.urandom(100), filename=f"{collection}-{i}.csv", collection=collection) for i in range(5)
    }
    other = new_artifact(api, os.urandom(100), filename=f"{collection}-x.json")
    collection_urn = f"urn:fabric:collection:{collection}"

    listed = all_pages(api, f"/v1/artifacts?collection={quote(collection_urn)}&limit=2")
    assert {a["urn"] for a in listed} == urns
    assert len(listed) == 5, "every item exactly once across pages"

    by_mime = api.get("/v1/artifacts", params={"mime_type": "application/json", "limit": 1000}).json()["items"]
    assert other in {a["urn"] for a in by_mime}
    assert not urns & {a["urn"] for a in by_mime}

    by_name = api.get("/v1/artifacts", params={"name": f"{collection}-3.csv"}).json()["items"]
    assert len(by_name) == 1 and by_name[0]["urn"] in urns

    after = api.get("/v1/artifacts", params={"collection": collection_urn, "created_after": before.isoformat()}).json()[
        "items"
    ]
    assert len(after) == 5
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (
        api.get("/v1/artifacts", params={"collection": collection_urn, "created_after": future}).json()["items"] == []
    )

    members = all_pages(api, f"/v1/collections/{collection_urn}?limit=3")
    assert {a["urn"] for a in members} == urns


def test_pending_artifacts_are_listed_with_their_status(api: httpx.Client) -> None:
    """An upload larger than `SMALL_UPLOAD` is listed as pending from its creation on."""
    name = unique("pending") + ".bin"
    length = str(SMALL_UPLOAD + 1)
    r = api.post(
        "/v1/uploads",
        headers={"Tus-Resumable": "1.0.0", "Upload-Length": length, "Upload-Metadata": metadata(filename=name)},
    )
    urn = r.headers["Artifact-Urn"]
    view = api.get(f"/v1/artifacts/{urn}").json()
    assert view["status"] == "pending"
    assert view["name"] == name
    pending = api.get("/v1/artifacts", params={"status": "pending", "name": name}).json()["items"]
    assert [a["urn"] for a in pending] == [urn]


def test_a_small_upload_is_written_to_the_graph_once_at_its_completion(api: httpx.Client) -> None:
    """At most `SMALL_UPLOAD` bytes: no pending node at creation (nobody would see it, and it costs a commit);
    the URN is unknown until the bytes come, then the artifact is ready, as a creation-with-upload makes it."""
    data, name = os.urandom(SMALL_UPLOAD), unique("small") + ".bin"
    headers = {"Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)), "Upload-Metadata": metadata(filename=name)}
    r = api.post("/v1/uploads", headers=headers)
    assert r.status_code == 201
    urn = r.headers["Artifact-Urn"]
    assert api.get(f"/v1/artifacts/{urn}").status_code == 404
    assert api.get("/v1/artifacts", params={"status": "pending", "name": name}).json()["items"] == []
    patched = api.patch(
        r.headers["Location"],
        headers={"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        content=data,
    )
    assert patched.status_code == 204
    view = api.get(f"/v1/artifacts/{urn}").json()
    assert (view["status"], view["name"], view["size"]) == ("ready", name, len(data))
    assert view["sha256"] == hashlib.sha256(data).hexdigest()


def test_creation_with_upload_makes_the_artifact_in_its_one_request(api: httpx.Client) -> None:
    """The node is then written with artifact.1 (one commit); the artifact is what two requests would make."""
    data, name = os.urandom(300), unique("whole") + ".bin"
    headers = {
        "Tus-Resumable": "1.0.0",
        "Upload-Length": str(len(data)),
        "Upload-Metadata": metadata(filename=name),
        "Content-Type": "application/offset+octet-stream",
    }
    r = api.post("/v1/uploads", headers=headers, content=data)
    assert r.status_code == 201 and r.headers["Upload-Offset"] == str(len(data)), r.text
    one = api.get(f"/v1/artifacts/{r.headers['Artifact-Urn']}").json()
    two = api.get(f"/v1/artifacts/{new_artifact(api, data, filename=name)}").json()
    assert one["status"] == "ready" and one["sha256"] == hashlib.sha256(data).hexdigest()
    same = ("urn", "created", "aspects", "properties")
    assert {k: v for k, v in one.items() if k not in same} == {k: v for k, v in two.items() if k not in same}
    assert one["properties"] == {**two["properties"], "upload_id": r.headers["Location"].rsplit("/", 1)[-1]}
    assert api.get(f"/v1/artifacts/{one['urn']}/blob").content == data

    # A body refused at creation (its checksum is wrong) leaves an upload to resume; the PATCH that completes it
    # writes the artifact, under the URN the creation answered.
    bad = {
        **headers,
        "Upload-Metadata": metadata(filename="later.bin"),
        "Upload-Checksum": "sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    }
    r = api.post("/v1/uploads", headers=bad, content=data)
    assert r.status_code == 460, r.text
    urn, location = r.headers["Artifact-Urn"], r.headers["Location"]
    assert api.head(location, headers={"Tus-Resumable": "1.0.0"}).headers["Upload-Offset"] == "0"
    done = api.patch(
        location,
        headers={"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        content=data,
    )
    assert done.status_code == 204, done.text
    later = api.get(f"/v1/artifacts/{urn}").json()
    assert (later["status"], later["name"], later["sha256"]) == ("ready", "later.bin", one["sha256"])


def test_policy_from_upload_metadata_becomes_an_aspect(api: httpx.Client) -> None:
    urn = new_artifact(api, policy="open")
    policies = api.get("/v1/aspects", params={"entity": urn, "schema": "urn:fabric:schema:policy.1"}).json()["items"]
    assert [a["content"] for a in policies] == [{"policy": "urn:fabric:policy:open"}]


def test_unknown_and_malformed_artifact_urns(api: httpx.Client) -> None:
    assert api.get(f"/v1/artifacts/urn:fabric:artifact:{uuid.uuid4()}").status_code == 404
    r = api.get("/v1/artifacts/urn:fabric:order:abc")
    assert r.status_code == 400
    assert r.headers["Content-Type"] == PROBLEM


# ---- lineage -------------------------------------------------------------------------------------------


def record_order(api: httpx.Client, inputs: list[str], outputs: list[str]) -> str:
    order = f"urn:fabric:order:{uuid.uuid4()}"
    for urn in inputs:
        assert (
            api.post(
                "/v1/aspects",
                json={
                    "entity": urn,
                    "schema": "urn:fabric:schema:artifact-used-by-order.1",
                    "content": {"order": order},
                },
            ).status_code
            == 201
        )
    for urn in outputs:
        assert (
            api.post(
                "/v1/aspects",
                json={
                    "entity": urn,
                    "schema": "urn:fabric:schema:artifact-produced-by-order.1",
                    "content": {"order": order},
                },
            ).status_code
            == 201
        )
    return order


def test_lineage_upstream_downstream_depth_and_at(api: httpx.Client) -> None:
    raw, cleaned, model = (new_artifact(api) for _ in range(3))
    clean_order = record_order(api, [raw], [cleaned])
    time.sleep(0.01)
    between = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    train_order = record_order(api, [cleaned], [model])

    up = api.get(f"/v1/lineage/{model}", params={"direction": "upstream"}).json()
    assert up["root"] == model
    assert {n["urn"] for n in up["nodes"]} >= {model, train_order, cleaned, clean_order, raw}
    kinds = {n["urn"]: n["kind"] for n in up["nodes"]}
    assert kinds[train_order] == "order" and kinds[raw] == "artifact"
    assert {"from": model, "to": train_order, "rel": "WAS_GENERATED_BY"} in [
        {k: e[k] for k in ("from", "to", "rel")} for e in up["edges"]
    ]
    assert all(e["aspect"].startswith("urn:fabric:aspect:") for e in up["edges"])
    assert up["truncated"] is False

    down = api.get(f"/v1/lineage/{raw}", params={"direction": "downstream"}).json()
    assert {model, cleaned} <= {n["urn"] for n in down["nodes"]}

    shallow = api.get(f"/v1/lineage/{model}", params={"direction": "upstream", "depth": 2}).json()
    assert {n["urn"] for n in shallow["nodes"]} == {model, train_order, cleaned}

    then = api.get(f"/v1/lineage/{model}", params={"direction": "both", "at": between}).json()
    assert {n["urn"] for n in then["nodes"]} == {model}

    both = api.get(f"/v1/lineage/{cleaned}", params={"direction": "both"}).json()
    assert {raw, model} <= {n["urn"] for n in both["nodes"]}


def test_lineage_follows_retractions(api: httpx.Client) -> None:
    source, derived = new_artifact(api), new_artifact(api)
    order = f"urn:fabric:order:{uuid.uuid4()}"
    used = api.post(
        "/v1/aspects",
        json={"entity": source, "schema": "urn:fabric:schema:artifact-used-by-order.1", "content": {"order": order}},
    ).json()
    produced = api.post(
        "/v1/aspects",
        json={
            "entity": derived,
            "schema": "urn:fabric:schema:artifact-produced-by-order.1",
            "content": {"order": order},
        },
    ).json()
    assert source in {n["urn"] for n in api.get(f"/v1/lineage/{derived}").json()["nodes"]}
    api.delete(f"/v1/aspects/{used['urn']}")
    assert source not in {n["urn"] for n in api.get(f"/v1/lineage/{derived}").json()["nodes"]}
    assert source in {
        n["urn"] for n in api.get(f"/v1/lineage/{derived}", params={"at": produced["valid_from"]}).json()["nodes"]
    }


@pytest.mark.parametrize("params", [{"direction": "sideways"}, {"depth": "0"}, {"depth": "1000"}, {"at": "soon"}])
def test_bad_lineage_requests_are_400(api: httpx.Client, params: dict) -> None:
    urn = new_artifact(api)
    r = api.get(f"/v1/lineage/{urn}", params=params)
    assert r.status_code == 400
    assert r.headers["Content-Type"] == PROBLEM


def test_lineage_of_unknown_urn_is_404(api: httpx.Client) -> None:
    assert api.get(f"/v1/lineage/urn:fabric:artifact:{uuid.uuid4()}").status_code == 404
