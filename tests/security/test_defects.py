"""Regression tests of issue 9's ten defects, each on both graph backends, against the app in-process with
authentication on (httpx's ASGI transport; tokens minted with the test key)."""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.inprocess import InProcessServer
from tests.security.people import PEOPLE, TUS, auth, create, finish, is_problem, meta, upload


@pytest.fixture(scope="module")
def api(auth_app_server: InProcessServer) -> httpx.Client:
    return auth_app_server.client(timeout=30)


def tag() -> str:
    return uuid.uuid4().hex[:10]


def nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = {"a": value}
    return value


def nested_text(levels: int) -> str:
    """JSON text of `levels` nested objects (written out: the json module cannot encode ten thousand levels)."""
    return '{"a":' * levels + "1" + "}" * levels


def quality_schema(**extra: object) -> dict:
    return {"$id": f"urn:fabric:schema:q{tag()}.1", "type": "object", **extra}


# ---- 1. concatenation copies only partials the caller may write ------------------------------------------


def test_1_final_upload_may_not_name_another_users_partial(api: httpx.Client) -> None:
    alice, eve = auth("creator"), auth("other")
    partial = api.post("/v1/uploads", headers={**TUS, **alice, "Upload-Length": "6", "Upload-Concat": "partial"})
    assert partial.status_code == 201
    part = partial.headers["Location"]
    assert finish(api, alice, part, b"secret").status_code == 204
    head = api.head(part, headers={**TUS, **eve})
    stolen = api.post("/v1/uploads", headers={**TUS, **eve, "Upload-Concat": f"final;{part}"})
    assert head.status_code == stolen.status_code == 404
    assert stolen.headers["content-type"] == "application/problem+json"
    assert "secret" not in stolen.text and part.rsplit("/", 1)[-1] not in stolen.text
    own = api.post("/v1/uploads", headers={**TUS, **alice, "Upload-Concat": f"final;{part}"})
    assert own.status_code == 201, own.text
    assert api.get(f"/v1/artifacts/{own.headers['Artifact-Urn']}/blob", headers=alice).content == b"secret"
    admin = api.post("/v1/uploads", headers={**TUS, **auth("admin"), "Upload-Concat": f"final;{part}"})
    assert admin.status_code == 201  # an admin of the uploader's organisation may write the upload


# ---- 2. no other user's email through the aspect endpoints ---------------------------------------------------


def test_2_aspect_endpoints_show_no_email_to_readers_who_do_not_manage(api: httpx.Client) -> None:
    urn, _ = upload(api, "creator", b"open bytes", filename=f"open-{tag()}.txt", policy="open")
    gus = auth("granted_user")
    listed = api.get("/v1/aspects", params={"entity": urn}, headers=gus)
    assert listed.status_code == 200 and listed.json()["items"], listed.text
    everything = api.get("/v1/aspects", params={"limit": 1000}, headers=gus)
    artifact_aspect = next(a for a in listed.json()["items"] if a["schema"].endswith("artifact.1"))
    one = api.get(f"/v1/aspects/{artifact_aspect['urn']}", headers=gus)
    artifact = api.get(f"/v1/artifacts/{urn}", headers=gus)
    for response in (listed, everything, one, artifact):
        assert response.status_code == 200
        assert "alice@acme.test" not in response.text
    assert one.json()["asserter"] is None and one.json()["content"]["uploader"] is None
    # who manages it still sees everything
    own = api.get(f"/v1/aspects/{artifact_aspect['urn']}", headers=auth("creator")).json()
    assert own["asserter"] == "urn:fabric:user:alice@acme.test"
    assert api.get(f"/v1/aspects/{artifact_aspect['urn']}", headers=auth("admin")).json()["asserter"] is not None


# ---- 3. a 404 names no more than the caller sent --------------------------------------------------------------


