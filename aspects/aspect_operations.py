"""Aspects: assert (one or a batch), read, retract, update, and query by entity, schema and time."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from aspects.aspect_query import AspectQuery
from aspects.backends import Runner
from aspects.backends.cypher import fill
from aspects.checks import MAX_LIMIT, check_asserter, check_limit, micros
from aspects.cursors import decode_cursor
from aspects.errors import Conflict, NotFound, ValidationFailed
from aspects.model import FAR_FUTURE, Aspect, Page
from aspects.reader import GRANT_REL, Reader
from aspects.rows import aspect_from_row, canonical
from aspects.schema_registry import SchemaEntry
from aspects.store_core import ARTIFACT_SCHEMA, StoreCore
from aspects.urns import parse_urn


class AspectOperations(StoreCore):
    def assert_aspect(self, entity: str, schema: str, content: Any, *, asserter: str) -> Aspect:
        """Validate `content` against `schema` and record it on `entity` (link schemas also make their edge)."""
        entry = self.registry.get(schema)
        label = self._label_of(entity)
        self.registry.validate(entry, content)
        asserter = check_asserter(asserter)
        if entry.name == ARTIFACT_SCHEMA and label != "Artifact":
            raise ValidationFailed(f"{ARTIFACT_SCHEMA} describes artifacts only", "$")
        if entry.link is not None:
            self._link_target(entry, content)
        with self._lock:
            self._prepare_edge(entry, label)
            with self.backend.transaction() as tx:
                if entry.name != ARTIFACT_SCHEMA:
                    return self._insert(tx, entry, label, entity, content, asserter, self._now())
                self._require_node(tx, label, entity)
                aspect, row = self._assert_artifact_content(tx, entity, entry, content, asserter, self._now())
            self._place(row)
            return aspect

    def assert_claiming(
        self,
        entity: str,
        schema: str,
        content: Any,
        *,
        asserter: str,
        claim: tuple[str, str],
        claim_values: dict[str, Any] | None = None,
    ) -> Aspect | None:
        """Assert like `assert_aspect`, creating in the same transaction the node `claim` (label, URN), whose
        URN must be free; None, with nothing written, if another writer holds it. URNs are unique in the graph
        (LadybugDB's primary key, Neo4j's constraint), so this is a compare-and-set that holds across processes:
        of two writers claiming one key, one commits and the other is refused (Neo4j makes it wait for the first).
        `claim_values` are further properties of the claim node (its label's columns on LadybugDB)."""
        values = claim_values or {}
        if any(not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", key) for key in values):
            raise ValueError(f"bad claim property names {sorted(values)!r}")
        entry = self.registry.get(schema)
        label = self._label_of(entity)
        self.registry.validate(entry, content)
        asserter = check_asserter(asserter)
        if entry.name == ARTIFACT_SCHEMA:
            raise ValueError(f"assert {ARTIFACT_SCHEMA} with complete_artifact")
        if entry.link is not None:
            self._link_target(entry, content)
        claim_label, claim_urn = claim
        with self._lock:
            self._prepare_edge(entry, label)
            self.backend.ensure_label(claim_label)
            if self.backend.run(fill(self._q.NODE_EXISTS, label=claim_label), {"urn": claim_urn}):
                return None
            try:
                with self.backend.transaction() as tx:
                    now = self._now()
                    statement = fill(self._q.CREATE_NODE, label=claim_label)
                    statement = statement.replace("{values}", "".join(f", {key}: $c_{key}" for key in values))
                    params = {"urn": claim_urn, "now": now, **{f"c_{key}": value for key, value in values.items()}}
                    tx.run(statement, params)
                    aspect = self._insert(tx, entry, label, entity, content, asserter, now)
            except Exception:
                # Whatever the backend raised for a taken key (a constraint or primary-key violation): taken is
                # taken; anything else goes on up.
                if self.backend.run(fill(self._q.NODE_EXISTS, label=claim_label), {"urn": claim_urn}):
                    return None
                raise
            return aspect

    def assert_aspects(self, items: list[tuple[str, str, Any]], *, asserter: str) -> list[Aspect]:
        """Assert many `(entity, schema, content)` at once, all in one transaction, a few statements per
        (schema, entity kind) group. Everything is validated first; any error leaves the graph unchanged.
        `artifact.1` is not accepted here (use `complete_artifact`)."""
        if len(items) > MAX_LIMIT:
            raise ValueError(f"at most {MAX_LIMIT} aspects per batch")
        asserter = check_asserter(asserter)
        groups: dict[tuple[str, str], list[tuple[str, Any, str]]] = {}
        entries: dict[str, SchemaEntry] = {}
        for index, (entity, schema, content) in enumerate(items):
            entry = self.registry.get(schema)
            if entry.name == ARTIFACT_SCHEMA:
                raise ValueError(f"item {index}: assert {ARTIFACT_SCHEMA} with complete_artifact")
            label = self._label_of(entity)
            try:
                self.registry.validate(entry, content)
            except ValidationFailed as exc:
                raise ValidationFailed(
                    f"item {index}: {exc.message}", exc.path.replace("$", f"$[{index}]", 1)
                ) from None
            target = self._link_target(entry, content) if entry.link else self.registry.full_id(entry.name)
            entries[entry.name] = entry
            groups.setdefault((entry.name, label), []).append((entity, content, target))
        aspects: list[Aspect] = []
        with self._lock:
            for name, label in groups:
                self._prepare_edge(entries[name], label)
            with self.backend.transaction() as tx:
                now = self._now()
                for (name, label), group in groups.items():
                    aspects.extend(self._insert_group(tx, entries[name], label, group, asserter, now))
        return aspects

    def _insert_group(
        self, tx: Runner, entry: SchemaEntry, label: str, group: list[tuple[str, Any, str]], asserter: str, now: int
    ) -> list[Aspect]:
        """One (schema, entity label) group of a batch: its end nodes checked or made, its edges in one statement."""
        q = self._q
        ends = [(label, sorted({entity for entity, _, _ in group}))]
        if entry.link is not None:
            ends.append((entry.link.label, sorted({target for _, _, target in group})))
        for end_label, urns in ends:
            if end_label == "Artifact":
                found = {row["urn"] for row in tx.run(fill(q.EXISTING_NODES, label=end_label), {"urns": urns})}
                if missing := [urn for urn in urns if urn not in found]:
                    raise NotFound(f"no artifact {missing[0]!r}")
            else:
                tx.run(fill(q.MERGE_NODES, label=end_label), {"urns": urns, "now": now})
        rows = []
        for entity, content, target in group:
            rows.append(
                {
                    "urn": f"urn:{self.namespace}:aspect:{uuid.uuid4()}",
                    "schema": self.registry.full_id(entry.name),
                    "entity": entity,
                    "target": target,
                    "content": canonical(content),
                    "asserter": asserter,
                    "valid_from": self._now(),
                }
            )
        template = q.INSERT_ASPECTS_OUT if entry.direction == "out" else q.INSERT_ASPECTS_IN
        dst = entry.link.label if entry.link else "Schema"
        tx.run(fill(template, src=label, dst=dst, rel=entry.rel), {"rows": rows, "rel": entry.rel, "label": label})
        return [aspect_from_row({**row, "valid_to": None, "retracted_by": None}, entry.rel) for row in rows]

    def _locate(self, urn: str) -> tuple[str, str, str]:
        parse_urn(urn, "aspect")
        found = self.backend.locate_aspect(urn, self.registry.rels())
        if found is None:
            raise NotFound(f"no aspect {urn!r}")
        rel, entity = found
        return rel, self._label_of(entity), entity

    def _get(self, runner: Runner, urn: str) -> Aspect:
        rel, label, entity = self._locate(urn)
        rows = runner.run(fill(self._q.GET_ASPECT, label=label, rel=rel), {"entity": entity, "urn": urn})
        if not rows:
            raise NotFound(f"no aspect {urn!r}")
        return aspect_from_row(rows[0], rel)

    def get_aspect(self, urn: str, *, reader: Reader | None = None) -> Aspect:
        """One aspect; NotFound too if `reader` may not read its entity (or, for a grant, manage it)."""
        aspect = self._get(self.backend, urn)
        if reader is not None and self._label_of(aspect.entity) == "Artifact":
            record = self._readable_record(aspect.entity, reader)
            if aspect.rel == GRANT_REL and not reader.may_manage(record):
                raise NotFound(f"no aspect {urn!r}")
        return aspect

    def retract_aspect(self, urn: str, *, asserter: str) -> Aspect:
        """Close the aspect's validity now; Conflict if it was already retracted."""
        asserter = check_asserter(asserter)
        with self._lock:
            aspect = self._get(self.backend, urn)
            if aspect.valid_to is not None:
                raise Conflict(f"aspect {urn} is already retracted")
            with self.backend.transaction() as tx:
                self._close(tx, aspect, asserter, self._now())
            return self._get(self.backend, urn)

    def update_aspect(self, urn: str, content: Any, *, asserter: str) -> Aspect:
        """Retract the aspect and assert `content` in its place (same entity, same schema), in one transaction."""
        asserter = check_asserter(asserter)
        with self._lock:
            old = self._get(self.backend, urn)
            if old.valid_to is not None:
                raise Conflict(f"aspect {urn} is retracted; only a current aspect can be updated")
            entry = self.registry.get(old.schema)
            self.registry.validate(entry, content)
            label = self._label_of(old.entity)
            self._prepare_edge(entry, label)
            with self.backend.transaction() as tx:
                now = self._now()
                if entry.name != ARTIFACT_SCHEMA:
                    self._close(tx, old, asserter, now)
                    return self._insert(tx, entry, label, old.entity, content, asserter, now)
                aspect, row = self._assert_artifact_content(tx, old.entity, entry, content, asserter, now)
            self._place(row)
            return aspect

    def current_aspects(self, entity: str, schema: str, *, at: datetime | None = None) -> list[Aspect]:
        """The aspects of `schema` on `entity` valid now (or at `at`), oldest first: all of them, unpaged, for
        the few of one schema that an entity holds. NotFound if there is no such entity."""
        entry = self.registry.get(schema)
        label = self._label_of(entity)
        template = self._q.ASPECTS_OF_SCHEMA_OUT if entry.direction == "out" else self._q.ASPECTS_OF_SCHEMA_IN
        params = {
            "entity": entity,
            "schema": self.registry.full_id(entry.name),
            "at": micros(at, "at") if at is not None else FAR_FUTURE,
        }
        rows = self.backend.run(fill(template, label=label, rel=entry.rel), params)
        if not rows:
            self._require_node(self.backend, label, entity)
        rows.sort(key=lambda row: (row["valid_from"], row["urn"]))
        return [aspect_from_row(row, entry.rel) for row in rows]

    def query_aspects(
        self,
        *,
        entity: str | None = None,
        schema: str | None = None,
        at: datetime | None = None,
        include_retracted: bool = False,
        limit: int = 100,
        cursor: str | None = None,
        reader: Reader | None = None,
    ) -> Page[Aspect]:
        """Aspects oldest first by (valid_from, urn), keyset-paged.

        Without `at`: the current aspects (or every aspect ever, with `include_retracted`). With `at`: those
        valid at that time (or every aspect asserted by then, with `include_retracted`). With a `reader`: only
        aspects of entities it may read (NotFound for an `entity` it may not read), and grants only of
        artifacts it may manage.
        """
        check_limit(limit)
        entry = self.registry.get(schema) if schema is not None else None
        label = None
        if entity is not None:
            label = self._label_of(entity)
            self._require_node(self.backend, label, entity)
        after_from, after_urn = decode_cursor("aspects", cursor, (int, str)) if cursor else (-1, "")
        at_micros = micros(at, "at") if at is not None else FAR_FUTURE
        rels = [entry.rel] if entry else self.registry.rels()
        if reader is not None and entity is not None and label == "Artifact":
            if not reader.may_manage(self._readable_record(entity, reader)):
                # user schemas may not use GRANTED_TO: only grants are dropped
                rels = [rel for rel in rels if rel != GRANT_REL]
        query = AspectQuery(
            rels=tuple(rels),
            label=label,
            entity=entity,
            schema=self.registry.full_id(entry.name) if entry else "",
            at=at_micros,
            include_retracted=include_retracted,
            after_from=after_from,
            after_urn=after_urn,
            limit=limit,
            reader=reader,
        )
        return self._aspects_page(query)
