"""The aspect store: schema-validated aspects as edges of a provenance graph, over either backend.

Aspects are never deleted: a retraction closes `valid_to`, an update retracts and asserts in one
transaction. Times are kept as integer microseconds since the epoch, strictly increasing within a store,
so that "as of T" (`valid_from <= T < valid_to`) and keyset paging by `(valid_from, urn)` are exact.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from aspects.backends import Backend, Runner, open_backend
from aspects.backends.cypher import fill
from aspects.cursors import decode_cursor, encode_cursor
from aspects.errors import Conflict, InvalidUrn, NotFound, ValidationFailed
from aspects.lineage import walk
from aspects.model import ArtifactRecord, Aspect, Lineage, Page, from_micros, to_micros
from aspects.reader import GRANT_REL, Reader
from aspects.schema_registry import CONTENT_REL, SchemaEntry, SchemaRegistry, kind_of_label, kinds_of_label, make_entry
from aspects.urns import NAMESPACE_RE, parse_urn

FAR_FUTURE = 1 << 62  # "now" in time-window queries: later than any stored time
ARTIFACT_SCHEMA = "artifact.1"
STATUSES = ("pending", "draft", "ready", "abandoned", "deleted")
TYPE_SCHEMA = "artifact-type.1"
LABEL_SCHEMA = "artifact-label.1"
FILE_SCHEMA = "artifact-file.1"
MAX_LABEL_FILTERS = 8
MAX_LIMIT = 10_000
MAX_DEPTH = 50
SHA256_HEX = frozenset("0123456789abcdef")


def canonical(content: Any) -> str:
    """Canonical JSON text: orjson with sorted keys."""
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS).decode()


def _check_limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return limit


def _check_asserter(asserter: Any) -> str:
    if not isinstance(asserter, str) or not asserter or len(asserter) > 1024:
        raise ValueError("asserter must be a non-empty string (the URN of a principal)")
    return asserter


def _micros(moment: datetime, name: str) -> int:
    if not isinstance(moment, datetime):
        raise ValueError(f"{name} must be a datetime")
    return to_micros(moment)


class AspectStore:
    """Synchronous and thread-safe: writes are serialised by a lock, reads go straight to the backend."""

    def __init__(self, backend: Backend, namespace: str = "fabric") -> None:
        if not NAMESPACE_RE.match(namespace):
            raise ValueError(f"bad namespace {namespace!r}")
        self.backend = backend
        self.namespace = namespace
        self.registry = SchemaRegistry(namespace)
        self._q = backend.q
        self._lock = threading.RLock()
        self._last_micros = 0
        self._start()

    # -- start-up ---------------------------------------------------------------------------------

    def _connection_of(self, entry: SchemaEntry, entity_label: str) -> tuple[str, str, str]:
        """(rel, from label, to label) of the edge an aspect of `entry` on an `entity_label` node makes."""
        if entry.link is None:
            return (CONTENT_REL, entity_label, "Schema")
        if entry.link.direction == "out":
            return (entry.link.rel, entity_label, entry.link.label)
        return (entry.link.rel, entry.link.label, entity_label)

    def _start(self) -> None:
        builtins = self.registry.entries()
        self.backend.setup(self.registry.labels(), [self._connection_of(entry, "Artifact") for entry in builtins])
        now = self._now()
        for entry in builtins:
            self._save_schema(self.backend, entry, "urn:fabric:system:builtin", now)
        for row in self.backend.run(self._q.LOAD_REGISTERED_SCHEMAS):
            entry = make_entry(orjson.loads(row["body"]), builtin=False)
            self._prepare_schema(entry)
            self.registry.add(entry)

    def _save_schema(self, runner: Runner, entry: SchemaEntry, asserter: str, now: int) -> None:
        runner.run(
            self._q.MERGE_SCHEMA,
            {
                "urn": self.registry.full_id(entry.name),
                "name": entry.name,
                "body": canonical(self.registry.document(entry)),
                "builtin": entry.builtin,
                "asserter": asserter,
                "registered": now,
            },
        )

    def _prepare_schema(self, entry: SchemaEntry) -> None:
        if entry.link is not None:
            self.backend.ensure_label(entry.link.label)
            self.backend.ensure_connection(*self._connection_of(entry, "Artifact"))

    def _now(self) -> int:
        with self._lock:
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

    # -- rows to records --------------------------------------------------------------------------

    def _aspect(self, row: dict[str, Any], rel: str) -> Aspect:
        return Aspect(
            urn=row["urn"],
            entity=row["entity"],
            schema=row["schema"],
            content=orjson.loads(row["content"]),
            asserter=row["asserter"],
            valid_from=from_micros(row["valid_from"]),  # type: ignore[arg-type]
            valid_to=from_micros(row["valid_to"]),
            retracted_by=row["retracted_by"],
            rel=rel,
            target=row["target"],
        )

    @staticmethod
    def _record(row: dict[str, Any]) -> ArtifactRecord:
        return ArtifactRecord(
            urn=row["urn"],
            name=row["name"],
            status=row["status"],
            uploader=row["uploader"],
            created=from_micros(row["created"]),
            mime_type=row["mime_type"],
            size=row["size"],
            md5=row["md5"],
            sha256=row["sha256"],
            location=row["location"],
            properties=orjson.loads(row["props"]) if row["props"] else {},
            org=row.get("org"),
        )

    # -- artifacts --------------------------------------------------------------------------------

    def create_artifact(
        self,
        urn: str,
        *,
        name: str,
        uploader: str,
        created: datetime | None = None,
        properties: dict[str, Any] | None = None,
        org: str | None = None,
    ) -> ArtifactRecord:
        """A `pending` artifact node; creating one that exists returns it unchanged.

        `org` is the creator's organisation (`urn:<ns>:org:<id>`): its admins may read and manage the artifact.
        """
        parse_urn(urn, "artifact")
        if not isinstance(name, str) or not name:
            raise ValueError("name must be a non-empty string")
        with self._lock:
            created_micros = _micros(created, "created") if created is not None else self._now()
            rows = self.backend.run(
                self._q.CREATE_ARTIFACT,
                {
                    "urn": urn,
                    "name": name,
                    "uploader": _check_asserter(uploader),
                    "created": created_micros,
                    "props": canonical(properties or {}),
                    "org": self._org(org),
                },
            )
        return self._record(rows[0])

    @staticmethod
    def _org(org: Any) -> str | None:
        if org is None:
            return None
        parse_urn(org, "org")
        return str(org)

    def _artifact_row(self, urn: str) -> dict[str, Any]:
        rows = self.backend.run(self._q.GET_ARTIFACT, {"urn": urn})
        if not rows:
            raise NotFound(f"no artifact {urn!r}")
        return rows[0]

    def get_artifact(self, urn: str, *, reader: Reader | None = None, aspects: bool = True) -> ArtifactRecord:
        """The artifact with its current aspects (unless `aspects=False`, for paths that need only the record, such
        as a download); NotFound too if `reader` may not read it (existence is not revealed).

        Its grants are among the aspects only for a reader who may manage it."""
        parse_urn(urn, "artifact")
        record = self._readable_record(urn, reader)
        if aspects:
            record.aspects = self._current_aspects(record, reader)
        return record

    def _readable_record(self, urn: str, reader: Reader | None) -> ArtifactRecord:
        if reader is None:
            return self._record(self._artifact_row(urn))
        rows = self.backend.run(self._q.GET_READABLE_ARTIFACT, {"urn": urn, **reader.params(self.namespace)})
        if not rows:
            raise NotFound(f"no artifact {urn!r}")
        return self._record(rows[0])

    def readable_artifacts(self, urns: list[str], reader: Reader) -> set[str]:
        """Which of `urns` name artifacts `reader` may read (one query per thousand)."""
        found: set[str] = set()
        for start in range(0, len(urns), 1000):
            rows = self.backend.run(
                self._q.READABLE_AMONG, {"urns": urns[start : start + 1000], **reader.params(self.namespace)}
            )
            found.update(row["urn"] for row in rows)
        return found

    def _current_aspects(self, record: ArtifactRecord, reader: Reader | None = None) -> list[Aspect]:
        """The artifact's current aspects; `record` was already found readable, so that is not asked again."""
        rels = self.registry.rels()
        if reader is not None and not reader.may_manage(record):
            rels = [rel for rel in rels if rel != GRANT_REL]  # grants are seen by those who manage the artifact
        aspects: list[Aspect] = []
        after_from, after_urn = -1, ""
        while True:
            page = self._aspects_page(
                rels, "Artifact", record.urn, "", FAR_FUTURE, False, after_from, after_urn, 1000, reader
            )
            aspects.extend(page.items)
            if page.next_cursor is None:
                return aspects
            after_from, after_urn = decode_cursor("aspects", page.next_cursor, (int, str))

    def complete_artifact(self, urn: str, content: dict[str, Any], *, asserter: str) -> ArtifactRecord:
        """Assert `artifact.1` and make the artifact `ready`; a repeat with the same sha256 changes nothing."""
        parse_urn(urn, "artifact")
        entry = self.registry.get(ARTIFACT_SCHEMA)
        self.registry.validate(entry, content)
        with self._lock:
            record = self._record(self._artifact_row(urn))
            if record.status == "ready":
                if record.sha256 == content["sha256"]:
                    return record
                raise Conflict(f"artifact {urn} is already complete with other content (sha256 {record.sha256})")
            self._prepare_edge(entry, "Artifact")
            with self.backend.transaction() as tx:
                row = self._assert_artifact_content(tx, urn, entry, content, _check_asserter(asserter), self._now())[1]
        return self._record(row)

    def _assert_artifact_content(
        self, tx: Runner, urn: str, entry: SchemaEntry, content: dict[str, Any], asserter: str, now: int
    ) -> tuple[Aspect, dict[str, Any]]:
        """Inside a transaction: `artifact.1` replaces any current one, and the node takes its properties."""
        for old in self._query_rel(
            tx, entry.rel, "Artifact", urn, self.registry.full_id(entry.name), FAR_FUTURE, False, -1, "", 100
        ):
            tx.run(
                fill(self._q.CLOSE_ASPECT_OUT, label="Artifact", rel=entry.rel),
                {"entity": urn, "urn": old["urn"], "now": now, "retracted_by": asserter},
            )
        aspect = self._insert(tx, entry, "Artifact", urn, content, asserter, now)
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

    def list_artifacts(
        self,
        *,
        name: str | None = None,
        name_prefix: str | None = None,
        mime_type: str | None = None,
        collection: str | None = None,
        created_before: datetime | None = None,
        created_after: datetime | None = None,
        schema: str | None = None,
        status: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        reader: Reader | None = None,
        shared: bool = False,
        type: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> Page[ArtifactRecord]:
        """Artifacts newest first (by `created`, then URN, both descending), keyset-paged.

        `name` matches exactly, `name_prefix` by prefix; `created_after` is inclusive and `created_before`
        exclusive; `schema` keeps artifacts with a current aspect of that schema; `collection` keeps
        current members of that collection. With a `reader`, only what it may read; with `shared` too, only
        what others granted to it (its user or its organisation).
        """
        q = self._q
        clauses: list[str] = []
        params: dict[str, Any] = {"limit": _check_limit(limit) + 1}
        if collection is not None:
            parse_urn(collection, "collection")
            params["collection"] = collection
        for value, key, clause in (
            (name, "name", q.FILTER_NAME),
            (name_prefix, "name_prefix", q.FILTER_NAME_PREFIX),
            (mime_type, "mime_type", q.FILTER_MIME_TYPE),
            (status, "status", q.FILTER_STATUS),
        ):
            if value is not None:
                if not isinstance(value, str):
                    raise ValueError(f"{key} must be a string")
                clauses.append(clause)
                params[key] = value
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        if created_before is not None:
            clauses.append(q.FILTER_CREATED_BEFORE)
            params["created_before"] = _micros(created_before, "created_before")
        if created_after is not None:
            clauses.append(q.FILTER_CREATED_AFTER)
            params["created_after"] = _micros(created_after, "created_after")
        if schema is not None:
            entry = self.registry.get(schema)
            clauses.append(fill(q.FILTER_SCHEMA_OUT if entry.direction == "out" else q.FILTER_SCHEMA_IN, rel=entry.rel))
            params["schema"] = self.registry.full_id(entry.name)
        if status is None:
            clauses.append(q.FILTER_NOT_DELETED)  # deleted artifacts are tombstones: listed only when asked for
        content_filters: list[tuple[str, Any, bool]] = []
        if type is not None:
            if not isinstance(type, str):
                raise ValueError("type must be a string")
            content_filters.append((TYPE_SCHEMA, {"type": type}, type == "file"))  # no type aspect means file
        if labels:
            if len(labels) > MAX_LABEL_FILTERS:
                raise ValueError(f"at most {MAX_LABEL_FILTERS} label filters")
            content_filters += [(LABEL_SCHEMA, {"key": k, "value": v}, False) for k, v in labels.items()]
        for index, (schema_name, content, default) in enumerate(content_filters):
            key = f"f{index}"
            template = q.FILTER_NO_OTHER_CONTENT if default else q.FILTER_CONTENT
            clauses.append(template.replace("{key}", key))
            params[key] = canonical(content)
            params[f"{key}_schema"] = self.registry.full_id(schema_name)
        if cursor is not None:
            params["cursor_created"], params["cursor_urn"] = decode_cursor("artifacts", cursor, (int, str))
            clauses.append(q.FILTER_AFTER_CURSOR)
        if shared and reader is None:
            raise ValueError("shared needs a reader")
        if reader is not None:
            clauses.append(q.FILTER_READABLE)
            if shared:
                clauses.append(q.FILTER_SHARED)
            params.update(reader.params(self.namespace))
        head = q.LIST_ARTIFACTS_IN_COLLECTION_MATCH if collection is not None else q.LIST_ARTIFACTS_MATCH
        if clauses:
            head += (" AND " if collection is not None else " WHERE ") + " AND ".join(clauses)
        rows = self.backend.run(f"{head} {q.LIST_ARTIFACTS_RETURN}", params)
        items = [self._record(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor("artifacts", last["created"], last["urn"])
        return Page(items, next_cursor)

    def collection_members(
        self, collection_urn: str, *, limit: int = 100, cursor: str | None = None, reader: Reader | None = None
    ) -> Page[ArtifactRecord]:
        """The current members of a collection (those `reader` may read), newest first; NotFound if the
        collection was never mentioned."""
        parse_urn(collection_urn, "collection")
        self._require_node(self.backend, "Collection", collection_urn)
        return self.list_artifacts(collection=collection_urn, limit=limit, cursor=cursor, reader=reader)

    def pending_artifacts(self) -> list[ArtifactRecord]:
        """Artifacts whose upload has not completed, with what the upload recorded in `properties`."""
        return [self._record(row) for row in self.backend.run(self._q.PENDING_ARTIFACTS)]

    def abandon_artifact(self, urn: str) -> bool:
        """Mark a pending artifact `abandoned` (its upload is gone and its bytes will never come); False if it
        was not pending. Nothing is deleted: the node stays, so its URN keeps answering."""
        with self._lock:
            return bool(self.backend.run(self._q.ABANDON_ARTIFACT, {"urn": urn}))

    def is_blob_referenced(self, sha256: str) -> bool:
        """Whether an artifact that is not deleted names these bytes, as its own or as one of its files."""
        if not isinstance(sha256, str) or len(sha256) != 64 or not set(sha256) <= SHA256_HEX:
            raise ValueError("sha256 must be 64 lowercase hex digits")
        if self.backend.run(self._q.BLOB_REFERENCED, {"sha256": sha256}):
            return True
        params = {"needle": f'"sha256":"{sha256}"', "file_schema": self.registry.full_id(FILE_SCHEMA)}
        return bool(self.backend.run(self._q.HOLDS_FILE_BLOB, params))

    def referenced_blob_hashes(self) -> set[str]:
        """The bytes artifacts that are not deleted name (their own, and their files')."""
        hashes = {row["sha256"] for row in self.backend.run(self._q.REFERENCED_BLOBS)}
        rows = self.backend.run(self._q.FILE_BLOB_CONTENTS, {"file_schema": self.registry.full_id(FILE_SCHEMA)})
        for row in rows:
            sha256 = orjson.loads(row["content"]).get("sha256")
            if sha256:
                hashes.add(sha256)
        return hashes

    # -- aspects ----------------------------------------------------------------------------------

    def _prepare_edge(self, entry: SchemaEntry, entity_label: str) -> None:
        """DDL an edge needs, done before the data transaction (LadybugDB tables, Neo4j indexes)."""
        self.backend.ensure_label(entity_label)
        self.backend.ensure_connection(*self._connection_of(entry, entity_label))

    def _insert(
        self, tx: Runner, entry: SchemaEntry, label: str, entity: str, content: Any, asserter: str, now: int
    ) -> Aspect:
        if entry.link is not None:
            target = self._link_target(entry, content)
            self._touch_node(tx, entry.link.label, target, now)
            target_label, template = (
                entry.link.label,
                (self._q.INSERT_ASPECT_OUT if entry.link.direction == "out" else self._q.INSERT_ASPECT_IN),
            )
        else:
            target, target_label, template = self.registry.full_id(entry.name), "Schema", self._q.INSERT_ASPECT_OUT
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
        return self._aspect(row, entry.rel)

    def assert_aspect(self, entity: str, schema: str, content: Any, *, asserter: str) -> Aspect:
        """Validate `content` against `schema` and record it on `entity` (link schemas also make their edge)."""
        entry = self.registry.get(schema)
        label = self._label_of(entity)
        self.registry.validate(entry, content)
        asserter = _check_asserter(asserter)
        if entry.name == ARTIFACT_SCHEMA and label != "Artifact":
            raise ValidationFailed(f"{ARTIFACT_SCHEMA} describes artifacts only", "$")
        if entry.link is not None:
            self._link_target(entry, content)
        with self._lock:
            self._prepare_edge(entry, label)
            with self.backend.transaction() as tx:
                if entry.name == ARTIFACT_SCHEMA:
                    self._require_node(tx, label, entity)
                    return self._assert_artifact_content(tx, entity, entry, content, asserter, self._now())[0]
                return self._insert(tx, entry, label, entity, content, asserter, self._now())

    def assert_aspects(self, items: list[tuple[str, str, Any]], *, asserter: str) -> list[Aspect]:
        """Assert many `(entity, schema, content)` at once, all in one transaction, a few statements per
        (schema, entity kind) group. Everything is validated first; any error leaves the graph unchanged.
        `artifact.1` is not accepted here (use `complete_artifact`)."""
        if len(items) > MAX_LIMIT:
            raise ValueError(f"at most {MAX_LIMIT} aspects per batch")
        asserter = _check_asserter(asserter)
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
        q = self._q
        with self._lock:
            for name, label in groups:
                self._prepare_edge(entries[name], label)
            with self.backend.transaction() as tx:
                now = self._now()
                for (name, label), group in groups.items():
                    entry = entries[name]
                    ends = [(label, sorted({entity for entity, _, _ in group}))]
                    if entry.link is not None:
                        ends.append((entry.link.label, sorted({target for _, _, target in group})))
                    for end_label, urns in ends:
                        if end_label == "Artifact":
                            found = {
                                row["urn"] for row in tx.run(fill(q.EXISTING_NODES, label=end_label), {"urns": urns})
                            }
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
                    tx.run(
                        fill(template, src=label, dst=dst, rel=entry.rel),
                        {"rows": rows, "rel": entry.rel, "label": label},
                    )
                    aspects.extend(
                        self._aspect({**row, "valid_to": None, "retracted_by": None}, entry.rel) for row in rows
                    )
        return aspects

    def create_artifacts(self, items: list[dict[str, Any]]) -> None:
        """Many `create_artifact` at once: each item has `urn`, `name`, `uploader`, optional `created`, `properties`."""
        if len(items) > MAX_LIMIT:
            raise ValueError(f"at most {MAX_LIMIT} artifacts per batch")
        rows = []
        for item in items:
            parse_urn(item["urn"], "artifact")
            created = item.get("created")
            rows.append(
                {
                    "urn": item["urn"],
                    "name": item["name"],
                    "uploader": _check_asserter(item["uploader"]),
                    "created": _micros(created, "created") if created is not None else self._now(),
                    "props": canonical(item.get("properties") or {}),
                    "org": self._org(item.get("org")),
                }
            )
        with self._lock, self.backend.transaction() as tx:
            tx.run(self._q.CREATE_ARTIFACTS, {"rows": rows})

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
        return self._aspect(rows[0], rel)

    def get_aspect(self, urn: str, *, reader: Reader | None = None) -> Aspect:
        """One aspect; NotFound too if `reader` may not read its entity (or, for a grant, manage it)."""
        aspect = self._get(self.backend, urn)
        if reader is not None and self._label_of(aspect.entity) == "Artifact":
            record = self._readable_record(aspect.entity, reader)
            if aspect.rel == GRANT_REL and not reader.may_manage(record):
                raise NotFound(f"no aspect {urn!r}")
        return aspect

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

    def retract_aspect(self, urn: str, *, asserter: str) -> Aspect:
        """Close the aspect's validity now; Conflict if it was already retracted."""
        asserter = _check_asserter(asserter)
        with self._lock:
            aspect = self._get(self.backend, urn)
            if aspect.valid_to is not None:
                raise Conflict(f"aspect {urn} is already retracted")
            with self.backend.transaction() as tx:
                self._close(tx, aspect, asserter, self._now())
            return self._get(self.backend, urn)

    def update_aspect(self, urn: str, content: Any, *, asserter: str) -> Aspect:
        """Retract the aspect and assert `content` in its place (same entity, same schema), in one transaction."""
        asserter = _check_asserter(asserter)
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
                if entry.name == ARTIFACT_SCHEMA:
                    return self._assert_artifact_content(tx, old.entity, entry, content, asserter, now)[0]
                self._close(tx, old, asserter, now)
                return self._insert(tx, entry, label, old.entity, content, asserter, now)

    def _query_rel(
        self,
        runner: Runner,
        rel: str,
        label: str | None,
        entity: str | None,
        schema: str,
        at: int,
        include_retracted: bool,
        after_from: int,
        after_urn: str,
        limit: int,
        reader: Reader | None = None,
    ) -> list[dict[str, Any]]:
        params = {
            "schema": schema,
            "at": at,
            "include_retracted": include_retracted,
            "after_from": after_from,
            "after_urn": after_urn,
            "limit": limit,
        }
        if reader is not None and entity is None:
            params.update(reader.params(self.namespace), r_need_manage=rel == GRANT_REL)
            return runner.run(fill(self._q.QUERY_VISIBLE_ASPECTS, rel=rel), params)
        if entity is not None:
            assert label is not None
            return runner.run(fill(self._q.QUERY_ASPECTS_OF_ENTITY, label=label, rel=rel), {**params, "entity": entity})
        return runner.run(fill(self._q.QUERY_ASPECTS, rel=rel), params)

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
        _check_limit(limit)
        entry = self.registry.get(schema) if schema is not None else None
        label = None
        if entity is not None:
            label = self._label_of(entity)
            self._require_node(self.backend, label, entity)
        after_from, after_urn = decode_cursor("aspects", cursor, (int, str)) if cursor else (-1, "")
        at_micros = _micros(at, "at") if at is not None else FAR_FUTURE
        schema_id = self.registry.full_id(entry.name) if entry else ""
        rels = [entry.rel] if entry else self.registry.rels()
        if reader is not None and entity is not None and label == "Artifact":
            if not reader.may_manage(self._readable_record(entity, reader)):
                rels = [
                    rel for rel in rels if rel != GRANT_REL
                ]  # user schemas may not use GRANTED_TO: only grants are dropped
        return self._aspects_page(
            rels, label, entity, schema_id, at_micros, include_retracted, after_from, after_urn, limit, reader
        )

    def _aspects_page(
        self,
        rels: list[str],
        label: str | None,
        entity: str | None,
        schema_id: str,
        at: int,
        include_retracted: bool,
        after_from: int,
        after_urn: str,
        limit: int,
        reader: Reader | None,
    ) -> Page[Aspect]:
        """One page of aspects over `rels`, merged by (valid_from, urn); the entity's existence and the reader's
        right to it are the caller's to check."""
        rows: dict[str, tuple[dict[str, Any], str]] = {}
        for rel in rels:
            found = self._query_rel(
                self.backend,
                rel,
                label,
                entity,
                schema_id,
                at,
                include_retracted,
                after_from,
                after_urn,
                limit + 1,
                reader,
            )
            for row in found:
                rows.setdefault(row["urn"], (row, rel))
        ordered = sorted(rows.values(), key=lambda item: (item[0]["valid_from"], item[0]["urn"]))
        items = [self._aspect(row, rel) for row, rel in ordered[:limit]]
        next_cursor = None
        if len(ordered) > limit:
            last = ordered[limit - 1][0]
            next_cursor = encode_cursor("aspects", last["valid_from"], last["urn"])
        return Page(items, next_cursor)

    # -- schemas ----------------------------------------------------------------------------------

    def register_schema(self, schema: dict[str, Any], *, asserter: str) -> dict[str, Any]:
        """Register a user schema (kept in the graph, reloaded at start). The same schema again is a no-op;
        another schema under a registered id is a Conflict."""
        asserter = _check_asserter(asserter)
        with self._lock:
            entry = self.registry.prepare(schema)
            if entry is None:
                return self.registry.document(self.registry.get(schema["$id"]))
            self._prepare_schema(entry)
            self._save_schema(self.backend, entry, asserter, self._now())
            self.registry.add(entry)
            return self.registry.document(entry)

    def get_schema(self, schema_id: str) -> dict[str, Any]:
        return self.registry.document(self.registry.get(schema_id))

    def list_schemas(self) -> list[dict[str, Any]]:
        return [self.registry.document(entry) for entry in self.registry.entries()]

    # -- lineage ----------------------------------------------------------------------------------

    def lineage(
        self,
        urn: str,
        *,
        direction: str = "upstream",
        depth: int = 10,
        at: datetime | None = None,
        node_limit: int = 10_000,
        time_limit: float = 5.0,
        reader: Reader | None = None,
        redact: Callable[[str], str] | None = None,
    ) -> Lineage:
        """The lineage graph around an artifact or order; see `aspects.lineage.walk`.

        With a `reader`: NotFound if the root is an artifact it may not read; every other artifact it may not
        read is kept (the shape of the provenance stays honest) as a redacted node, `{"urn": redact(urn),
        "kind": "artifact", "redacted": true}`, and the aspects of its edges are not named.
        """
        if direction not in ("upstream", "downstream", "both"):
            raise ValueError("direction must be upstream, downstream or both")
        if not isinstance(depth, int) or not 0 <= depth <= MAX_DEPTH:
            raise ValueError(f"depth must be an integer from 0 to {MAX_DEPTH}")
        if node_limit < 1:
            raise ValueError("node_limit must be at least 1")
        label = self._label_of(urn)
        template = self._q.LINEAGE_ROOT if label == "Artifact" else self._q.LINEAGE_ROOT_PLAIN
        rows = self.backend.run(fill(template, label=label), {"urn": urn})
        if not rows:
            raise NotFound(f"no {label.lower()} {urn!r}")
        if reader is not None and label == "Artifact":
            self._readable_record(urn, reader)
        graph = walk(
            self.backend,
            rows[0],
            rels=self.registry.lineage_rels(),
            direction=direction,
            depth=depth,
            at=_micros(at, "at") if at is not None else FAR_FUTURE,
            node_limit=node_limit,
            time_limit=time_limit,
        )
        if reader is None:
            return graph
        return self._redacted(graph, reader, redact or self._default_redact)

    def _default_redact(self, urn: str) -> str:
        return f"urn:{self.namespace}:redacted:{hashlib.blake2b(urn.encode(), digest_size=16).hexdigest()}"

    def _redacted(self, graph: Lineage, reader: Reader, redact: Callable[[str], str]) -> Lineage:
        artifacts = [node["urn"] for node in graph.nodes if node["kind"] == "artifact" and node["urn"] != graph.root]
        hidden = set(artifacts) - self.readable_artifacts(artifacts, reader)
        if not hidden:
            return graph
        nodes = [
            {"urn": redact(node["urn"]), "kind": "artifact", "redacted": True} if node["urn"] in hidden else node
            for node in graph.nodes
        ]
        edges = []
        for edge in graph.edges:
            if edge["from"] in hidden or edge["to"] in hidden:
                edge = {**edge, "aspect": None}
                edge["from"] = redact(edge["from"]) if edge["from"] in hidden else edge["from"]
                edge["to"] = redact(edge["to"]) if edge["to"] in hidden else edge["to"]
            edges.append(edge)
        return Lineage(root=graph.root, nodes=nodes, edges=edges, truncated=graph.truncated)

    # -- life -------------------------------------------------------------------------------------

    def ping(self) -> None:
        """Raise if the graph cannot be reached."""
        self.backend.ping()

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> AspectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(
    graph_url: str | None,
    data_dir: Path,
    *,
    neo4j_user: str | None = None,
    neo4j_password: str | None = None,
    neo4j_database: str | None = None,
    namespace: str = "fabric",
) -> AspectStore:
    """LadybugDB at `data_dir/graph` when `graph_url` is empty; Neo4j for `bolt://`/`neo4j://` URLs."""
    backend = open_backend(
        graph_url, data_dir, neo4j_user=neo4j_user, neo4j_password=neo4j_password, neo4j_database=neo4j_database
    )
    return AspectStore(backend, namespace)