def test_3_not_found_bodies_do_not_name_the_hidden_artifact(api: httpx.Client) -> None:
    private, _ = upload(api, "creator", b"private", filename=f"private-{tag()}.txt")
    note = api.post(
        "/v1/aspects",
        json={
            "entity": private,
            "schema": "collection-member.1",
            "content": {"collection": f"urn:fabric:collection:c-{tag()}"},
        },
        headers=auth("creator"),
    )
    assert note.status_code == 201, note.text
    aspect = note.json()["urn"]
    grant = api.post(f"/v1/artifacts/{private}/access", json={"email": "gus@partner.test"}, headers=auth("creator"))
    assert grant.status_code == 201
    eve = auth("other")
    answers = [
        api.get(f"/v1/aspects/{aspect}", headers=eve),
        api.put(f"/v1/aspects/{aspect}", json={"content": {"collection": "urn:fabric:collection:x"}}, headers=eve),
        api.delete(f"/v1/aspects/{aspect}", headers=eve),
        api.get(f"/v1/aspects/{grant.json()['id']}", headers=eve),
        api.delete(f"/v1/aspects/{grant.json()['id']}", headers=eve),
        api.delete(f"/v1/artifacts/{private}/access/{grant.json()['id']}", headers=eve),
    ]
    for response in answers:
        assert is_problem(response, 404), (response.request.method, response.request.url, response.text)
        sent = str(response.request.url)
        for hidden in (private, "alice@acme.test", "gus@partner.test"):
            assert hidden not in response.text or hidden in sent, response.text


# ---- 4. only an order's owner (and its organisation's admins) link artifacts to it ---------------------------


def test_4_orders_belong_to_who_created_them(api: httpx.Client) -> None:
    order = f"urn:fabric:order:{uuid.uuid4()}"
    minted = api.post(f"/v1/orders/{order}/token", headers=auth("creator"))
    assert minted.status_code == 201, minted.text  # the first token claims the order for alice
    theirs, _ = upload(api, "other", b"eve's", filename=f"eve-{tag()}.txt", policy="open")
    for role in ("other", "member", "granted_user"):
        for schema in ("artifact-produced-by-order.1", "artifact-used-by-order.1"):
            forged = api.post(
                "/v1/aspects",
                json={"entity": theirs, "schema": schema, "content": {"order": order}},
                headers=auth(role),
            )
            assert is_problem(forged, 403), (role, schema, forged.text)
        assert is_problem(api.post(f"/v1/orders/{order}/token", headers=auth(role)), 403)
        status = api.post(
            "/v1/aspects",
            json={
                "entity": order,
                "schema": "order-owner.1",
                "content": {"owner": "urn:fabric:user:x@y", "org": "urn:fabric:org:y"},
            },
            headers=auth(role),
        )
        assert is_problem(status, 403)
    lineage = api.get(f"/v1/lineage/{order}", params={"direction": "both"}, headers=auth("creator"))
    assert lineage.status_code == 200 and theirs not in lineage.text
    mine, _ = upload(api, "creator", b"alice's output", filename=f"out-{tag()}.txt")
    produced = api.post(
        "/v1/aspects",
        json={"entity": mine, "schema": "artifact-produced-by-order.1", "content": {"order": order}},
        headers=auth("creator"),
    )
    assert produced.status_code == 201, produced.text
    by_admin, _ = upload(api, "admin", b"root's input", filename=f"in-{tag()}.txt")
    used = api.post(
        "/v1/aspects",
        json={"entity": by_admin, "schema": "artifact-used-by-order.1", "content": {"order": order}},
        headers=auth("admin"),
    )
    assert used.status_code == 201, used.text  # an admin of the owner's organisation may
    # moving someone's link to another's order by update is refused too
    eves_order = f"urn:fabric:order:{uuid.uuid4()}"
    assert api.post(f"/v1/orders/{eves_order}/token", headers=auth("other")).status_code == 201
    moved = api.put(
        f"/v1/aspects/{produced.json()['urn']}", json={"content": {"order": eves_order}}, headers=auth("creator")
    )
    assert is_problem(moved, 403)
    seen = api.get("/v1/aspects", params={"entity": order}, headers=auth("other"))
    assert seen.status_code == 200 and "alice@acme.test" not in seen.text


