"""What the store needs from a graph backend. Shared Cypher is in `queries`, each backend's own in its queries module."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from aspects.backends.queries import Queries


class Runner(Protocol):
    def run(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...


class Backend(Runner, Protocol):
    name: str
    # True when no other process writes this graph (an embedded database), so the store may keep in memory what
    # the graph cannot index (`aspects.artifact_order`).
    exclusive: bool

    @property
    def q(self) -> Queries:
        """The statements the store runs, as this backend writes them (`aspects.backends.queries`)."""

    def setup(self, labels: list[str], connections: list[tuple[str, str, str]]) -> None:
        """Create the tables, constraints and indexes the store needs (idempotent)."""

    def ensure_label(self, label: str) -> None: ...

    def ensure_node_table(self, label: str, columns: dict[str, str]) -> None:
        """A label whose nodes carry `columns` (name -> `STRING` or `INT64`) beside `urn` (unique) and `created`."""

    def ensure_connection(self, rel: str, src: str, dst: str) -> None:
        """Make `(src)-[rel]->(dst)` storable and indexed (DDL; never inside a data transaction)."""

    def transaction(self) -> AbstractContextManager[Runner]:
        """A write transaction: every `run` inside commits together or not at all."""

    def locate_aspect(self, urn: str, rels: list[str]) -> tuple[str, str] | None:
        """(relationship type, entity URN) of the aspect edge with this URN, or None."""

    def set_timeout(self, seconds: float | None) -> None: ...

    def ping(self) -> None: ...

    def wipe(self) -> None:
        """Delete every node and edge (tests and benchmarks only)."""

    def close(self) -> None: ...
