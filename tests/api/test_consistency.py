"""Blobs, uploads and the graph stay consistent: abandoned uploads, start-up reconciliation, blob garbage
collection, and a graph backend that goes away and comes back. On each backend."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from fabric.ingest import SMALL_UPLOAD
from tests.fixtures_backends import wipe_neo4j
from tests.fixtures_neo4j import Neo4jServer, free_port
from tests.server_process import FabricServer
from tests.tus.helpers import TUS, blob, create, patch, upload

ServerFactory = Callable[..., FabricServer]
LISTED = SMALL_UPLOAD + 1  # an upload this long has a pending artifact from its creation on


@pytest.fixture
def make_server(graph_url: str | None, tmp_path: Path) -> Iterator[ServerFactory]:
    """Servers on one data dir (and one graph, wiped for each test), started with extra arguments; all stopped at
    the end. Real processes: these tests kill and restart them."""
    graph_args: list[str] = []
    if graph_url is not None:
        wipe_neo4j(graph_url)
        graph_args = ["--graph-url", graph_url]
    started: list[FabricServer] = []
    port = free_port()

    def factory(*args: str) -> FabricServer:
        server = FabricServer(tmp_path / "data", port=port, args=[*graph_args, *args])
        started.append(server)
        return server.start()

    yield factory
    for server in started:
        server.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def counter(client: httpx.Client, name: str) -> float:
    """A counter's value from the server's own /metrics (the maintenance loop's seam for tests)."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")


def maintenance_runs(client: httpx.Client) -> float:
    return counter(client, "fabric_maintenance_runs_total")


def status_of(client: httpx.Client, urn: str) -> str:
    return client.get(f"/v1/artifacts/{urn}").json()["status"]


def test_terminated_upload_leaves_an_abandoned_artifact(make_server: ServerFactory) -> None:
    server = make_server()
    with httpx.Client(base_url=server.url) as client:
        created = create(client, LISTED)
        assert client.delete(created.headers["Location"], headers=TUS).status_code == 204
        assert status_of(client, created.headers["Artifact-Urn"]) == "abandoned"
        listed = client.get("/v1/artifacts", params={"status": "abandoned"}).json()["items"]
        assert created.headers["Artifact-Urn"] in {a["urn"] for a in listed}


def test_start_up_abandons_artifacts_whose_upload_vanished(make_server: ServerFactory) -> None:
    server = make_server()
    with httpx.Client(base_url=server.url) as client:
        kept = create(client, LISTED)
        lost = create(client, LISTED)
    server.kill()
    lost_id = lost.headers["Location"].rsplit("/", 1)[1]
    for path in (server.data_dir / "uploads").glob(f"{lost_id}*"):
        path.unlink()  # as if the server died after sweeping the upload and before telling the graph
    server = make_server()
    with httpx.Client(base_url=server.url) as client:
        assert wait_for(lambda: status_of(client, lost.headers["Artifact-Urn"]) == "abandoned")
        assert status_of(client, kept.headers["Artifact-Urn"]) == "pending"
        assert patch(client, httpx.URL(kept.headers["Location"]).path, 0, os.urandom(LISTED)).status_code == 204
        assert status_of(client, kept.headers["Artifact-Urn"]) == "ready"


def test_uploads_of_stored_bytes_are_counted_as_deduplicated(make_server: ServerFactory) -> None:
    """Small uploads complete in batches (the PATCH's and the creation-with-upload's lanes): bytes already
    stored are counted once per upload that brought them again, and stored once."""
    server = make_server()
    data = os.urandom(4096)
    with httpx.Client(base_url=server.url) as client:
        before = counter(client, "fabric_blobs_deduplicated_total")
        first = upload(client, data).headers["Artifact-Urn"]  # POST, then the PATCH that completes it
        headers = {**TUS, "Upload-Length": str(len(data)), "Content-Type": "application/offset+octet-stream"}
        again = client.post("/v1/uploads", headers=headers, content=data)  # creation-with-upload
        assert again.status_code == 201, again.text
        assert counter(client, "fabric_blobs_deduplicated_total") == before + 1
        assert blob(client, first).content == blob(client, again.headers["Artifact-Urn"]).content == data
    stored = list((server.data_dir / "blobs" / "sha256").glob(f"*/*/{hashlib.sha256(data).hexdigest()}"))
    assert len(stored) == 1


def test_unreferenced_blobs_are_collected_and_referenced_ones_kept(make_server: ServerFactory) -> None:
    server = make_server("--gc-interval", "0.3", "--blob-grace", "0")
    orphan = hashlib.sha256(b"nobody names me").hexdigest()
    orphan_path = server.data_dir / "blobs" / "sha256" / orphan[:2] / orphan[2:4] / orphan
    orphan_path.parent.mkdir(parents=True, exist_ok=True)
    orphan_path.write_bytes(b"nobody names me")
    data = os.urandom(1000)
    with httpx.Client(base_url=server.url) as client:
        urn = upload(client, data).headers["Artifact-Urn"]
        assert wait_for(lambda: not orphan_path.exists()), "the orphan blob was not collected"
        since = maintenance_runs(client)
        assert wait_for(lambda: maintenance_runs(client) >= since + 2), "the maintenance stopped running"
        assert blob(client, urn).content == data  # two whole collections ran after the upload: its blob is kept
        assert counter(client, "fabric_blobs_collected_total") == 1


def test_graph_backend_unavailable_then_back(tmp_path: Path) -> None:
    """Neo4j stops while an upload finishes: the bytes are kept, the server says it is not ready, and once the
    graph is back the completion is repeated at start-up and the artifact is whole."""
    neo4j = Neo4jServer(tmp_path / "neo4j", port=free_port())
    url = neo4j.start()
    server = FabricServer(tmp_path / "data", args=["--graph-url", url])
    server.start()
    data = os.urandom(3 << 20)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            created = create(client, len(data))
            location = httpx.URL(created.headers["Location"]).path
            assert patch(client, location, 0, data[: 1 << 20]).status_code == 204
            neo4j.stop()  # its data dir is ours, so it is kept
            finished = patch(client, location, 1 << 20, data[1 << 20 :])
            assert finished.status_code == 500
            assert finished.headers["Content-Type"] == "application/problem+json"
            assert client.head(location, headers=TUS).headers["Upload-Offset"] == str(len(data))
            assert client.get("/readyz").status_code == 503
        server.stop()
        neo4j.start()
        server.start()
        with httpx.Client(base_url=server.url, timeout=60) as client:
            assert wait_for(lambda: status_of(client, created.headers["Artifact-Urn"]) == "ready")
            assert blob(client, created.headers["Artifact-Urn"]).content == data
    finally:
        server.stop()
        neo4j.stop()