# ---- 5. no URL named by a schema is ever fetched -------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on loopback that records every request it gets."""
    hits: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = json.dumps({"type": "string"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_5_schemas_never_make_the_server_fetch(api: httpx.Client, listener: tuple[str, list[str]]) -> None:
    url, hits = listener
    alice = auth("creator")
    for keyword in ("$ref", "$dynamicRef"):
        for where in ({keyword: f"{url}/s.json"}, {"properties": {"v": {keyword: f"{url}/p.json#/x"}}}):
            r = api.post("/v1/schemas", json=quality_schema(**where), headers=alice)
            assert is_problem(r, 422), r.text
            assert "does not resolve" in r.json()["detail"]
    assert hits == []
    # references inside the schema and to registered schemas do resolve, and validate
    base = quality_schema(properties={"score": {"type": "number"}})
    assert api.post("/v1/schemas", json=base, headers=alice).status_code == 201
    derived = quality_schema(
        properties={"q": {"$ref": base["$id"]}, "n": {"$ref": "#/$defs/n"}}, **{"$defs": {"n": {"type": "integer"}}}
    )
    assert api.post("/v1/schemas", json=derived, headers=alice).status_code == 201
    urn, _ = upload(api, "creator", b"x", filename=f"r-{tag()}.txt")
    good = {"entity": urn, "schema": derived["$id"], "content": {"q": {"score": 0.5}, "n": 3}}
    assert api.post("/v1/aspects", json=good, headers=alice).status_code == 201
    bad = {"entity": urn, "schema": derived["$id"], "content": {"q": {"score": "high"}, "n": 3}}
    assert is_problem(api.post("/v1/aspects", json=bad, headers=alice), 422)
    assert hits == []


# ---- 6. what completion validates is validated at creation ----------------------------------------------------


@pytest.mark.parametrize("content_type", ["not a mime", "a/b/c", "text/" + "x" * 300, "/plain", "text/"])
def test_6_upload_metadata_that_completion_would_refuse_is_a_400_at_creation(
    api: httpx.Client, content_type: str
) -> None:
    r = create(api, auth("creator"), 4, filename="f.txt", content_type=content_type)
    assert is_problem(r, 400), r.text
    assert "mime_type" in r.json()["detail"]


def test_6_good_metadata_completes_to_a_ready_artifact(api: httpx.Client) -> None:
    urn, _ = upload(api, "creator", b"data", filename=f"ok-{tag()}.csv", content_type="text/csv; charset=utf-8")
    artifact = api.get(f"/v1/artifacts/{urn}", headers=auth("creator")).json()
    assert artifact["status"] == "ready" and artifact["mime_type"] == "text/csv; charset=utf-8"


# ---- 7. deep JSON is a 400, at every depth past the limit ------------------------------------------------------


@pytest.mark.parametrize("levels", [65, 300, 900, 10_000])
def test_7_deeply_nested_json_is_a_400(api: httpx.Client, levels: int) -> None:
    alice = auth("creator")
    urn, _ = upload(api, "creator", b"d", filename=f"d-{tag()}.txt")
    asserted = api.post(
        "/v1/aspects",
        json={"entity": urn, "schema": "collection-member.1", "content": {"collection": "urn:fabric:collection:c"}},
        headers=alice,
    )
    assert asserted.status_code == 201
    deep = nested_text(levels)
    headers = {**alice, "Content-Type": "application/json"}
    schema_id = quality_schema()["$id"]
    for method, path, text in (
        ("POST", "/v1/aspects", f'{{"entity": "{urn}", "schema": "collection-member.1", "content": {deep}}}'),
        ("PUT", f"/v1/aspects/{asserted.json()['urn']}", f'{{"content": {deep}}}'),
        ("POST", "/v1/schemas", f'{{"$id": "{schema_id}", "type": "object", "properties": {deep}}}'),
    ):
        r = api.request(method, path, content=text, headers=headers)
        assert is_problem(r, 400), (method, path, r.status_code, r.text[:200])


def test_7_json_within_the_limit_is_judged_by_the_schema(api: httpx.Client) -> None:
    urn, _ = upload(api, "creator", b"s", filename=f"s-{tag()}.txt")
    r = api.post(
        "/v1/aspects",
        json={"entity": urn, "schema": "collection-member.1", "content": nested(60)},
        headers=auth("creator"),
    )
    assert is_problem(r, 422)


# ---- 8. a schema is checked whole at registration --------------------------------------------------------------


@pytest.mark.parametrize("declared", [12, None, [], {"a": 1}, "http://json-schema.org/draft-07/schema#"])
def test_8_bad_dollar_schema_is_a_422(api: httpx.Client, declared: object) -> None:
    r = api.post("/v1/schemas", json=quality_schema(**{"$schema": declared}), headers=auth("creator"))
    assert is_problem(r, 422), r.text
    assert "$schema" in r.json()["detail"]


@pytest.mark.parametrize("ref", ["#/$defs/missing", "urn:fabric:schema:nowhere.1", "other.json", "#/properties/x/y"])
def test_8_unresolvable_references_are_refused_at_registration(api: httpx.Client, ref: str) -> None:
    schema = quality_schema(properties={"x": {"$ref": ref}})
    r = api.post("/v1/schemas", json=schema, headers=auth("creator"))
    assert is_problem(r, 422), r.text
    assert "does not resolve" in r.json()["detail"]
    assert api.get(f"/v1/schemas/{schema['$id']}", headers=auth("creator")).status_code == 404


# ---- 9. conflicting duplicate tus headers are a 400 ---------------------------------------------------------


@pytest.mark.parametrize(
    "name, first, second",
    [
        ("Upload-Length", "5", "500"),
        ("Tus-Resumable", "1.0.0", "0.2.2"),
        ("Upload-Metadata", meta(filename="a"), meta(filename="b")),
        ("Upload-Concat", "partial", "final;/v1/uploads/x"),
        ("Upload-Defer-Length", "1", "2"),
    ],
)
def test_9_conflicting_duplicate_tus_headers_are_a_400(api: httpx.Client, name: str, first: str, second: str) -> None:
    base = [("Tus-Resumable", "1.0.0"), ("Upload-Length", "5"), *auth("creator").items()]
    headers = [(key, value) for key, value in base if key != name] + [(name, first), (name, second)]
    r = api.post("/v1/uploads", headers=headers)
    assert is_problem(r, 400), r.text
    assert name.lower() in r.json()["detail"].lower()


def test_9_duplicate_headers_on_patch_and_identical_repeats(api: httpx.Client) -> None:
    alice = auth("creator")
    same = api.post(
        "/v1/uploads", headers=[*TUS.items(), ("Upload-Length", "4"), ("Upload-Length", "4"), *alice.items()]
    )
    assert same.status_code == 201, same.text
    location = same.headers["Location"]
    headers = [
        *TUS.items(),
        *alice.items(),
        ("Content-Type", "application/offset+octet-stream"),
        ("Upload-Offset", "0"),
        ("Upload-Offset", "2"),
    ]
    r = api.patch(location, headers=headers, content=b"data")
    assert is_problem(r, 400)
    assert api.head(location, headers={**TUS, **alice}).headers["Upload-Offset"] == "0"


# ---- 10. OPTIONS needs no token --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/artifacts", "/v1/aspects/urn:fabric:aspect:x", "/v1/schemas", "/v1/uploads"])
def test_10_options_is_answered_without_a_token(api: httpx.Client, path: str) -> None:
    r = api.options(path)
    assert r.status_code == 204
    assert "Allow" in r.headers or r.headers.get("Tus-Version") == "1.0.0"
    assert set(PEOPLE)  # the roles exist for the matrix; OPTIONS is the same for all of them
