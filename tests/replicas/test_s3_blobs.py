"""Blobs in a real S3-compatible server (versitygw): `fabric serve --s3-endpoint --s3-bucket`.

Uploads go through tus as usual; the finished bytes land in the bucket under their sha256, once per content;
downloads stream from the bucket with Range, or redirect to a presigned URL with --blob-redirect.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import httpx
import pytest
from botocore.config import Config

from fabric.s3 import S3Location
from fabric.s3_blobs import S3BlobStore
from tests.fixtures_services import S3Target
from tests.replicas.test_s3_upload_store import Operations
from tests.server_process import FabricServer
from tus_server import CompletedUpload, UploadInfo
from tus_server.file_store import FileUploadStore
from tus_server.s3_store import S3UploadStore

TUS = {"Tus-Resumable": "1.0.0"}


def s3_client(target: S3Target):  # type: ignore[no-untyped-def]
    return botocore.session.get_session().create_client(
        "s3",
        endpoint_url=target.endpoint,
        region_name="us-east-1",
        aws_access_key_id=target.access_key,
        aws_secret_access_key=target.secret_key,
        config=Config(s3={"addressing_style": "path"}),
    )


def keys(target: S3Target) -> list[str]:
    answer = s3_client(target).list_objects_v2(Bucket=target.bucket)
    return sorted(item["Key"] for item in answer.get("Contents", []))


def upload(base: str, data: bytes, name: str) -> str:
    """A whole tus upload in two PATCHes; returns the artifact URN."""
    with httpx.Client(base_url=base, timeout=60) as http:
        created = http.post(
            "/v1/uploads",
            headers={**TUS, "Upload-Length": str(len(data)), "Upload-Metadata": "filename " + _b64(name)},
        )
        assert created.status_code == 201, created.text
        location = created.headers["Location"]
        half = len(data) // 2
        for offset, chunk in ((0, data[:half]), (half, data[half:])):
            patched = http.patch(
                location,
                content=chunk,
                headers={**TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"},
            )
            assert patched.status_code == 204, patched.text
        return created.headers["Artifact-Urn"]


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def s3_server(tmp_path: Path, s3_target: S3Target) -> Iterator[FabricServer]:
    with FabricServer(tmp_path / "data", env=s3_target.env()) as server:
        yield server


def test_blobs_are_stored_once_in_the_bucket_and_stream_back_with_ranges(
    s3_server: FabricServer, s3_target: S3Target
) -> None:
    data = os.urandom(3 << 20)
    first = upload(s3_server.url, data, "a.bin")
    second = upload(s3_server.url, data, "b.bin")
    assert first != second
    sha256 = hashlib.sha256(data).hexdigest()
    stored = keys(s3_target)
    blob_key = f"blobs/sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"
    assert [key for key in stored if key.startswith("blobs/")] == [blob_key]
    # the first upload's object is the blob (referenced, not copied); the second's bytes and all tails are gone
    referenced = s3_client(s3_target).head_object(Bucket=s3_target.bucket, Key=blob_key)["Metadata"]["fabric-object"]
    uploads = [key for key in stored if key.startswith("uploads/")]
    assert referenced in uploads
    assert len(uploads) == 3 and sum(key.endswith(".info") for key in uploads) == 2
    assert not list(s3_server.data_dir.rglob("*" + sha256))  # nothing kept on local disk

    with httpx.Client(base_url=s3_server.url, timeout=60) as http:
        whole = http.get(f"/v1/artifacts/{second}/blob")
        assert whole.status_code == 200
        assert whole.content == data
        assert whole.headers["etag"] == f'"{sha256}"'
        assert "b.bin" in whole.headers["content-disposition"]

        part = http.get(f"/v1/artifacts/{first}/blob", headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206
        assert part.content == data[1000:2000]
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"

        tail = http.get(f"/v1/artifacts/{first}/blob", headers={"Range": "bytes=-10"})
        assert (tail.status_code, tail.content) == (206, data[-10:])

        beyond = http.get(f"/v1/artifacts/{first}/blob", headers={"Range": f"bytes={len(data) + 5}-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-type"] == "application/problem+json"
        assert beyond.headers["content-range"] == f"bytes */{len(data)}"

        head = http.head(f"/v1/artifacts/{first}/blob")
        assert (head.status_code, head.headers["content-length"]) == (200, str(len(data)))


def test_blob_redirect_answers_with_a_presigned_url(tmp_path: Path, s3_target: S3Target) -> None:
    env = {**s3_target.env(), "FABRIC_BLOB_REDIRECT": "true"}
    with FabricServer(tmp_path / "data", env=env) as server:
        data = os.urandom(100_000)
        urn = upload(server.url, data, "c.bin")
        with httpx.Client(base_url=server.url, timeout=60) as http:
            answer = http.get(f"/v1/artifacts/{urn}/blob")
            assert answer.status_code == 307
            url = answer.headers["location"]
            assert url.startswith(s3_target.endpoint) and "X-Amz-Signature=" in url
            fetched = httpx.get(url, timeout=60)
            assert fetched.status_code == 200
            assert fetched.content == data


def test_large_files_go_in_parts_without_reading_a_part_whole(
    tmp_path: Path, s3_target: S3Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_target.env().items():
        monkeypatch.setenv(name, value)
    store = S3BlobStore(
        S3Location(s3_target.endpoint, s3_target.bucket, path_style=True, prefix="p/"), part_size=5 << 20
    )
    data = os.urandom((11 << 20) + 123)
    sha256 = hashlib.sha256(data).hexdigest()
    source = tmp_path / "upload"
    source.write_bytes(data)
    store.ingest(source, sha256)
    assert not source.exists()
    assert list(store.hashes()) == [sha256]
    age = store.age_seconds(sha256)
    assert age is not None and age < 600
    body = s3_client(s3_target).get_object(Bucket=s3_target.bucket, Key=store.key(sha256))["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha256
    store.delete(sha256)
    assert store.age_seconds(sha256) is None and list(store.hashes()) == []


def test_an_upload_from_another_store_streams_in_parts_and_a_failed_part_leaves_nothing(
    tmp_path: Path, s3_target: S3Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a store that is not the bucket's (the file store here), the bytes go in read block by block, in parts
    of `part_size`; if a part fails, the multipart upload is aborted and neither a blob nor a part is left."""
    for name, value in s3_target.env().items():
        monkeypatch.setenv(name, value)
    store = S3BlobStore(
        S3Location(s3_target.endpoint, s3_target.bucket, path_style=True, prefix=f"{uuid.uuid4().hex}/"),
        part_size=5 << 20,
    )
    uploads = FileUploadStore(tmp_path / "uploads")
    data = os.urandom((11 << 20) + 7)
    sha256 = hashlib.sha256(data).hexdigest()
    info = UploadInfo(id=uuid.uuid4().hex, length=len(data), offset=len(data), sha256=sha256)
    uploads.create_completed(info, [data])

    failing = S3BlobStore(store.s3, part_size=5 << 20)
    real_upload_part = failing._client.upload_part
    sent: list[int] = []

    def upload_part(**kwargs: object) -> object:
        sent.append(int(kwargs["PartNumber"]))  # type: ignore[call-overload]
        if kwargs["PartNumber"] == 2:
            raise OSError("the network went away")
        return real_upload_part(**kwargs)

    monkeypatch.setattr(failing._client, "upload_part", upload_part)
    with pytest.raises(OSError, match="network"):
        failing.ingest_upload(CompletedUpload(info, uploads), sha256)
    assert sent == [1, 2] and list(store.hashes()) == []
    client = s3_client(s3_target)
    assert client.list_multipart_uploads(Bucket=s3_target.bucket, Prefix=store.s3.prefix).get("Uploads", []) == []
    assert uploads.data_path(info.id).read_bytes() == data  # the upload keeps its bytes for the next try

    store.ingest_upload(CompletedUpload(info, uploads), sha256)
    assert list(store.hashes()) == [sha256] and not uploads.data_path(info.id).exists()
    body = client.get_object(Bucket=s3_target.bucket, Key=store.key(sha256))["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha256


def test_a_finished_s3_upload_becomes_its_blob_without_a_copy_and_goes_with_it(
    s3_target: S3Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_target.env().items():
        monkeypatch.setenv(name, value)
    location = S3Location(s3_target.endpoint, s3_target.bucket, path_style=True, prefix="r/")
    uploads, blobs = S3UploadStore(location.client(), location.bucket, location.prefix), S3BlobStore(location)
    data = os.urandom(6 << 20)
    sha256 = hashlib.sha256(data).hexdigest()

    def finished_upload() -> UploadInfo:
        info = UploadInfo(id=uuid.uuid4().hex, length=len(data))
        uploads.create(info)
        writer = uploads.writer(info.id, 0)
        writer.expect(len(data))
        writer.write([data])
        writer.sync()
        writer.close()
        info.offset = len(data)
        uploads.save(info)
        uploads.finish(info)
        return info

    first, second = finished_upload(), finished_upload()
    operations = Operations(blobs._client)
    blobs.ingest_upload(CompletedUpload(first, uploads), sha256)
    blobs.ingest_upload(CompletedUpload(first, uploads), sha256)  # a repeat after a crash changes nothing
    blobs.ingest_upload(CompletedUpload(second, uploads), sha256)  # the same content again: stored once
    assert not operations.counts["CopyObject"] and not operations.counts["UploadPart"]
    uploads.terminate(first.id)  # the upload expires: its object is the blob now and stays
    uploads.terminate(second.id)
    blob_objects = [key for key in keys(s3_target) if key.startswith("r/")]
    assert blob_objects == sorted([blobs.key(sha256), uploads.object_key(first.id)])
    stored = s3_client(s3_target).get_object(Bucket=s3_target.bucket, Key=uploads.object_key(first.id))
    assert stored["Body"].read() == data and blobs.exists(sha256)

    blobs.delete(sha256)  # garbage collection: the reference and the object it names
    assert not [key for key in keys(s3_target) if key.startswith("r/")]
