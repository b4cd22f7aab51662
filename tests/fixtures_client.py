"""Fixtures of the client tests: a real server behind a counting/cutting proxy, and a `fab` in each mode."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fabric.client import Fabric
from tests.client.proxy import CountingProxy
from tests.server_process import FabricServer

MODES = ["local", "platform"]


@pytest.fixture(scope="session")
def client_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FabricServer]:
    """One real `fabric serve` for the client tests that do not kill it."""
    with FabricServer(tmp_path_factory.mktemp("client-server") / "data") as server:
        yield server


@pytest.fixture
def proxy(client_server: FabricServer) -> Iterator[CountingProxy]:
    running = CountingProxy(client_server.port)
    yield running
    running.close()


@pytest.fixture(autouse=True)
def _no_fabric_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No server, token or login of the developer's leaks into a test: the login file is a fresh path."""
    for name in ("FABRIC_URL", "FABRIC_TOKEN", "FABRIC_LOCAL_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FABRIC_CONFIG", str(tmp_path_factory.mktemp("config") / "login.json"))


@pytest.fixture(params=MODES)
def fab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fabric]:
    """A client in local mode (its own base dir) or platform mode (the real server, through the proxy)."""
    if request.param == "local":
        client = Fabric.local(tmp_path / "fabric-local")
    else:
        proxy: CountingProxy = request.getfixturevalue("proxy")
        client = Fabric(url=proxy.url)
    try:
        yield client
    finally:
        client.close()


def artifact_urn_of(fab: Fabric, name: str) -> re.Pattern[str]:
    """What an artifact uploaded as `name` is called: in local mode the file it is, `urn:file://<base>/<name>`
    (IVCAP's meaning), on a server `urn:fabric:artifact:<uuid>`."""
    if fab.mode == "local":
        return re.compile(re.escape(f"urn:file://{fab.destination.removeprefix('local:')}/{name}"))
    return re.compile(r"urn:fabric:artifact:[0-9a-f-]{36}")


_METRIC = re.compile(r'^fabric_http_requests_total\{method="(\w+)",resource="([^"]+)",status="(\d+)"\} ([0-9.e+]+)$')


def request_counts(server_url: str) -> dict[tuple[str, str], int]:
    """Requests the server answered so far, by (method, resource), from its Prometheus metrics."""
    counts: dict[tuple[str, str], int] = {}
    for line in httpx.get(f"{server_url}/metrics", timeout=10).text.splitlines():
        match = _METRIC.match(line)
        if match:
            key = (match.group(1), match.group(2))
            counts[key] = counts.get(key, 0) + int(float(match.group(4)))
    return counts


def upload_requests(server_url: str) -> int:
    """POST + PATCH requests on /v1/uploads: zero new ones means no upload was started and no byte was sent."""
    counts = request_counts(server_url)
    return counts.get(("POST", "/v1/uploads"), 0) + counts.get(("PATCH", "/v1/uploads"), 0)
