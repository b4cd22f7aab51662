"""tus 1.0.0 over real HTTP on loopback: every status code the protocol and its extensions define."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import httpx
import pytest
from botocore.config import Config

from fabric.ingest import SMALL_UPLOAD
from tests.fixtures_services import S3Target, make_bucket
from tests.server_process import FabricServer
from tests.tus.helpers import OCTETS, TUS, blob, create, metadata, patch, sha256, upload

MAX_SIZE = 64 << 20
ARTIFACT_URN = re.compile(r"urn:fabric:artifact:[0-9a-f-]{36}")


@pytest.fixture(scope="module", params=["file", "s3"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FabricServer]:
    """The suite runs on both upload stores: the file store, and the S3 store on the session's real versitygw."""
    env = {}
    if request.param == "s3":
        s3 = request.getfixturevalue("s3_service")
        bucket = f"tus-{uuid.uuid4().hex[:16]}"
        make_bucket(s3.url, bucket)
        env = S3Target(s3.url, bucket).env()
    data = tmp_path_factory.mktemp(f"tus-{request.param}") / "data"
    with FabricServer(data, args=["--max-size", str(MAX_SIZE)], env=env) as running:
        yield running


def stored_blobs(server: FabricServer, digest: str) -> list[str]:
    """Where the server keeps blobs with this sha256: files under the data dir, or keys in its bucket."""
    bucket = server.env.get("FABRIC_S3_BUCKET")
    if bucket is None:
        return [str(path) for path in (server.data_dir / "blobs").rglob(digest)]
    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=server.env["FABRIC_S3_ENDPOINT"],
        region_name="us-east-1",
        aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}),
    )
    listed = client.list_objects_v2(Bucket=bucket, Prefix="blobs/")
    return [item["Key"] for item in listed.get("Contents", []) if item["Key"].endswith(digest)]


@pytest.fixture
def client(server: FabricServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def test_options_advertises_version_extensions_max_size_and_checksums(client: httpx.Client) -> None:
    r = client.options("/v1/uploads")
    assert r.status_code == 204
    assert r.headers["Tus-Version"] == "1.0.0"
    assert set(r.headers["Tus-Extension"].split(",")) == {
        "creation",
        "creation-with-upload",
        "creation-defer-length",
        "expiration",
        "checksum",
        "termination",
        "concatenation",
    }
    assert r.headers["Tus-Max-Size"] == str(MAX_SIZE)
    assert set(r.headers["Tus-Checksum-Algorithm"].split(",")) == {"md5", "sha1", "sha256", "crc32"}


@pytest.mark.parametrize("version", [None, "0.2.2", "2.0.0"])
def test_wrong_or_missing_tus_resumable_is_412(client: httpx.Client, version: str | None) -> None:
    headers = {"Upload-Length": "10"} | ({"Tus-Resumable": version} if version else {})
    r = client.post("/v1/uploads", headers=headers)
    assert r.status_code == 412
    assert r.headers["Tus-Version"] == "1.0.0"
    assert r.headers["Content-Type"] == "application/problem+json"


def test_creation_answers_location_expiry_and_artifact_urn(client: httpx.Client) -> None:
    r = create(client, 100, **{"Upload-Metadata": metadata(filename="a.txt")})
    assert r.status_code == 201
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1/uploads/[0-9a-f]{32}", r.headers["Location"])
    assert ARTIFACT_URN.fullmatch(r.headers["Artifact-Urn"])
    assert r.headers["Upload-Expires"].endswith("GMT")
    head = client.head(r.headers["Location"], headers=TUS)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == "0"
    assert head.headers["Upload-Length"] == "100"
    assert head.headers["Cache-Control"] == "no-store"
    assert head.headers["Artifact-Urn"] == r.headers["Artifact-Urn"]
    assert head.headers["Upload-Metadata"] == metadata(filename="a.txt")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 400),
        ({"Upload-Length": "-1"}, 400),
        ({"Upload-Length": "ten"}, 400),
        ({"Upload-Length": "1e3"}, 400),
        ({"Upload-Length": "99999999999999999999999"}, 400),
        ({"Upload-Length": "10", "Upload-Defer-Length": "1"}, 400),
        ({"Upload-Defer-Length": "yes"}, 400),
        ({"Upload-Length": str(MAX_SIZE + 1)}, 413),
        ({"Upload-Length": "10", "Upload-Metadata": "filename not*base64"}, 400),
        ({"Upload-Length": "10", "Upload-Metadata": "a YQ==,a YQ=="}, 400),
        ({"Upload-Length": "10", "Upload-Metadata": "a YQ== extra"}, 400),
        ({"Upload-Length": "10", "Upload-Metadata": ",YQ=="}, 400),
        ({"Upload-Length": "10", "Upload-Metadata": "filename " + base64.b64encode(b"\xff\xfe").decode()}, 400),
        ({"Upload-Length": "10", "Upload-Metadata": metadata(filename="..")}, 400),
        ({"Upload-Length": "10", "Upload-Metadata": metadata(collection="urn:fabric:policy:x")}, 400),
        ({"Upload-Length": "10", "Upload-Concat": "whole"}, 400),
    ],
)
def test_bad_creation_requests_are_refused_with_problem_json(
    client: httpx.Client, headers: dict[str, str], status: int
) -> None:
    r = client.post("/v1/uploads", headers={**TUS, **headers})
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.json()["status"] == status


