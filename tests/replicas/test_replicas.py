"""Three `fabric serve` replicas sharing Neo4j, versitygw and Redis behind HAProxy (round robin, no stickiness).

Every part is real: the replicas are processes, the balancer is Debian's HAProxy started by scripts/balancer,
the S3 server and Redis run from scripts/ too. The cluster has its own Redis and S3 server so that restarting
them does not disturb other tests.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from fabric.auth.tokens import Principal, mint_token
from tests.fixtures_services import S3_ACCESS_KEY, S3_SECRET_KEY, ScriptService
from tests.replicas.compose import replica_environment
from tests.server_process import FabricServer

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}
MiB = 1 << 20
pytestmark = pytest.mark.slow  # tens of MiB through real services; still run by make test
TOKEN_KEY = "replica-test-signing-key-0123456789abcdef"


@dataclass
class Cluster:
    replicas: list[FabricServer]
    balancer: ScriptService
    redis: ScriptService
    s3: ScriptService

    @property
    def url(self) -> str:
        return self.balancer.url

    def client(self) -> httpx.Client:
        """A client of the balancer with a token signed by the stack's FABRIC_TOKEN_KEY (auth is on, as deployed)."""
        token = mint_token(TOKEN_KEY.encode(), Principal(email="replicas@example.org", org="example"))
        return httpx.Client(base_url=self.url, timeout=60, headers={"Authorization": f"Bearer {token}"})

    def serving_patch(self) -> FabricServer | None:
        """The replica with a client connection open right now (the one receiving a PATCH)."""
        for replica in self.replicas:
            if replica.process is None or replica.process.poll() is not None:
                continue
            connections = psutil.Process(replica.process.pid).net_connections(kind="tcp")
            if any(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == replica.port for c in connections):
                return replica
        return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, neo4j_url: str) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    with (
        ScriptService("redis-server", str(root / "redis")) as redis,
        ScriptService("s3-server", str(root / "s3")) as s3,
    ):
        # The settings of docker-compose.yml's replicas, pointed at these services (the bucket is created by the
        # first replica, as in a fresh deployment).
        env = replica_environment(
            {"bolt://neo4j:7687": neo4j_url, "http://s3:7070": s3.url, "redis://redis:6379/0": redis.url},
            {
                "NEO4J_PASSWORD": "",
                "FABRIC_TOKEN_KEY": TOKEN_KEY,
                "S3_ACCESS_KEY": S3_ACCESS_KEY,
                "S3_SECRET_KEY": S3_SECRET_KEY,
            },
        )
        del env["FABRIC_HOST"], env["FABRIC_PORT"], env["FABRIC_DATA_DIR"]  # each replica its own port and dir
        env.update(FABRIC_NEO4J_USER="", FABRIC_NAMESPACE="cluster")  # the test Neo4j runs without auth
        replicas = [FabricServer(root / f"replica{n}", env=env) for n in range(3)]
        try:
            for replica in replicas:
                replica.start(timeout=120)
            backends = [f"127.0.0.1:{replica.port}" for replica in replicas]
            with ScriptService("balancer", *backends) as balancer:
                yield Cluster(replicas, balancer, redis, s3)
        finally:
            for replica in replicas:
                replica.stop()


