"""`fabric serve --workers N` on one machine: the file store with lock files, the graph on a real Neo4j."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from tests.replicas.test_replicas import OCTETS, create, download, finish, offset_of
from tests.server_process import FabricServer

MiB = 1 << 20
pytestmark = pytest.mark.slow  # tens of MiB through real services; still run by make test


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory, neo4j_url: str) -> Iterator[FabricServer]:
    args = ["--workers", "2", "--graph-url", neo4j_url, "--namespace", "workers"]
    server = FabricServer(tmp_path_factory.mktemp("workers") / "data", args=args)
    server.start(timeout=240)  # recovery, then two workers each importing the app
    try:
        yield server
    finally:
        server.stop()


def test_two_worker_processes_serve(workers: FabricServer) -> None:
    assert workers.process is not None
    deadline = time.monotonic() + 30
    while len(psutil.Process(workers.process.pid).children(recursive=True)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    names = [child.cmdline() for child in psutil.Process(workers.process.pid).children(recursive=True)]
    assert len(names) >= 2, names


def test_concurrent_uploads_across_workers_are_exact(workers: FabricServer) -> None:
    payloads = [os.urandom(2 * MiB + n) for n in range(6)]
    results: dict[int, bytes] = {}

    def one(index: int) -> None:
        data = payloads[index]
        with httpx.Client(base_url=workers.url, timeout=60) as client:
            location, urn = create(client, len(data))
            for start in (0, MiB):
                end = len(data) if start else MiB
                answer = client.patch(
                    location, content=data[start:end], headers={**OCTETS, "Upload-Offset": str(start)}
                )
                assert answer.status_code == 204, answer.text
            results[index] = download(client, urn)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(len(payloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [results.get(n) for n in range(len(payloads))] == payloads


def test_a_second_request_takes_over_whichever_worker_holds_the_upload(workers: FabricServer) -> None:
    """The old request's body would go on for at least 48 s and the take-over waits 10 s at most for the lock, so
    only the release file (the holder's watcher stops its receiving) explains a 409 rather than a 423."""
    size = 12 * MiB
    taken = threading.Event()

    def endless_old_body() -> Iterator[bytes]:
        for _ in range(size // (64 << 10)):
            yield b"A" * (64 << 10)
            taken.wait(0.25)

    with httpx.Client(base_url=workers.url, timeout=60) as client:
        location, urn = create(client, size)
        receiving = workers.data_dir / "locks" / f"{location.rstrip('/').rsplit('/', 1)[-1]}.receiving"

        def old() -> None:
            try:
                with httpx.Client(base_url=workers.url, timeout=60) as other:
                    other.patch(location, content=endless_old_body(), headers={**OCTETS, "Upload-Offset": "0"})
            except httpx.HTTPError:
                pass

        thread = threading.Thread(target=old)
        thread.start()
        deadline = time.monotonic() + 60
        while not receiving.exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # a worker holds the upload and reads the old body
        assert receiving.exists()
        answer = client.patch(location, content=b"B" * MiB, headers={**OCTETS, "Upload-Offset": "0"})
        taken.set()
        thread.join(60)
        assert answer.status_code == 409, answer.text  # it took the upload over; the offset had moved on
        kept = offset_of(client, location)
        assert 0 < kept < size  # the old request was stopped in the middle of its body
        finish(client, location, b"A" * kept + b"?" * (size - kept))
        stored = download(client, urn)
    assert stored == b"A" * kept + b"?" * (size - kept)