def test_patch_appends_and_final_patch_carries_artifact_urn(client: httpx.Client) -> None:
    data = os.urandom(300_000)
    created = create(client, len(data))
    location = created.headers["Location"]
    first = patch(client, location, 0, data[:100_000])
    assert first.status_code == 204
    assert first.headers["Upload-Offset"] == "100000"
    last = patch(client, location, 100_000, data[100_000:])
    assert last.status_code == 204
    assert last.headers["Upload-Offset"] == str(len(data))
    assert last.headers["Artifact-Urn"] == created.headers["Artifact-Urn"]
    assert blob(client, last.headers["Artifact-Urn"]).content == data


def test_patch_at_the_wrong_offset_is_409_and_changes_nothing(client: httpx.Client) -> None:
    location = create(client, 10).headers["Location"]
    assert patch(client, location, 0, b"abc").status_code == 204
    r = patch(client, location, 1, b"xyz")
    assert r.status_code == 409
    assert r.headers["Upload-Offset"] == "3"
    assert client.head(location, headers=TUS).headers["Upload-Offset"] == "3"


@pytest.mark.parametrize("offset", ["-1", "abc", ""])
def test_patch_with_malformed_offset_is_400(client: httpx.Client, offset: str) -> None:
    location = create(client, 10).headers["Location"]
    r = client.patch(location, headers={**OCTETS, "Upload-Offset": offset}, content=b"abc")
    assert r.status_code == 400


def test_patch_without_offset_is_400(client: httpx.Client) -> None:
    location = create(client, 10).headers["Location"]
    assert client.patch(location, headers=OCTETS, content=b"abc").status_code == 400


