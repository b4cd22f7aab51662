"""Fixtures of the fault tests: a server that can be killed and restarted on the same port and data dir."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.interop.support import MiB, random_file
from tests.server_process import FabricServer

SEED = 7


@dataclass(frozen=True)
class Source:
    path: Path
    size: int
    sha256: str


def make_source(directory: Path, size: int, seed: int = SEED) -> Source:
    path = directory / f"source-{size}-{seed}.bin"
    return Source(path, size, random_file(path, size, seed))


@pytest.fixture
def source32(tmp_path: Path) -> Source:
    return make_source(tmp_path, 32 * MiB)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FabricServer]:
    """A running server; `kill()` then `start()` brings it back on the same port and data dir."""
    running = FabricServer(tmp_path / "data")
    running.start()
    try:
        yield running
    finally:
        running.stop()