def create(client: httpx.Client, length: int, name: str = "data.bin", metadata: str = "") -> tuple[str, str]:
    answer = client.post(
        "/v1/uploads",
        headers={
            **TUS,
            "Upload-Length": str(length),
            "Upload-Metadata": "filename " + base64.b64encode(name.encode()).decode() + metadata,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.headers["Location"], answer.headers["Artifact-Urn"]


def offset_of(client: httpx.Client, location: str) -> int:
    answer = client.head(location, headers=TUS)
    assert answer.status_code == 200, answer.text
    return int(answer.headers["Upload-Offset"])


def finish(client: httpx.Client, location: str, data: bytes) -> None:
    """Send what the server does not have yet, resuming after any failure (as a tus client does: a 503 while a
    part of the stack restarts, or a cut connection, means HEAD again a little later)."""
    for _ in range(40):
        try:
            answer = client.head(location, headers=TUS)
        except httpx.HTTPError:
            answer = None
        if answer is None or answer.status_code != 200:
            time.sleep(0.5)
            continue
        offset = int(answer.headers["Upload-Offset"])
        if offset == len(data):
            return
        try:
            answer = client.patch(location, content=data[offset:], headers={**OCTETS, "Upload-Offset": str(offset)})
            if answer.status_code == 204:
                continue
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("the upload did not finish")


def download(client: httpx.Client, urn: str) -> bytes:
    for _ in range(50):
        answer = client.get(f"/v1/artifacts/{urn}/blob")
        if answer.status_code == 200:
            return answer.content
        time.sleep(0.2)  # the completion may still be registering
    raise AssertionError(f"no bytes for {urn}: {answer.status_code} {answer.text}")


def slow_body(data: bytes, chunk: int = 256 << 10, pause: float = 0.02) -> Iterator[bytes]:
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]
        time.sleep(pause)


def patch_in_background(cluster: Cluster, location: str, offset: int, body: Iterator[bytes]) -> threading.Thread:
    def run() -> None:
        try:
            with cluster.client() as client:
                client.patch(location, content=body, headers={**OCTETS, "Upload-Offset": str(offset)})
        except httpx.HTTPError:
            pass  # cut off: what the server kept is what HEAD says

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def patches_per_replica(cluster: Cluster) -> list[int]:
    return [replica.log_path.read_text(errors="replace").count(" PATCH /v1/uploads/") for replica in cluster.replicas]


def test_patches_land_on_different_replicas_and_the_bytes_and_digests_are_exact(cluster: Cluster) -> None:
    data = os.urandom(12 * MiB + 17)
    before = patches_per_replica(cluster)
    with cluster.client() as client:
        location, urn = create(client, len(data), metadata=",md5")  # its running md5 is rebuilt on each replica
        for start in range(0, len(data), 3 * MiB):
            piece = data[start : start + 3 * MiB]
            answer = client.patch(location, content=piece, headers={**OCTETS, "Upload-Offset": str(start)})
            assert answer.status_code == 204, answer.text
        after = patches_per_replica(cluster)
        assert sum(1 for b, a in zip(before, after) if a > b) >= 2, (before, after)
        assert download(client, urn) == data
        artifact = client.get(f"/v1/artifacts/{urn}").json()
        assert hashlib.sha256(data).hexdigest() in str(artifact)
        assert hashlib.md5(data).hexdigest() in str(artifact)


def test_sigkill_of_the_replica_serving_a_patch_then_resume_through_the_balancer(cluster: Cluster) -> None:
    data = os.urandom(24 * MiB)
    with cluster.client() as client:
        location, urn = create(client, len(data))
        thread = patch_in_background(cluster, location, 0, slow_body(data))
        victim = None
        deadline = time.monotonic() + 20
        while victim is None and time.monotonic() < deadline:
            time.sleep(0.3)
            victim = cluster.serving_patch()
        assert victim is not None, "no replica was receiving the PATCH"
        time.sleep(1.0)  # some parts reach S3
        victim.kill()
        thread.join(30)
        try:
            finish(client, location, data)  # the dead replica's lock expires; another replica takes over
            assert download(client, urn) == data
        finally:
            victim.start(timeout=120)


def test_two_clients_on_one_upload_through_two_replicas_never_interleave(cluster: Cluster) -> None:
    size = 16 * MiB
    first, second = b"A" * size, b"B" * size
    with cluster.client() as client:
        location, urn = create(client, size)
        old = patch_in_background(cluster, location, 0, slow_body(first, pause=0.05))
        time.sleep(1.5)
        new = patch_in_background(cluster, location, 0, slow_body(second, pause=0.0))  # lands on another replica
        old.join(60)
        new.join(60)
        kept = offset_of(client, location)
        finish(client, location, b"?" * size)  # neither client finishes: a third completes the upload
        stored = download(client, urn)
    prefix = stored[:kept]
    assert prefix in (first[:kept], second[:kept]), "bytes of two requests interleaved"
    assert stored[kept:] == b"?" * (size - kept)


def test_redis_restarted_mid_upload(cluster: Cluster) -> None:
    data = os.urandom(16 * MiB)
    with cluster.client() as client:
        location, urn = create(client, len(data))
        thread = patch_in_background(cluster, location, 0, slow_body(data))
        time.sleep(1.0)
        cluster.redis.restart()  # forgets every lock
        thread.join(60)
        finish(client, location, data)
        assert download(client, urn) == data


def test_s3_server_restarted_mid_upload(cluster: Cluster) -> None:
    data = os.urandom(16 * MiB)
    with cluster.client() as client:
        location, urn = create(client, len(data))
        thread = patch_in_background(cluster, location, 0, slow_body(data))
        time.sleep(1.0)
        cluster.s3.restart()
        thread.join(60)
        finish(client, location, data)
        assert download(client, urn) == data


def test_readiness_reports_s3(cluster: Cluster, tmp_path: Path) -> None:
    answer = httpx.get(f"{cluster.replicas[0].url}/readyz", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["checks"] == {"graph": "ok", "s3": "ok"}


def test_a_sign_in_code_made_by_one_replica_is_redeemed_once_on_another(cluster: Cluster) -> None:
    with cluster.client() as client:
        token = client.headers["Authorization"].split()[1]
        issued = httpx.post(f"{cluster.replicas[0].url}/v1/auth/codes", headers=client.headers, timeout=30)
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]

    exchanged = httpx.post(f"{cluster.replicas[1].url}/v1/auth/exchange", json={"code": code}, timeout=30)
    assert exchanged.status_code == 200, exchanged.text
    assert exchanged.json() == {"token": token}
    for replica in cluster.replicas:  # used: no replica takes it again, the one that made it neither
        again = httpx.post(f"{replica.url}/v1/auth/exchange", json={"code": code}, timeout=30)
        assert again.status_code == 400
        assert again.headers["content-type"] == "application/problem+json"


def test_a_sign_in_code_raced_on_three_replicas_is_taken_once(cluster: Cluster) -> None:
    with cluster.client() as client:
        issued = client.post("/v1/auth/codes")
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]
    start = threading.Barrier(len(cluster.replicas))
    statuses: list[int] = []

    def redeem(replica: FabricServer) -> None:
        start.wait(30)
        statuses.append(httpx.post(f"{replica.url}/v1/auth/exchange", json={"code": code}, timeout=30).status_code)

    threads = [threading.Thread(target=redeem, args=(replica,)) for replica in cluster.replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [200, 400, 400]