def test_patch_with_wrong_content_type_is_415(client: httpx.Client) -> None:
    location = create(client, 10).headers["Location"]
    r = client.patch(location, headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/json"}, content=b"{}")
    assert r.status_code == 415
    assert client.head(location, headers=TUS).headers["Upload-Offset"] == "0"


def test_patch_passing_upload_length_is_413_before_any_byte_is_kept(client: httpx.Client) -> None:
    location = create(client, 10).headers["Location"]
    r = patch(client, location, 0, b"x" * 11)
    assert r.status_code == 413
    assert client.head(location, headers=TUS).headers["Upload-Offset"] == "0"


def test_chunked_patch_passing_upload_length_keeps_only_the_bytes_that_fit(client: httpx.Client) -> None:
    location = create(client, 10).headers["Location"]

    def body() -> Iterator[bytes]:
        yield b"0123456"
        yield b"789abcdef"

    r = client.patch(location, headers={**OCTETS, "Upload-Offset": "0"}, content=body())
    assert r.status_code == 413
    assert client.head(location, headers=TUS).headers["Upload-Offset"] == "10"


def test_unknown_and_malformed_upload_ids_are_404(client: httpx.Client) -> None:
    for path in [
        "/v1/uploads/" + "0" * 32,
        "/v1/uploads/xyz",
        "/v1/uploads/..%2F..%2Fetc%2Fpasswd",
        "/v1/uploads/%2e%2e",
    ]:
        r = client.head(path, headers=TUS)
        assert r.status_code == 404, path
        assert patch(client, path, 0, b"x").status_code == 404, path


def test_creation_with_upload(client: httpx.Client) -> None:
    data = b"hello world"
    r = client.post("/v1/uploads", headers={**OCTETS, "Upload-Length": str(len(data))}, content=data)
    assert r.status_code == 201
    assert r.headers["Upload-Offset"] == str(len(data))
    assert blob(client, r.headers["Artifact-Urn"]).content == data


def test_creation_with_partial_body_then_patch(client: httpx.Client) -> None:
    r = client.post("/v1/uploads", headers={**OCTETS, "Upload-Length": "10"}, content=b"01234")
    assert r.status_code == 201
    assert r.headers["Upload-Offset"] == "5"
    assert patch(client, r.headers["Location"], 5, b"56789").status_code == 204
    assert blob(client, r.headers["Artifact-Urn"]).content == b"0123456789"


def test_deferred_length_is_given_by_a_later_patch(client: httpx.Client) -> None:
    created = client.post("/v1/uploads", headers={**TUS, "Upload-Defer-Length": "1"})
    assert created.status_code == 201
    location = created.headers["Location"]
    head = client.head(location, headers=TUS)
    assert head.headers["Upload-Defer-Length"] == "1"
    assert "Upload-Length" not in head.headers
    assert patch(client, location, 0, b"abc").status_code == 204
    assert patch(client, location, 3, b"def", **{"Upload-Length": "6"}).status_code == 204
    head = client.head(location, headers=TUS)
    assert head.headers["Upload-Length"] == "6"
    assert blob(client, created.headers["Artifact-Urn"]).content == b"abcdef"


def test_deferred_length_over_max_size_is_413_and_below_offset_is_400(client: httpx.Client) -> None:
    location = client.post("/v1/uploads", headers={**TUS, "Upload-Defer-Length": "1"}).headers["Location"]
    assert patch(client, location, 0, b"abc").status_code == 204
    assert patch(client, location, 3, b"d", **{"Upload-Length": str(MAX_SIZE + 1)}).status_code == 413
    assert patch(client, location, 3, b"d", **{"Upload-Length": "2"}).status_code == 400
    assert client.head(location, headers=TUS).headers["Upload-Offset"] == "3"


def _checksum(algorithm: str, data: bytes) -> str:
    if algorithm == "crc32":
        digest = zlib.crc32(data).to_bytes(4, "big")
    else:
        digest = hashlib.new(algorithm, data).digest()
    return f"{algorithm} {base64.b64encode(digest).decode()}"


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha256", "crc32"])
def test_matching_checksum_is_accepted(client: httpx.Client, algorithm: str) -> None:
    location = create(client, 6).headers["Location"]
    r = patch(client, location, 0, b"abcdef", **{"Upload-Checksum": _checksum(algorithm, b"abcdef")})
    assert r.status_code == 204
    assert r.headers["Upload-Offset"] == "6"


def test_checksum_mismatch_is_460_and_the_chunk_is_discarded(client: httpx.Client) -> None:
    created = create(client, 6)
    location = created.headers["Location"]
    assert patch(client, location, 0, b"abc").status_code == 204
    r = patch(client, location, 3, b"XYZ", **{"Upload-Checksum": _checksum("sha1", b"def")})
    assert r.status_code == 460
    assert client.head(location, headers=TUS).headers["Upload-Offset"] == "3"
    assert patch(client, location, 3, b"def", **{"Upload-Checksum": _checksum("sha1", b"def")}).status_code == 204
    r = blob(client, created.headers["Artifact-Urn"])
    assert r.content == b"abcdef"
    assert r.headers["ETag"] == f'"{sha256(b"abcdef")}"'  # the whole-upload digest survived the discarded chunk


@pytest.mark.parametrize("header", ["whirlpool abc=", "sha1", "sha1 not-base64!"])
def test_unknown_algorithm_or_malformed_checksum_is_400(client: httpx.Client, header: str) -> None:
    location = create(client, 3).headers["Location"]
    assert patch(client, location, 0, b"abc", **{"Upload-Checksum": header}).status_code == 400
    assert client.head(location, headers=TUS).headers["Upload-Offset"] == "0"


def test_termination(client: httpx.Client) -> None:
    location = create(client, 10).headers["Location"]
    patch(client, location, 0, b"abc")
    assert client.delete(location, headers=TUS).status_code == 204
    assert client.head(location, headers=TUS).status_code == 404
    assert patch(client, location, 3, b"def").status_code == 404
    assert client.delete(location, headers=TUS).status_code == 404


def test_method_override(client: httpx.Client) -> None:
    location = create(client, 3).headers["Location"]
    r = client.post(
        location, headers={**OCTETS, "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"}, content=b"abc"
    )
    assert r.status_code == 204
    assert r.headers["Upload-Offset"] == "3"
    other = create(client, 3).headers["Location"]
    assert client.post(other, headers={**TUS, "X-HTTP-Method-Override": "DELETE"}).status_code == 204
    assert client.head(other, headers=TUS).status_code == 404


def test_concatenation_of_partials_uploaded_in_any_order(client: httpx.Client) -> None:
    pieces = [os.urandom(70_000), os.urandom(1), os.urandom(123_457)]
    locations = [create(client, len(piece), **{"Upload-Concat": "partial"}).headers["Location"] for piece in pieces]
    for location, piece in reversed(list(zip(locations, pieces))):
        r = patch(client, location, 0, piece)
        assert r.status_code == 204
        assert "Artifact-Urn" not in r.headers  # a partial upload is not an artifact
    assert client.head(locations[0], headers=TUS).headers["Upload-Concat"] == "partial"
    relative = [re.sub(r"^http://[^/]+", "", location) for location in locations]
    final = client.post(
        "/v1/uploads",
        headers={
            **TUS,
            "Upload-Concat": "final;" + " ".join([locations[0], *relative[1:]]),
            "Upload-Metadata": metadata(filename="whole.bin"),
        },
    )
    assert final.status_code == 201, final.text
    head = client.head(final.headers["Location"], headers=TUS)
    assert head.headers["Upload-Concat"] == "final;" + " ".join(relative)
    assert head.headers["Upload-Length"] == head.headers["Upload-Offset"] == str(sum(map(len, pieces)))
    assert blob(client, final.headers["Artifact-Urn"]).content == b"".join(pieces)
    assert patch(client, final.headers["Location"], 0, b"x").status_code == 403  # a final upload takes no PATCH


def test_concatenation_refuses_unfinished_unknown_or_whole_uploads(client: httpx.Client) -> None:
    unfinished = create(client, 10, **{"Upload-Concat": "partial"}).headers["Location"]
    whole = create(client, 10).headers["Location"]
    for parts in [unfinished, whole]:
        r = client.post("/v1/uploads", headers={**TUS, "Upload-Concat": f"final;{parts}"})
        assert r.status_code == 400, parts
    for parts in ["/v1/uploads/" + "a" * 32, "/elsewhere/x"]:  # unknown: answered as HEAD on it would be
        r = client.post("/v1/uploads", headers={**TUS, "Upload-Concat": f"final;{parts}"})
        assert r.status_code == 404, parts
    r = client.post("/v1/uploads", headers={**TUS, "Upload-Concat": "final;", "Upload-Length": "3"})
    assert r.status_code == 400


def test_empty_upload_is_complete_at_creation(client: httpx.Client) -> None:
    r = create(client, 0)
    assert r.status_code == 201
    downloaded = blob(client, r.headers["Artifact-Urn"])
    assert downloaded.status_code == 200
    assert downloaded.content == b""


# ---- downloads ---------------------------------------------------------------------------------------


def test_blob_download_headers(client: httpx.Client) -> None:
    data = os.urandom(50_000)
    urn = upload(client, data, filename="weights.bin", content_type="application/x-model").headers["Artifact-Urn"]
    r = blob(client, urn)
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["Content-Length"] == str(len(data))
    assert r.headers["Content-Type"] == "application/x-model"
    assert r.headers["ETag"] == f'"{sha256(data)}"'
    assert "weights.bin" in r.headers["Content-Disposition"]
    head = client.head(f"/v1/artifacts/{urn}/blob")
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(data))
    assert head.content == b""


