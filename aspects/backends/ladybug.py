"""The embedded backend: LadybugDB (a Kùzu descendant) in a directory on local disk.

LadybugDB needs node and relationship tables declared. Node tables: `Artifact`, `Schema`, `AspectKey`, and
one per label named by a link schema (built in or registered). Relationship tables: one per relationship
type, with a FROM/TO connection added on demand for every label pair it joins; `HAS_ASPECT` connects each
entity label to `Schema`. One connection, used under a lock, serves every thread.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import ladybug

from aspects.backends import ladybug_queries as own
from aspects.backends.cypher import fill

COLUMN_RE = re.compile(r"^[a-z][a-z0-9_]{0,62} (STRING|INT64)$")
# LadybugDB keeps every in-place update (`SET`) since its last checkpoint as a chain of versions that later reads
# and updates of the same column chunk walk; with its default threshold (the WAL reaching 16 MiB) that chain grows
# to thousands of versions under a stream of uploads, and completing one cost 30 ms of CPU instead of 8. A
# checkpoint every few MiB of WAL keeps the chains short. Each costs a few ms, and its share of a commit grows with
# the rows written: every 4 MiB rather than every MiB, a batch of small uploads' artifacts (written ready, no
# update) commits in half the time, and a pending artifact made ready costs 8 % more (bench/README.md).
CHECKPOINT_BYTES = 4 << 20
# The versions an update leaves also stay in memory until the next checkpoint: some 27 KB per column a commit sets,
# however few rows (160 KB for a pending artifact made ready, 90 KB for a commit that closes an aspect's edge),
# against about 1 KB of WAL. So the WAL threshold alone let a server that completed 4,000 large uploads hold
# hundreds of MB before its first checkpoint. The backend therefore also checkpoints after this many commits that
# updated or deleted something. Measured through the store (`bench/pending_completions.py`, 1,280 pending
# artifacts created and made ready): private memory +12 MB at 32, +25 at 64, +28 at 128, +209 without; CPU 3.9 to
# 4.3 ms an artifact at 32, 3.5 at 64, 3.0 at 128, 3.6 without (longer version chains); a checkpoint takes 36 ms
# (median; up to 190) with the graph's lock held. Bounded memory is the point, so the smallest of these.
CHECKPOINT_UPDATES = 32
# `MERGE ... ON CREATE SET` sets properties of a node it creates: not an update.
_UPDATING = re.compile(r"(?<!ON CREATE )\bSET\b|\bDELETE\b|\bREMOVE\b")

log = logging.getLogger("aspects.ladybug")


class LadybugBackend:
    name = "ladybug"
    q = own.QUERIES
    exclusive = True

    def __init__(self, path: Path, buffer_pool_size: int = 0, *, checkpoint_updates: int = CHECKPOINT_UPDATES) -> None:
        """`buffer_pool_size` in bytes; 0 is LadybugDB's default (80 % of the machine's memory, whose page
        bookkeeping alone costs tens of MB of resident memory on a large machine). `checkpoint_updates`: commits
        that update or delete between checkpoints (see `CHECKPOINT_UPDATES`)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = ladybug.Database(str(path), buffer_pool_size=buffer_pool_size, checkpoint_threshold=CHECKPOINT_BYTES)
        self._conn = ladybug.Connection(self._db)
        self._lock = threading.RLock()
        self._in_tx = False
        self._checkpoint_updates = checkpoint_updates
        self._tx_updates = False  # the open transaction has run an update or a delete
        self._updating_commits = 0  # since the last checkpoint
        self._tables: dict[str, str] = {}
        self._connections: set[tuple[str, str, str]] = set()

    def run(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._lock:
            result = self._conn.execute(query, params or {})
            assert not isinstance(result, list)
            columns = result.get_column_names()
            rows = [dict(zip(columns, row)) for row in result.get_all()]
            result.close()
            if _updates(query):
                if self._in_tx:
                    self._tx_updates = True
                else:
                    self._committed_update()
            return rows

    def _committed_update(self) -> None:
        """Count a commit that updated or deleted; checkpoint when enough did (under the lock, no transaction
        open). A checkpoint that fails is logged and tried again after the next such commit."""
        self._updating_commits += 1
        if self._updating_commits < self._checkpoint_updates:
            return
        try:
            self._conn.execute("CHECKPOINT")
        except RuntimeError:
            log.warning("LadybugDB checkpoint failed; retried after the next update", exc_info=True)
            return
        self._updating_commits = 0

    @contextmanager
    def transaction(self) -> Iterator[LadybugBackend]:
        with self._lock:
            if self._in_tx:
                yield self
                return
            self._conn.execute("BEGIN TRANSACTION")
            self._in_tx, self._tx_updates = True, False
            try:
                yield self
            except BaseException:
                self._in_tx = False
                self._conn.execute("ROLLBACK")
                raise
            self._in_tx = False
            self._conn.execute("COMMIT")
            if self._tx_updates:
                self._committed_update()

    def _load_catalog(self) -> None:
        self._tables = {row["name"]: row["type"] for row in self.run(own.SHOW_TABLES)}
        for name, kind in self._tables.items():
            if kind == "REL":
                for row in self.run(fill(own.SHOW_CONNECTIONS, rel=name)):
                    values = list(row.values())
                    self._connections.add((name, values[0], values[1]))

    def setup(self, labels: list[str], connections: list[tuple[str, str, str]]) -> None:
        with self._lock:
            self._load_catalog()
            for statement in (
                own.CREATE_ARTIFACT_TABLE,
                own.ADD_ARTIFACT_ORG,
                own.CREATE_SCHEMA_TABLE,
                own.CREATE_ASPECT_KEY_TABLE,
            ):
                self.run(statement)
            self._load_catalog()
            for label in labels:
                self.ensure_label(label)
            for connection in connections:
                self.ensure_connection(*connection)

    def ensure_label(self, label: str) -> None:
        if label in self._tables and ("HAS_ASPECT", label, "Schema") in self._connections:
            return  # declared: no wait for the lock, which a transaction holds until it commits
        with self._lock:
            if label not in self._tables:
                self.run(fill(own.CREATE_LABEL_TABLE, label=label))
                self._tables[label] = "NODE"
            self.ensure_connection("HAS_ASPECT", label, "Schema")

    def ensure_node_table(self, label: str, columns: dict[str, str]) -> None:
        pairs = [f"{name} {kind}" for name, kind in columns.items()]
        if any(not COLUMN_RE.match(pair) for pair in pairs):
            raise ValueError(f"bad columns {columns!r}")
        with self._lock:
            if label not in self._tables:
                self.run(
                    fill(own.CREATE_NODE_TABLE, label=label).replace("{columns}", "".join(", " + p for p in pairs))
                )
                self._tables[label] = "NODE"
            else:
                for pair in pairs:
                    self.run(fill(own.ADD_NODE_COLUMN, label=label).replace("{column}", pair))

    def ensure_connection(self, rel: str, src: str, dst: str) -> None:
        if (rel, src, dst) in self._connections:
            return  # declared (entries are only ever added, after their DDL ran)
        with self._lock:
            if (rel, src, dst) in self._connections:
                return
            if rel in self._tables:
                self.run(fill(own.ADD_REL_CONNECTION, rel=rel, src=src, dst=dst))
            else:
                self.run(fill(own.CREATE_REL_TABLE, rel=rel, src=src, dst=dst))
                self._tables[rel] = "REL"
            self._connections.add((rel, src, dst))

    def locate_aspect(self, urn: str, rels: list[str]) -> tuple[str, str] | None:
        rows = self.run(own.LOCATE_ASPECT, {"urn": urn})
        return (rows[0]["rel"], rows[0]["entity"]) if rows else None

    def set_timeout(self, seconds: float | None) -> None:
        with self._lock:
            self._conn.set_query_timeout(int(seconds * 1000) if seconds else 0)

    def ping(self) -> None:
        self.run(self.q.PING)

    def wipe(self) -> None:
        self.run(self.q.WIPE)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._db.close()


@lru_cache(maxsize=512)
def _updates(query: str) -> bool:
    """Whether a statement may update or delete (the store's statements are few and fixed: cached)."""
    return _UPDATING.search(query) is not None
