"""The server backend: Neo4j over Bolt with the official driver.

No tables to declare: start-up creates a uniqueness constraint on `urn` for every label and indexes on
`urn`, `schema` and `entity` for every aspect relationship type (more as link schemas are registered).
The driver is thread-safe; each call takes a session of its own.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from neo4j import Driver, GraphDatabase, Query
from neo4j.exceptions import ClientError, TransientError

from aspects.backends import neo4j_queries as own
from aspects.backends.cypher import fill

TRANSIENT_ATTEMPTS = 6  # about 6 s of backing off, at most, before a transient error is raised
# What another server creating the same index or constraint at the same moment makes an `IF NOT EXISTS` answer.
ALREADY_THERE = {
    "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists",
    "Neo.ClientError.Schema.ConstraintAlreadyExists",
    "Neo.ClientError.Schema.IndexAlreadyExists",
}


class _TxRunner:
    def __init__(self, tx: Any) -> None:
        self._tx = tx

    def run(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [record.data() for record in self._tx.run(query, params or {})]


class Neo4jBackend:
    name = "neo4j"
    q = own.QUERIES
    exclusive = False

    def __init__(self, url: str, user: str | None, password: str | None, database: str | None) -> None:
        auth = (user, password or "") if user else None
        # Notifications off: absent property keys on a fresh graph would otherwise warn on every query.
        self._driver: Driver = GraphDatabase.driver(url, auth=auth, notifications_min_severity="OFF")
        self._database = database or None
        self._lock = threading.RLock()
        self._labels: set[str] = set()
        self._rels: set[str] = set()
        self._timeout: float | None = None
        self._driver.verify_connectivity()

    def run(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One statement in a transaction of its own, tried again when Neo4j says a retry may succeed.

        A `TransientError` (a deadlock between servers creating the same constraints at start-up, a lock
        client stopped) means the transaction was rolled back, so running it again applies it once."""
        for attempt in range(TRANSIENT_ATTEMPTS):
            try:
                with self._driver.session(database=self._database) as session:
                    result = session.run(Query(query, timeout=self._timeout), params or {})
                    return [record.data() for record in result]
            except TransientError:
                if attempt == TRANSIENT_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.05, 0.2) * 2**attempt)
        raise AssertionError("unreachable")

    @contextmanager
    def transaction(self) -> Iterator[_TxRunner]:
        with self._driver.session(database=self._database) as session, session.begin_transaction() as tx:
            yield _TxRunner(tx)
            tx.commit()

    def _declare(self, statement: str) -> None:
        """An index or constraint `IF NOT EXISTS`: replicas starting together race to create the same ones, and
        Neo4j answers the losers that an equivalent one exists, which is what they wanted."""
        try:
            self.run(statement)
        except ClientError as exc:
            if exc.code not in ALREADY_THERE:
                raise

    def setup(self, labels: list[str], connections: list[tuple[str, str, str]]) -> None:
        for label in ("Artifact", "Schema", *labels):
            self.ensure_label(label)
        for statement in own.CREATE_ARTIFACT_INDEXES:
            self._declare(statement)
        for rel, src, dst in [("HAS_ASPECT", "Artifact", "Schema"), *connections]:
            self.ensure_connection(rel, src, dst)
        self.run(own.AWAIT_INDEXES)

    def ensure_label(self, label: str) -> None:
        if label in self._labels:
            return  # declared (labels are only ever added, after their constraint exists)
        with self._lock:
            if label not in self._labels:
                self._declare(fill(own.CREATE_URN_CONSTRAINT, label=label))
                self._labels.add(label)

    def ensure_node_table(self, label: str, columns: dict[str, str]) -> None:
        self.ensure_label(label)  # properties need no declaring

    def ensure_connection(self, rel: str, src: str, dst: str) -> None:
        if rel in self._rels:
            return
        with self._lock:
            if rel not in self._rels:
                for statement in own.CREATE_REL_INDEXES:
                    self._declare(fill(statement, rel=rel))
                self._rels.add(rel)

    def locate_aspect(self, urn: str, rels: list[str]) -> tuple[str, str] | None:
        for rel in rels:
            rows = self.run(fill(own.LOCATE_ASPECT_IN_REL, rel=rel), {"urn": urn})
            if rows:
                return rel, rows[0]["entity"]
        return None

    def set_timeout(self, seconds: float | None) -> None:
        self._timeout = seconds

    def ping(self) -> None:
        self.run(self.q.PING)

    def wipe(self) -> None:
        self.run(self.q.WIPE)

    def close(self) -> None:
        self._driver.close()