def test_filetype_metadata_and_guessing_set_the_content_type(client: httpx.Client) -> None:
    urn = upload(client, b"a,b\n", filename="t.bin", filetype="text/csv").headers["Artifact-Urn"]
    assert blob(client, urn).headers["Content-Type"].startswith("text/csv")
    urn = upload(client, b"{}", filename="doc.json").headers["Artifact-Urn"]
    assert blob(client, urn).headers["Content-Type"].startswith("application/json")


def test_blob_ranges(client: httpx.Client) -> None:
    data = bytes(range(256)) * 40
    urn = upload(client, data).headers["Artifact-Urn"]
    r = blob(client, urn, Range="bytes=10-19")
    assert r.status_code == 206
    assert r.content == data[10:20]
    assert r.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert blob(client, urn, Range="bytes=-5").content == data[-5:]
    assert blob(client, urn, Range="bytes=10000-").content == data[10000:]
    assert blob(client, urn, Range=f"bytes={len(data) + 10}-").status_code == 416


def test_blob_etag_revalidation(client: httpx.Client) -> None:
    urn = upload(client, b"cached").headers["Artifact-Urn"]
    etag = blob(client, urn).headers["ETag"]
    assert blob(client, urn, **{"If-None-Match": etag}).status_code == 304


def test_identical_bytes_are_stored_once(client: httpx.Client, server: FabricServer) -> None:
    data = os.urandom(20_000)
    first = upload(client, data).headers["Artifact-Urn"]
    second = upload(client, data).headers["Artifact-Urn"]
    assert first != second
    assert len(stored_blobs(server, sha256(data))) == 1
    assert blob(client, first).content == blob(client, second).content == data


