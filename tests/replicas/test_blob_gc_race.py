"""Garbage collection on one replica racing a completion that references the same blob on another.

Two `RedisCoordination`s stand for two replicas (real Redis); the blobs live in a real S3 server; the graph is
LadybugDB and Neo4j (the same suite on both).
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aspects import AspectStore
from fabric.coordination import RedisCoordination
from fabric.ingest import artifact_content, register_artifact
from fabric.maintenance import collect_garbage
from fabric.s3 import S3Location
from fabric.s3_blobs import S3BlobStore
from tests.fixtures_services import S3Target

UPLOADER = "urn:fabric:user:gc@example.org"


def put_blob(blobs: S3BlobStore, tmp_path: Path, data: bytes) -> str:
    sha256 = hashlib.sha256(data).hexdigest()
    source = tmp_path / sha256
    source.write_bytes(data)
    blobs.ingest(source, sha256)
    return sha256


def test_gc_never_removes_a_blob_another_replica_is_referencing(
    store: AspectStore,
    s3_target: S3Target,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in s3_target.env().items():
        monkeypatch.setenv(name, value)
    blobs = S3BlobStore(S3Location(s3_target.endpoint, s3_target.bucket, path_style=True))
    wanted = put_blob(blobs, tmp_path, b"an old blob that a new upload has again")
    orphan = put_blob(blobs, tmp_path, b"a blob nobody names")
    completing, collecting = RedisCoordination(redis_url, redis_prefix), RedisCoordination(redis_url, redis_prefix)
    urn = "urn:fabric:artifact:01JGCRACE0000000000000000A"
    store.create_artifact(urn, name="again.bin", uploader=UPLOADER)

    holding = threading.Event()

    def completion() -> None:
        """What a completion does on its replica: find the blob there, then name it in the graph."""
        with completing.blob(wanted):
            holding.set()
            assert blobs.exists(wanted)
            time.sleep(1.0)  # the collection on the other replica runs meanwhile
            content = artifact_content(
                name="again.bin",
                mime_type="application/octet-stream",
                size=40,
                md5=None,
                sha256=wanted,
                location=blobs.location(wanted),
                created=datetime.now(UTC),
                uploader=UPLOADER,
            )
            register_artifact(store, urn, content, {}, asserter=UPLOADER)

    thread = threading.Thread(target=completion)
    thread.start()
    assert holding.wait(10)
    removed = collect_garbage(store, blobs, grace=0, coordination=collecting)  # every blob is past the grace
    thread.join(10)
    assert removed == [orphan]
    assert blobs.exists(wanted)
    assert not blobs.exists(orphan)
