"""Shared fixtures. Fixture modules of each area register themselves in `pytest_plugins`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_process import FabricServer

pytest_plugins: list[str] = [
    "tests.fixtures_neo4j",
    "tests.fixtures_client",
    "tests.fixtures_backends",
    "tests.fixtures_aspects",
    "tests.fixtures_services",
]


@pytest.fixture
def fabric_server(tmp_path: Path) -> Iterator[FabricServer]:
    """A real `fabric serve` on loopback with embedded defaults and a fresh data dir."""
    with FabricServer(tmp_path / "data") as server:
        yield server
