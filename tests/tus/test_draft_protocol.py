"""Resumable Uploads for HTTP (draft-ietf-httpbis-resumable-upload), interop versions 7 and 8, over real HTTP.

Written from the draft's text: upload creation, offset retrieval, append, completion, cancellation, the
problem types, `Upload-Limit`, and bad input (never a 5xx). tus 1.0 beside it on the same endpoints.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from fabric.s3 import S3Location
from tests.fixtures_services import S3_ACCESS_KEY, S3_SECRET_KEY, ScriptService, make_bucket
from tests.tus.helpers import TUS, create, patch
from tests.tus.test_hooks import Recorder, serving
from tus_server import FileUploadStore, TusConfig, TusServer, UploadInfo, UploadStore, errors
from tus_server.s3_store import S3UploadStore

PROBLEM = "https://iana.org/assignments/http-problem-types#"
PARTIAL = "application/partial-upload"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def s3_bucket(s3_service: ScriptService) -> tuple[Any, str]:
    """A botocore client (configured as the server configures it) and a bucket for this module's S3 stores."""
    bucket = f"draft-{uuid.uuid4().hex[:16]}"
    make_bucket(s3_service.url, bucket)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
        env.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
        return S3Location(s3_service.url, bucket, path_style=True).client(), bucket


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> UploadStore:
    """Both upload stores: the file store, and the S3 store (its own prefix of a bucket on the real versitygw)."""
    if request.param == "file":
        return FileUploadStore(tmp_path)
    client, bucket = request.getfixturevalue("s3_bucket")
    return S3UploadStore(client, bucket, prefix=f"{uuid.uuid4().hex}/")


@pytest.fixture
def client(store: UploadStore, recorder: Recorder) -> Iterator[httpx.Client]:
    server = TusServer(
        store,
        TusConfig(max_size=1 << 30),
        on_create=recorder.on_create,
        on_complete=recorder.on_complete,
    )
    with serving(server) as client:
        yield client