def test_blob_of_unknown_malformed_or_unfinished_artifacts(client: httpx.Client) -> None:
    assert blob(client, "urn:fabric:artifact:00000000-0000-4000-8000-000000000000").status_code == 404
    for bad in ["not-a-urn", "urn:fabric:order:1234", "urn:fabric"]:
        r = blob(client, bad)
        assert r.status_code == 400, bad
        assert r.headers["Content-Type"] == "application/problem+json"
    pending = create(client, SMALL_UPLOAD + 1).headers["Artifact-Urn"]
    assert blob(client, pending).status_code == 409
    unknown_yet = create(client, 10).headers["Artifact-Urn"]  # a small upload's node comes with its bytes
    assert blob(client, unknown_yet).status_code == 404


def test_health_and_readiness(client: httpx.Client, server: FabricServer) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    storage = "s3" if "FABRIC_S3_BUCKET" in server.env else "disk"
    assert ready.json()["checks"] == {"graph": "ok", storage: "ok"}


# ---- expiration ----------------------------------------------------------------------------------------


def test_expired_uploads_answer_410_then_are_swept_to_404(tmp_path: Path) -> None:
    # First with a sweeper that cannot have run yet, so the 410 is not a race with it; then a server on the same
    # data dir whose sweeper runs at once.
    with (
        FabricServer(tmp_path / "data", args=["--upload-expiry", "1", "--sweep-interval", "3600"]) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        created = create(client, 10)
        location = created.headers["Location"]
        upload_id = location.rsplit("/", 1)[1]
        time.sleep(1.3)
        assert client.head(location, headers=TUS).status_code == 410
        assert patch(client, location, 0, b"abc").status_code == 410
    with (
        FabricServer(tmp_path / "data", args=["--upload-expiry", "1", "--sweep-interval", "0.2"]) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        path = f"/v1/uploads/{upload_id}"  # the new server listens on another port
        deadline = time.monotonic() + 30
        while client.head(path, headers=TUS).status_code != 404 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert client.head(path, headers=TUS).status_code == 404
        assert not (server.data_dir / "uploads" / upload_id).exists()
