"""kill -9 of the server during uploads: after a restart on the same data dir and port, every upload resumes
from an offset no greater than what was sent, never below what was acknowledged, and ends byte-exact.

The stored prefix is checked by finishing the upload from HEAD's offset and comparing the whole blob's sha256
with the source: a wrong byte anywhere before the offset would show there.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import Source, make_source
from tests.faults.rawhttp import RawRequest
from tests.faults.tus_ops import create, finish_and_verify, metadata, open_patch, patch_range
from tests.interop.support import (
    OCTETS,
    MiB,
    artifact_urn_of,
    assert_blob_equals,
    durable_offset,
    file_range,
    upload_path,
)
from tests.server_process import FabricServer

SLOW = 0.0005  # seconds between 64 KiB pieces: the PATCH is still streaming when the kill comes


def kill_and_restart(server: FabricServer, *open_requests: RawRequest) -> None:
    server.kill()
    for request in open_requests:
        request.close()
    server.start()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("size", "acknowledged", "kill_after"),
    [
        (32 * MiB, 0, 1 * MiB),
        (32 * MiB, 0, 9 * MiB),
        (32 * MiB, 0, 20 * MiB),
        (32 * MiB, 4 * MiB, 9 * MiB),
        (80 * MiB, 0, 72 * MiB),  # past the server's mid-body checkpoint (16 MiB today)
    ],
    ids=["32MiB-at-1MiB", "32MiB-at-9MiB", "32MiB-at-20MiB", "32MiB-at-4+9MiB", "80MiB-at-72MiB"],
)
def test_kill_mid_patch_resumes_from_a_durable_prefix(
    server: FabricServer, tmp_path: Path, size: int, acknowledged: int, kill_after: int
) -> None:
    source = make_source(tmp_path, size)
    url = create(server.url, source.size)
    if acknowledged:
        r = patch_range(server.url, url, source.path, 0, acknowledged)
        assert r.status_code == 204 and int(r.headers["Upload-Offset"]) == acknowledged, r.text

    request = open_patch(server.port, url, acknowledged, source.size - acknowledged)
    sent = request.send_file(source.path, acknowledged, kill_after, pause=SLOW)
    assert sent == kill_after, f"the PATCH stopped after {sent} bytes: {request.try_response(5)}"
    assert request.wait_acked(), "the server's kernel never took the bytes sent"
    kill_and_restart(server, request)

    offset = durable_offset(server.url, url)
    assert acknowledged <= offset <= acknowledged + sent, f"offset {offset} after sending {acknowledged}+{sent}"
    print(f"killed after {acknowledged}+{sent} bytes; resumed from {offset}")
    finish_and_verify(server.url, url, source.path, source.sha256, source.size)


@pytest.mark.slow
def test_kill_between_patches_keeps_every_acknowledged_byte(server: FabricServer, source32: Source) -> None:
    url = create(server.url, source32.size)
    for end in (10 * MiB, 21 * MiB):
        start = durable_offset(server.url, url)
        r = patch_range(server.url, url, source32.path, start, end)
        assert r.status_code == 204 and int(r.headers["Upload-Offset"]) == end, r.text
        kill_and_restart(server)
        assert durable_offset(server.url, url) == end, "an acknowledged offset did not survive kill -9"
    finish_and_verify(server.url, url, source32.path, source32.sha256, source32.size)

    kill_and_restart(server)  # a finished upload stays finished, its artifact readable
    assert durable_offset(server.url, url) == source32.size
    assert_blob_equals(server.url, artifact_urn_of(server.url, url), source32.sha256, source32.size)


@pytest.mark.slow
def test_kill_during_creation_with_upload(server: FabricServer, source32: Source) -> None:
    """The client never saw a Location; the upload is found by the one id in the uploads dir and resumed."""
    uploads = server.data_dir / "uploads"
    before = {path.stem for path in uploads.glob("*.info")}
    request = RawRequest(
        server.port,
        "POST",
        "/v1/uploads",
        {
            **OCTETS,
            "Upload-Length": str(source32.size),
            "Upload-Metadata": metadata(filename="created-with-upload.bin"),
        },
        source32.size,
    )
    sent = request.send_file(source32.path, 0, 6 * MiB, pause=SLOW)
    assert sent == 6 * MiB, f"the POST stopped after {sent} bytes: {request.try_response(5)}"
    assert request.wait_acked()
    kill_and_restart(server, request)

    created = {path.stem for path in uploads.glob("*.info")} - before
    assert len(created) == 1, f"expected one upload created by the interrupted POST, found {sorted(created)}"
    url = f"{server.url}/v1/uploads/{created.pop()}"
    upload_path(url)
    offset = durable_offset(server.url, url)
    assert 0 <= offset <= sent
    finish_and_verify(server.url, url, source32.path, source32.sha256, source32.size)


@pytest.mark.slow
def test_kill_mid_patch_with_checksum_keeps_none_of_its_body(server: FabricServer, source32: Source) -> None:
    """A body with Upload-Checksum is all or nothing: after a kill mid-body the offset is where it began."""
    url = create(server.url, source32.size)
    r = patch_range(server.url, url, source32.path, 0, 4 * MiB)
    assert r.status_code == 204, r.text
    digest = hashlib.sha256()
    for block in file_range(source32.path, 4 * MiB, source32.size):
        digest.update(block)
    request = RawRequest(
        server.port,
        "PATCH",
        upload_path(url),
        {
            **OCTETS,
            "Upload-Offset": str(4 * MiB),
            "Upload-Checksum": "sha256 " + base64.b64encode(digest.digest()).decode(),
        },
        source32.size - 4 * MiB,
    )
    assert request.send_file(source32.path, 4 * MiB, 16 * MiB, pause=SLOW) == 16 * MiB
    assert request.wait_acked()
    kill_and_restart(server, request)

    assert durable_offset(server.url, url) == 4 * MiB, "part of a checksummed body was kept"
    finish_and_verify(server.url, url, source32.path, source32.sha256, source32.size)


def test_kill_during_a_stream_of_small_creations_with_upload(server: FabricServer) -> None:
    """Eight clients send 4 KiB POSTs, each with its whole body, as fast as they are answered (the server stores
    and completes them in batches); the server is killed in the middle. After the restart every upload that was
    answered 201 is a ready artifact with its own bytes, and what the kill cut short is gone or complete: the
    server starts whatever a batch left half-written (bytes without an info, an info without its mark)."""
    answered: dict[str, bytes] = {}
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            i = 0
            while not stop.is_set():
                body = hashlib.sha256(f"{n}-{i}".encode()).digest() * 128
                i += 1
                headers = {**OCTETS, "Upload-Length": str(len(body)), "Upload-Metadata": metadata(filename="s.bin")}
                try:
                    r = http.post("/v1/uploads", headers=headers, content=body)
                except httpx.HTTPError:
                    return  # the kill
                if r.status_code == 201:
                    answered[r.headers["Artifact-Urn"]] = body

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while len(answered) < 150 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(30)
    assert len(answered) >= 150
    server.start()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for urn, body in answered.items():
            artifact = http.get(f"/v1/artifacts/{urn}").json()
            assert (artifact["status"], artifact["sha256"]) == ("ready", hashlib.sha256(body).hexdigest()), urn
            assert http.get(f"/v1/artifacts/{urn}/blob").content == body
        pending = http.get("/v1/artifacts", params={"status": "pending", "limit": 100}).json()["items"]
        assert pending == []  # a creation-with-upload is written to the graph only once complete