@pytest.fixture(params=[7, 8])
def version(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def v(version: int, **headers: str) -> dict[str, str]:
    return {"Upload-Draft-Interop-Version": str(version), **{k.replace("_", "-"): val for k, val in headers.items()}}


def start(client: httpx.Client, version: int, **headers: str) -> str:
    r = client.post("/v1/uploads", headers=v(version, Upload_Complete="?0", **headers))
    assert r.status_code == 201, r.text
    assert r.headers["Upload-Complete"] == "?0"
    return r.headers["Location"]


def append(client: httpx.Client, version: int, url: str, offset: int, body: bytes, complete: bool) -> httpx.Response:
    headers = v(version, Upload_Offset=str(offset), Upload_Complete="?1" if complete else "?0", Content_Type=PARTIAL)
    return client.patch(url, headers=headers, content=body)


def test_options_announces_the_limits(client: httpx.Client, version: int) -> None:
    r = client.options("/v1/uploads", headers=v(version))
    assert r.status_code == 204
    assert "max-size=1073741824" in r.headers["Upload-Limit"]
    assert "max-age=" in r.headers["Upload-Limit"]


def test_creation_offset_retrieval_appends_and_completion(
    client: httpx.Client, recorder: Recorder, version: int
) -> None:
    data = os.urandom(300_000)
    url = start(client, version, Upload_Length=str(len(data)))
    head = client.head(url, headers=v(version))
    assert head.status_code == 204
    assert head.headers["Upload-Offset"] == "0"
    assert head.headers["Upload-Complete"] == "?0"
    assert head.headers["Upload-Length"] == str(len(data))
    assert head.headers["Cache-Control"] == "no-store"
    assert "Upload-Limit" in head.headers

    r = append(client, version, url, 0, data[:100_000], complete=False)
    assert r.status_code == 204, r.text
    assert (r.headers["Upload-Complete"], r.headers["Upload-Offset"]) == ("?0", "100000")
    assert not recorder.completed

    r = append(client, version, url, 100_000, data[100_000:], complete=True)
    assert r.status_code == 204, r.text
    assert r.headers["Upload-Complete"] == "?1"
    assert r.headers["X-Thing"].startswith("thing-")  # the creation hook's headers, as on tus answers
    (done,) = recorder.completed
    assert done.info.sha256 == hashlib.sha256(data).hexdigest()
    assert b"".join(done.read()) == data
    head = client.head(url, headers=v(version))
    assert (head.headers["Upload-Complete"], head.headers["Upload-Offset"]) == ("?1", str(len(data)))

    # the final answer again, for a client that lost it; more bytes are refused
    again = append(client, version, url, len(data), b"", complete=True)
    assert (again.status_code, again.headers["Upload-Complete"]) == (204, "?1")
    more = append(client, version, url, len(data), b"x", complete=True)
    assert more.status_code == 400
    assert more.headers["Content-Type"] == "application/problem+json"
    expected_type = PROBLEM + "completed-upload" if version == 7 else "about:blank"
    assert more.json()["type"] == expected_type
    assert len(recorder.completed) == 1


def test_whole_representation_in_the_creation_request(client: httpx.Client, recorder: Recorder, version: int) -> None:
    data = os.urandom(50_000)
    r = client.post("/v1/uploads", headers=v(version, Upload_Complete="?1"), content=data)
    assert r.status_code == 201, r.text
    assert (r.headers["Upload-Complete"], r.headers["Upload-Length"]) == ("?1", str(len(data)))
    assert recorder.completed[0].info.sha256 == hashlib.sha256(data).hexdigest()


def test_length_learnt_from_a_completing_request_without_content_length(
    client: httpx.Client, recorder: Recorder, version: int
) -> None:
    url = start(client, version)
    assert "Upload-Length" not in client.head(url, headers=v(version)).headers

    def chunks() -> Iterator[bytes]:
        yield b"a" * 70_000
        yield b"b" * 30_000

    headers = v(version, Upload_Offset="0", Upload_Complete="?1", Content_Type=PARTIAL)
    r = client.patch(url, headers=headers, content=chunks())  # chunked: no Content-Length
    assert r.status_code == 204, r.text
    assert (r.headers["Upload-Complete"], r.headers["Upload-Length"]) == ("?1", "100000")
    assert recorder.completed[0].info.length == 100_000


def test_mismatching_offset_is_409_with_the_problem_type_and_both_offsets(client: httpx.Client, version: int) -> None:
    url = start(client, version)
    assert append(client, version, url, 0, b"x" * 10, complete=False).status_code == 204
    r = append(client, version, url, 25, b"y", complete=False)
    assert r.status_code == 409
    assert r.headers["Upload-Offset"] == "10"
    assert r.headers["Upload-Complete"] == "?0"
    body = r.json()
    assert body["type"] == PROBLEM + "mismatching-upload-offset"
    assert (body["expected-offset"], body["provided-offset"]) == (10, 25)


def test_inconsistent_lengths_are_400_with_the_problem_type(client: httpx.Client, version: int) -> None:
    r = client.post("/v1/uploads", headers=v(version, Upload_Complete="?1", Upload_Length="9"), content=b"12345")
    assert r.status_code == 400
    assert r.json()["type"] == PROBLEM + "inconsistent-upload-length"
    url = start(client, version, Upload_Length="20")
    r = append(client, version, url, 0, b"x" * 5, complete=True)  # completes at 5 of 20
    assert r.status_code == 400
    assert r.json()["type"] == PROBLEM + "inconsistent-upload-length"
    headers = v(version, Upload_Offset="0", Upload_Complete="?0", Upload_Length="30", Content_Type=PARTIAL)
    assert client.patch(url, headers=headers, content=b"z").json()["type"] == PROBLEM + "inconsistent-upload-length"


def test_appends_must_be_partial_upload_content(client: httpx.Client, version: int) -> None:
    url = start(client, version)
    headers = v(version, Upload_Offset="0", Upload_Complete="?0", Content_Type="application/octet-stream")
    assert client.patch(url, headers=headers, content=b"abc").status_code == 415


def test_cancellation(client: httpx.Client, version: int) -> None:
    url = start(client, version)
    assert client.delete(url, headers=v(version)).status_code == 204
    assert client.head(url, headers=v(version)).status_code == 404


def test_content_digest_must_match_the_request_content(client: httpx.Client, version: int) -> None:
    url = start(client, version)
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    headers = v(
        version, Upload_Offset="0", Upload_Complete="?0", Content_Type=PARTIAL, Content_Digest=f"sha-256=:{wrong}:"
    )
    assert client.patch(url, headers=headers, content=b"abc").status_code == 460
    assert client.head(url, headers=v(version)).headers["Upload-Offset"] == "0"  # nothing of it was kept
    right = base64.b64encode(hashlib.sha256(b"abc").digest()).decode()
    headers["Content-Digest"] = f"sha-256=:{right}:"
    assert client.patch(url, headers=headers, content=b"abc").headers["Upload-Offset"] == "3"


def test_repr_digest_mismatch_removes_the_upload_instead_of_handing_it_on(
    client: httpx.Client, recorder: Recorder, version: int
) -> None:
    wrong = base64.b64encode(hashlib.sha256(b"not these bytes").digest()).decode()
    r = client.post(
        "/v1/uploads", headers=v(version, Upload_Complete="?1", Repr_Digest=f"sha-256=:{wrong}:"), content=b"abc"
    )
    assert r.status_code == 400
    assert not recorder.completed
    right = base64.b64encode(hashlib.sha256(b"abc").digest()).decode()
    r = client.post(
        "/v1/uploads", headers=v(version, Upload_Complete="?1", Repr_Digest=f"sha-256=:{right}:"), content=b"abc"
    )
    assert r.status_code == 201
    assert len(recorder.completed) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Upload-Offset", "abc"),
        ("Upload-Offset", "-1"),
        ("Upload-Offset", "?1"),
        ("Upload-Offset", "5;x=1"),
        ("Upload-Offset", "99999999999999999999"),
        ("Upload-Complete", "yes"),
        ("Upload-Complete", "1"),
        ("Upload-Draft-Interop-Version", "9"),
        ("Upload-Draft-Interop-Version", "seven"),
        ("Content-Digest", "sha-256=:not base64:"),
        ("Content-Digest", "sha-256=:YWJj:"),
        ("Repr-Digest", "sha-256=abc"),
    ],
)
def test_malformed_fields_are_400_problems(client: httpx.Client, version: int, field: str, value: str) -> None:
    url = start(client, version)
    headers = v(version, Upload_Offset="0", Upload_Complete="?0", Content_Type=PARTIAL)
    headers[field] = value
    r = client.patch(url, headers=headers, content=b"abc")
    assert r.status_code == 400, r.text
    assert r.headers["Content-Type"] == "application/problem+json"
    assert client.head(url, headers=v(version)).headers["Upload-Offset"] == "0"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Upload-Complete": "maybe"},
        {"Upload-Complete": "?0", "Upload-Length": "2000000000"},
        {"Upload-Complete": "?1", "Upload-Length": "5"},
    ],
    ids=["no-upload-complete", "bad-upload-complete", "over-max-size", "complete-without-the-content"],
)
def test_bad_creations_are_4xx_problems(
    client: httpx.Client, recorder: Recorder, version: int, headers: dict[str, str]
) -> None:
    r = client.post("/v1/uploads", headers={**v(version), **headers})
    assert r.status_code == (413 if headers.get("Upload-Length") == "2000000000" else 400)
    assert r.headers["Content-Type"] == "application/problem+json"
    assert not recorder.created  # refused before any upload was made


