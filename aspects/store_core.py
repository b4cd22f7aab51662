"""What every part of the aspect store shares: the backend, the schema registry, the clock, and the graph
primitives that more than one topic uses (naming entities, writing and closing an aspect edge, reading a page
of aspects).

Aspects are never deleted: a retraction closes `valid_to`, an update retracts and asserts in one
transaction. Times are kept as integer microseconds since the epoch, strictly increasing within a store,
so that "as of T" (`valid_from <= T < valid_to`) and keyset paging by `(valid_from, urn)` are exact.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aspects.artifact_order import ArtifactOrder, sort_value
from aspects.aspect_query import AspectQuery
from aspects.backends import Backend, Runner
from aspects.backends.cypher import fill
from aspects.cursors import encode_cursor
from aspects.errors import Conflict, InvalidUrn, NotFound, ValidationFailed
from aspects.group_commit import GroupCommit
from aspects.model import ArtifactRecord, Aspect, Page, to_micros
from aspects.reader import GRANT_REL, Reader
from aspects.rows import aspect_from_row, canonical, record_from_row
from aspects.schema_registry import CONTENT_REL, SchemaEntry, SchemaRegistry, kind_of_label, kinds_of_label
from aspects.urns import DEFAULT_NAMESPACE, NAMESPACE_RE, parse_urn

ARTIFACT_SCHEMA = "artifact.1"


class StoreCore:
    """The state and shared primitives of `AspectStore`; its operations are mixed in by topic."""

    def __init__(self, backend: Backend, namespace: str = DEFAULT_NAMESPACE) -> None:
        if not NAMESPACE_RE.match(namespace):
            raise ValueError(f"bad namespace {namespace!r}")
        self.backend = backend
        self.namespace = namespace
        self.registry = SchemaRegistry(namespace)
        self._q = backend.q
        self._lock = threading.RLock()
        self._group = GroupCommit(backend, self._lock)  # creations and completions of artifacts, batched
        self._clock = threading.Lock()  # the clock's own: a writer waiting for `_lock` may need the time
        self._last_micros = 0
        # By sort key (`created`, `name`, `size`): loaded at start when the backend is exclusive, else empty.
        self._orders: dict[str, ArtifactOrder] = {}

    def _place(self, row: dict[str, Any]) -> None:
        """Keep the in-memory orders of artifacts (if any) in step with a committed artifact row."""
        for sort, order in self._orders.items():
            order.place(row["urn"], sort_value(sort, row))

    def _now(self) -> int:
        with self._clock:
            now = max(to_micros(datetime.now(UTC)), self._last_micros + 1)
            self._last_micros = now
            return now

    # -- names ------------------------------------------------------------------------------------

    def _label_of(self, entity: str) -> str:
        """The node label of an entity URN: InvalidUrn if malformed, NotFound if no label holds its kind."""
        urn = parse_urn(entity)
        label = self.registry.label_of_kind(urn.kind)
        if label is None:
            raise NotFound(f"no entity {entity!r}: nothing of kind {urn.kind!r} is kept in the graph")
        return label

    def _require_node(self, runner: Runner, label: str, urn: str) -> None:
        if not runner.run(fill(self._q.NODE_EXISTS, label=label), {"urn": urn}):
            raise NotFound(f"no {label.lower()} {urn!r}")

    def _touch_node(self, runner: Runner, label: str, urn: str, now: int) -> None:
        """Artifacts must exist already; orders, collections, policies and the like are created on first mention."""
        if label == "Artifact":
            self._require_node(runner, label, urn)
        else:
            runner.run(fill(self._q.MERGE_NODE, label=label), {"urn": urn, "now": now})

    def _link_target(self, entry: SchemaEntry, content: Any) -> str:
        assert entry.link is not None
        target: str = content[entry.link.property]
        path = f"$.{entry.link.property}"
        try:
            urn = parse_urn(target)
        except InvalidUrn as exc:
            raise ValidationFailed(str(exc), path) from None
        if urn.kind.replace("-", "") not in kinds_of_label(entry.link.label):
            raise ValidationFailed(f"{target!r} is not a {kind_of_label(entry.link.label)} URN", path)
        return target

    # -- edges ------------------------------------------------------------------------------------

    def _connection_of(self, entry: SchemaEntry, entity_label: str) -> tuple[str, str, str]:
        """(rel, from label, to label) of the edge an aspect of `entry` on an `entity_label` node makes."""
        if entry.link is None:
            return (CONTENT_REL, entity_label, "Schema")
        if entry.link.direction == "out":
            return (entry.link.rel, entity_label, entry.link.label)
        return (entry.link.rel, entry.link.label, entity_label)

    def _prepare_edge(self, entry: SchemaEntry, entity_label: str) -> None:
        """DDL an edge needs, done before the data transaction (LadybugDB tables, Neo4j indexes)."""
        self.backend.ensure_label(entity_label)
        self.backend.ensure_connection(*self._connection_of(entry, entity_label))

    def _insert(
        self,
        tx: Runner,
        entry: SchemaEntry,
        label: str,
        entity: str,
        content: Any,
        asserter: str,
        now: int,
        *,
        entity_read: bool = False,
    ) -> Aspect:
        """Insert one aspect edge. `entity_read`: the caller read the entity's node in this transaction, so it is
        not looked up again (an insert that finds no node still raises NotFound)."""
        if entry.link is not None:
            target = self._link_target(entry, content)
            self._touch_node(tx, entry.link.label, target, now)
            target_label, template = (
                entry.link.label,
                (self._q.INSERT_ASPECT_OUT if entry.link.direction == "out" else self._q.INSERT_ASPECT_IN),
            )
        else:
            target, target_label, template = self.registry.full_id(entry.name), "Schema", self._q.INSERT_ASPECT_OUT
        if not entity_read:
            self._touch_node(tx, label, entity, now)
        urn = f"urn:{self.namespace}:aspect:{uuid.uuid4()}"
        row = {
            "urn": urn,
            "schema": self.registry.full_id(entry.name),
            "entity": entity,
            "target": target,
            "content": canonical(content),
            "asserter": asserter,
            "valid_from": now,
            "valid_to": None,
            "retracted_by": None,
        }
        created = tx.run(
            fill(template, src=label, dst=target_label, rel=entry.rel), {**row, "rel": entry.rel, "label": label}
        )
        if not created:
            raise NotFound(f"no entity {entity!r}")
        return aspect_from_row(row, entry.rel)

    def _close(self, tx: Runner, aspect: Aspect, asserter: str, now: int) -> None:
        label = self._label_of(aspect.entity)
        link = self.registry.get(aspect.schema).link
        template = self._q.CLOSE_ASPECT_IN if link is not None and link.direction == "in" else self._q.CLOSE_ASPECT_OUT
        closed = tx.run(
            fill(template, label=label, rel=aspect.rel),
            {"entity": aspect.entity, "urn": aspect.urn, "now": now, "retracted_by": asserter},
        )
        if not closed:
            raise Conflict(f"aspect {aspect.urn} is already retracted")

    def _assert_artifact_content(
        self,
        tx: Runner,
        urn: str,
        entry: SchemaEntry,
        content: dict[str, Any],
        asserter: str,
        now: int,
        *,
        entity_read: bool = False,
    ) -> tuple[Aspect, dict[str, Any]]:
        """Inside a transaction: `artifact.1` replaces any current one, and the node takes its properties."""
        tx.run(
            fill(self._q.CLOSE_CURRENT_CONTENT, rel=entry.rel),
            {"entity": urn, "schema": self.registry.full_id(entry.name), "now": now, "retracted_by": asserter},
        )
        aspect = self._insert(tx, entry, "Artifact", urn, content, asserter, now, entity_read=entity_read)
        rows = tx.run(
            self._q.SET_ARTIFACT_READY,
            {
                "urn": urn,
                "name": content["name"],
                "mime_type": content["mime_type"],
                "size": content["size"],
                "md5": content.get("md5"),
                "sha256": content["sha256"],
                "location": content["location"],
                "created": to_micros(datetime.fromisoformat(content["created"])),
                "uploader": content["uploader"],
            },
        )
        return aspect, rows[0]

    # -- reads ------------------------------------------------------------------------------------

    def _artifact_row(self, urn: str) -> dict[str, Any]:
        rows = self.backend.run(self._q.GET_ARTIFACT, {"urn": urn})
        if not rows:
            raise NotFound(f"no artifact {urn!r}")
        return rows[0]

    def _readable_record(self, urn: str, reader: Reader | None) -> ArtifactRecord:
        if reader is None:
            return record_from_row(self._artifact_row(urn))
        rows = self.backend.run(self._q.GET_ARTIFACT_ACCESS, {"urn": urn})
        links = ((row["access_schema"], row["access_target"], row["access_valid_from"]) for row in rows)
        if not rows or not self._may_read(reader, rows[0], links):
            raise NotFound(f"no artifact {urn!r}")
        return record_from_row(rows[0])

    def _may_read(
        self, reader: Reader, row: dict[str, Any], links: Iterable[tuple[str | None, str | None, int | None]]
    ) -> bool:
        """Whether `reader` may read the artifact of `row` (its columns), given its current outgoing edges."""
        return reader.may_read(
            uploader=row["uploader"], org=row.get("org"), created=row["created"], links=links, namespace=self.namespace
        )

    def readable_artifacts(self, urns: list[str], reader: Reader) -> set[str]:
        """Which of `urns` name artifacts `reader` may read (one query per thousand)."""
        found: set[str] = set()
        for start in range(0, len(urns), 1000):
            rows = self.backend.run(
                self._q.READABLE_AMONG, {"urns": urns[start : start + 1000], **reader.params(self.namespace)}
            )
            found.update(row["urn"] for row in rows)
        return found

    def _query_rel(self, rel: str, query: AspectQuery) -> list[dict[str, Any]]:
        """The rows of `query` (with no entity) over the one relationship type `rel`."""
        params = query.params()
        if query.reader is not None:
            params.update(query.reader.params(self.namespace), r_need_manage=rel == GRANT_REL)
            return self.backend.run(fill(self._q.QUERY_VISIBLE_ASPECTS, rel=rel), params)
        return self.backend.run(fill(self._q.QUERY_ASPECTS, rel=rel), params)

    def _entity_rows(self, query: AspectQuery) -> list[tuple[dict[str, Any], str]]:
        """The rows of `query` for its entity, over all its relationship types in one statement, with their
        types (a schema's type is fixed when it is registered)."""
        assert query.entity is not None and query.label is not None
        rows = self.backend.run(
            fill(self._q.QUERY_ASPECTS_OF_ENTITY, label=query.label, rels=list(query.rels)),
            {**query.params(), "entity": query.entity},
        )
        return [(row, self.registry.get(row["schema"]).rel) for row in rows]

    def _aspects_page(self, query: AspectQuery) -> Page[Aspect]:
        """One page of `query`, merged over its relationship types by (valid_from, urn); the entity's existence
        and the reader's right to it are the caller's to check."""
        one_more = replace(query, limit=query.limit + 1)
        if query.entity is not None:
            found = self._entity_rows(one_more)
        else:
            found = [(row, rel) for rel in query.rels for row in self._query_rel(rel, one_more)]
        rows: dict[str, tuple[dict[str, Any], str]] = {}
        for row, rel in found:
            rows.setdefault(row["urn"], (row, rel))
        ordered = sorted(rows.values(), key=lambda item: (item[0]["valid_from"], item[0]["urn"]))
        items = [aspect_from_row(row, rel) for row, rel in ordered[: query.limit]]
        next_cursor = None
        if len(ordered) > query.limit:
            last = ordered[query.limit - 1][0]
            next_cursor = encode_cursor("aspects", last["valid_from"], last["urn"])
        return Page(items, next_cursor)
