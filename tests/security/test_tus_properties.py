"""Property-based tests (hypothesis) of the upload headers and of JSON depth and size, in-process on both
backends: whatever the headers or the JSON, the answer is never a 5xx, every error is problem+json, and what the
server accepts is consistent with what it was sent."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.inprocess import InProcessServer
from tests.security.people import PROBLEM, TUS, auth

SETTINGS = settings(
    max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
# Header values: what a careless client or an attacker sends. Latin-1 only (HTTP headers are bytes).
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
sizes = st.one_of(
    st.integers(min_value=0, max_value=64).map(str),
    st.integers(min_value=-5, max_value=(1 << 70)).map(str),
    header_text,
    st.just(""),
)
metadata_keys = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=","), min_size=1, max_size=12
)
metadata_values = st.one_of(
    st.text(max_size=40).map(lambda v: base64.b64encode(v.encode()).decode()),
    header_text,
    st.none(),
)
metadata = st.one_of(
    st.lists(st.tuples(metadata_keys, metadata_values), max_size=5).map(
        lambda pairs: ",".join(key if value is None else f"{key} {value}" for key, value in pairs)
    ),
    header_text,
)
checksums = st.one_of(
    st.tuples(st.sampled_from(["md5", "sha1", "sha256", "crc32", "sha512", ""]), st.binary(max_size=40)).map(
        lambda t: f"{t[0]} {base64.b64encode(t[1]).decode()}"
    ),
    header_text,
)
concat = st.one_of(
    st.just("partial"),
    st.lists(st.one_of(st.just("/v1/uploads/").map(lambda p: p + uuid.uuid4().hex), header_text), max_size=3).map(
        lambda urls: "final;" + " ".join(urls)
    ),
    header_text,
)
overrides = st.one_of(st.sampled_from(["PATCH", "DELETE", "GET", "HEAD", "OPTIONS", "POST", "patch"]), header_text)


@pytest.fixture(scope="module")
def api(auth_app_server: InProcessServer) -> httpx.Client:
    return auth_app_server.client(timeout=60)


def assert_answer(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400 and response.request.method != "HEAD":
        assert response.headers["content-type"] == PROBLEM, response.text[:300]
        assert response.json()["status"] == response.status_code


@given(
    length=st.one_of(st.none(), sizes),
    defer=st.one_of(st.none(), st.sampled_from(["1", "0", "yes", ""])),
    meta=st.one_of(st.none(), metadata),
    concat_header=st.one_of(st.none(), concat),
    checksum=st.one_of(st.none(), checksums),
    body=st.binary(max_size=64),
)
@SETTINGS
def test_creation_headers(
    api: httpx.Client,
    length: str | None,
    defer: str | None,
    meta: str | None,
    concat_header: str | None,
    checksum: str | None,
    body: bytes,
) -> None:
    headers = {**TUS, **auth("creator")}
    for name, value in (
        ("Upload-Length", length),
        ("Upload-Defer-Length", defer),
        ("Upload-Metadata", meta),
        ("Upload-Concat", concat_header),
        ("Upload-Checksum", checksum),
    ):
        if value is not None:
            headers[name] = value
    if body:
        headers["Content-Type"] = "application/offset+octet-stream"
    r = api.post("/v1/uploads", headers=headers, content=body)
    assert_answer(r)
    if r.status_code == 201 and length is not None and length.isdigit() and concat_header is None:
        offset = int(r.headers["Upload-Offset"])
        assert 0 <= offset <= min(len(body), int(length))


@given(
    offset=sizes,
    checksum=st.one_of(st.none(), checksums),
    override=st.one_of(st.none(), overrides),
    content_type=st.sampled_from(["application/offset+octet-stream", "text/plain", ""]),
    body=st.binary(max_size=32),
)
@SETTINGS
def test_patch_headers_never_corrupt_an_upload(
    api: httpx.Client, offset: str, checksum: str | None, override: str | None, content_type: str, body: bytes
) -> None:
    alice = auth("creator")
    created = api.post("/v1/uploads", headers={**TUS, **alice, "Upload-Length": "16"})
    assert created.status_code == 201
    location = created.headers["Location"]
    headers = {**TUS, **alice, "Upload-Offset": offset, "Content-Type": content_type}
    if checksum is not None:
        headers["Upload-Checksum"] = checksum
    if override is not None:
        headers["X-HTTP-Method-Override"] = override
    r = api.request("POST" if override is not None else "PATCH", location, headers=headers, content=body)
    assert_answer(r)
    head = api.head(location, headers={**TUS, **alice})
    if head.status_code == 200:
        saved = int(head.headers["Upload-Offset"])
        accepted = r.status_code == 204 and offset.strip().isdigit() and int(offset) == 0
        assert saved == (min(len(body), 16) if accepted else 0) or (r.status_code == 204 and saved <= 16)
    else:
        assert head.status_code == 404 and override is not None  # terminated by a DELETE override


json_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=40,
)


@given(depth=st.integers(min_value=1, max_value=2000), wide=st.integers(min_value=0, max_value=3))
@SETTINGS
def test_json_depth(api: httpx.Client, depth: int, wide: int) -> None:
    """Nested past the limit is a 400; within it the schema decides (422 here); never a 5xx."""
    content = '{"a":' * depth + "[" * wide + "1" + "]" * wide + "}" * depth
    body = f'{{"entity": "urn:fabric:order:{uuid.uuid4()}", "schema": "collection-member.1", "content": {content}}}'
    r = api.post("/v1/aspects", content=body, headers={**auth("creator"), "Content-Type": "application/json"})
    assert_answer(r)
    assert r.status_code == (400 if depth + wide > 64 else 422), (depth, wide, r.text[:200])


@given(content=json_values, size=st.sampled_from([0, 1000, 1 << 20]))
@SETTINGS
def test_json_content_and_size(api: httpx.Client, content: object, size: int) -> None:
    """Any JSON value as aspect content, padded towards and past the 1 MiB body limit: 201, 400, 413 or 422."""
    body = json.dumps(
        {
            "entity": f"urn:fabric:order:{uuid.uuid4()}",
            "schema": "collection-member.1",
            "content": content,
            "pad": "x" * size,
        }
    )
    r = api.post("/v1/aspects", content=body, headers={**auth("creator"), "Content-Type": "application/json"})
    assert_answer(r)
    assert r.status_code in ((413,) if len(body) > (1 << 20) else (400, 422)), (r.status_code, r.text[:200])


# ---- the resumable-upload draft: structured fields as a careless client or an attacker writes them ----
draft_versions = st.one_of(
    st.sampled_from(["3", "4", "5", "6", "7", "8"]),
    st.sampled_from(["2", "9", "-1", "8.0", '"8"', "8;a=1"]),
    header_text,
)
booleans = st.one_of(
    st.sampled_from(["?1", "?0"]), st.sampled_from(["?2", "1", "true", "", '"?1"', "?1;x", "?1, ?0"]), header_text
)
digests = st.one_of(
    st.binary(min_size=0, max_size=40).map(lambda d: f"sha-256=:{base64.b64encode(d).decode()}:"),
    st.sampled_from(["sha-256=:AAAA", "md5=:AAAA:", "sha-256=1", "=", "sha-256=:!!:"]),
    header_text,
)


def draft_headers(version: str, fields: dict[str, str | None]) -> dict[str, str]:
    headers = {**auth("creator"), "Upload-Draft-Interop-Version": version}
    headers.update({name: value for name, value in fields.items() if value is not None})
    return headers


@given(
    version=draft_versions,
    complete=st.one_of(st.none(), booleans),
    incomplete=st.one_of(st.none(), booleans),
    length=st.one_of(st.none(), sizes),
    repr_digest=st.one_of(st.none(), digests),
    content_digest=st.one_of(st.none(), digests),
    body=st.binary(max_size=64),
)
@SETTINGS
def test_draft_creation_fields(
    api: httpx.Client,
    version: str,
    complete: str | None,
    incomplete: str | None,
    length: str | None,
    repr_digest: str | None,
    content_digest: str | None,
    body: bytes,
) -> None:
    fields = {
        "Upload-Complete": complete,
        "Upload-Incomplete": incomplete,
        "Upload-Length": length,
        "Repr-Digest": repr_digest,
        "Content-Digest": content_digest,
    }
    r = api.post("/v1/uploads", headers=draft_headers(version, fields), content=body)
    assert_answer(r)
    if r.status_code == 201:
        offset = int(r.headers["Upload-Offset"])
        assert 0 <= offset <= len(body)
        head = api.head(r.headers["Location"], headers=draft_headers(version, {}))
        assert head.status_code == 204 and int(head.headers["Upload-Offset"]) == offset


@given(
    version=st.sampled_from(["6", "7", "8"]),
    offset=sizes,
    complete=booleans,
    content_type=st.sampled_from(["application/partial-upload", "application/offset+octet-stream", "", "text/plain"]),
    length=st.one_of(st.none(), sizes),
    body=st.binary(max_size=32),
)
@SETTINGS
def test_draft_appends_never_corrupt_an_upload(
    api: httpx.Client, version: str, offset: str, complete: str, content_type: str, length: str | None, body: bytes
) -> None:
    """Whatever an append says, the upload afterwards holds exactly the bytes some accepted request sent."""
    start = b"0123"
    created = api.post(
        "/v1/uploads",
        headers=draft_headers(version, {"Upload-Complete": "?0", "Upload-Length": "16"}),
        content=start,
    )
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    fields = {
        "Upload-Offset": offset,
        "Upload-Complete": complete,
        "Content-Type": content_type,
        "Upload-Length": length,
    }
    r = api.patch(location, headers=draft_headers(version, fields), content=body)
    assert_answer(r)
    head = api.head(location, headers=draft_headers(version, {}))
    saved = int(head.headers["Upload-Offset"])
    if r.status_code == 204:
        assert saved == len(start) + len(body) and int(offset) == len(start)
    else:
        assert len(start) <= saved <= len(start) + len(body)  # nothing acknowledged is lost
        if r.status_code == 409:
            assert int(r.headers["Upload-Offset"]) == len(start)
