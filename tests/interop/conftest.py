"""Fixtures of the interop tests: a server, a cutting proxy in front of it, and a seeded source file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.interop.cutting_proxy import CuttingProxy
from tests.interop.support import MiB, random_file
from tests.server_process import FabricServer

CUT_EVERY = 3 * MiB
SOURCE_SIZE = 24 * MiB + 12345  # not a multiple of any chunk size
SEED = int(os.environ.get("FABRIC_INTEROP_SEED", "20240611"))


@dataclass(frozen=True)
class SourceFile:
    path: Path
    size: int
    sha256: str


@pytest.fixture
def source_file(tmp_path: Path) -> SourceFile:
    path = tmp_path / "source.bin"
    return SourceFile(path, SOURCE_SIZE, random_file(path, SOURCE_SIZE, SEED))


@pytest.fixture(scope="module")
def interop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FabricServer]:
    """One real `fabric serve` per module: every test makes its own uploads, so they can share it."""
    with FabricServer(tmp_path_factory.mktemp("interop") / "data") as server:
        yield server


@pytest.fixture
def cutting_proxy(interop_server: FabricServer) -> Iterator[CuttingProxy]:
    """A fresh proxy that drops the connection after every ~3 MiB sent to the server (seed: FABRIC_INTEROP_SEED)."""
    with CuttingProxy(interop_server.port, cut_every=CUT_EVERY, jitter=0.25, seed=SEED) as proxy:
        yield proxy