def test_an_upload_stays_with_the_protocol_that_created_it(client: httpx.Client, version: int) -> None:
    draft_url = start(client, version)
    assert patch(client, draft_url, 0, b"abc").status_code == 400
    assert client.head(draft_url, headers=TUS).status_code == 400
    tus_url = create(client, 3).headers["Location"]
    assert append(client, version, tus_url, 0, b"abc", complete=True).status_code == 400
    assert patch(client, tus_url, 0, b"abc").status_code == 204  # tus 1.0 is answered as before


@pytest.mark.parametrize(
    ("older", "complete_field", "more", "done", "partial_type_required"),
    [
        (3, "Upload-Incomplete", "?1", "?0", False),
        (4, "Upload-Complete", "?0", "?1", False),
        (5, "Upload-Complete", "?0", "?1", False),
        (6, "Upload-Complete", "?0", "?1", True),
    ],
)
def test_older_interop_versions(
    client: httpx.Client,
    recorder: Recorder,
    older: int,
    complete_field: str,
    more: str,
    done: str,
    partial_type_required: bool,
) -> None:
    """Version 3 says `Upload-Incomplete` (true while more is coming); 4 and later `Upload-Complete`; appends must
    be `application/partial-upload` from version 6; `Upload-Limit` is sent from version 5."""
    r = client.post("/v1/uploads", headers={**v(older), complete_field: more})
    assert r.status_code == 201, r.text
    assert r.headers[complete_field] == more
    assert ("Upload-Limit" in r.headers) == (older >= 5)
    url = r.headers["Location"]
    octets = {**v(older), complete_field: more, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    r = client.patch(url, headers=octets, content=b"abc")
    assert r.status_code == (415 if partial_type_required else 204), r.text
    at = 0 if partial_type_required else 3  # the octet-stream append was kept where it is allowed
    headers = {**v(older), complete_field: done, "Upload-Offset": str(at), "Content-Type": PARTIAL}
    r = client.patch(url, headers=headers, content=b"abcdef"[at:])
    assert (r.status_code, r.headers[complete_field], r.headers["Upload-Offset"]) == (204, done, "6")
    assert recorder.completed[0].info.sha256 == hashlib.sha256(b"abcdef").hexdigest()
    assert client.head(url, headers=v(older)).headers[complete_field] == done


def test_file_name_and_type_come_from_the_creation_request(
    client: httpx.Client, recorder: Recorder, version: int
) -> None:
    headers = v(
        version,
        Upload_Complete="?1",
        Content_Type="text/csv",
        Content_Disposition="inline; filename=\"plain.csv\"; filename*=UTF-8''na%C3%AFve%20file.csv",
    )
    assert client.post("/v1/uploads", headers=headers, content=b"a,b\n").status_code == 201
    assert recorder.created[0].metadata == {"filename": "naïve file.csv", "filetype": "text/csv"}
    headers["Content-Disposition"] = "inline; filename*=bogus''%ZZ"
    assert client.post("/v1/uploads", headers=headers, content=b"a,b\n").status_code == 201


def test_access_is_checked_before_the_protocol_is_told(tmp_path: Path) -> None:
    """Someone who may not see an upload learns nothing of it, not even which protocol created it."""

    async def only_alice(request: Request, info: UploadInfo) -> None:
        if request.headers.get("X-User") != "alice":
            raise errors.NOT_FOUND("no upload has this id")

    server = TusServer(FileUploadStore(tmp_path), TusConfig(), check_access=only_alice)
    with serving(server) as client:
        alice = {"X-User": "alice"}
        draft_url = client.post("/v1/uploads", headers={**v(8, Upload_Complete="?0"), **alice}).headers["Location"]
        tus_url = create(client, 3, **alice).headers["Location"]
        assert client.head(draft_url, headers=TUS).status_code == 404
        assert client.head(tus_url, headers=v(8)).status_code == 404
        assert client.head(draft_url, headers={**TUS, **alice}).status_code == 400
        assert client.head(tus_url, headers={**v(8), **alice}).status_code == 400
