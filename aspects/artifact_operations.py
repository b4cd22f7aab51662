"""Artifacts: created pending, completed with `artifact.1`, read with their current aspects, listed, abandoned."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from aspects.artifact_filter import ArtifactFilter
from aspects.artifact_order import SORTED_IN_MEMORY, ArtifactOrder, Key, sort_value
from aspects.backends import Runner
from aspects.backends.cypher import fill
from aspects.checks import MAX_LIMIT, check_asserter, check_limit, check_sha256, micros
from aspects.cursors import decode_cursor, encode_cursor
from aspects.errors import AspectError, Conflict, NotFound
from aspects.model import ArtifactRecord, Aspect, Page, to_micros
from aspects.reader import GRANT_REL, Reader
from aspects.rows import aspect_from_row, canonical, record_from_row
from aspects.store_core import ARTIFACT_SCHEMA, StoreCore
from aspects.urns import parse_urn

STATUSES = ("pending", "draft", "ready", "abandoned", "deleted")
TYPE_SCHEMA = "artifact-type.1"
LABEL_SCHEMA = "artifact-label.1"
FILE_SCHEMA = "artifact-file.1"
MAX_LABEL_FILTERS = 8
ORDER_SCAN_BUDGET = 1024  # candidates a listing looks up by key before the graph sorts the rest
# The orders a listing may take: the Cypher expression sorted on, and the type of its value in a cursor.
SORT_KEYS: dict[str, tuple[str, type]] = {
    "created": ("a.created", int),
    "name": ("a.name", str),
    "size": ("coalesce(a.size, -1)", int),
}


def _org(org: Any) -> str | None:
    if org is None:
        return None
    parse_urn(org, "org")
    return str(org)


@dataclass(frozen=True, slots=True)
class _Completion:
    """One `complete_artifact`, as the group commit combines them: `creation` are `create_artifact`'s parameters."""

    urn: str
    content: dict[str, Any]
    asserter: str
    creation: dict[str, Any] | None


# The properties a pending artifact holds from its creation that its `artifact.1` normally repeats: when all
# three are the same, its completion sets only the others (`SET_ARTIFACTS_CONTENT`).
_KEPT_AT_COMPLETION = ("name", "created", "uploader")


def _ready_params(urn: str, content: dict[str, Any]) -> dict[str, Any]:
    """The node properties `artifact.1` sets, as a row of `SET_ARTIFACTS_READY` (or of `SET_ARTIFACTS_CONTENT`,
    which uses all but `name`, `created` and `uploader`)."""
    return {
        "urn": urn,
        "name": content["name"],
        "mime_type": content["mime_type"],
        "size": content["size"],
        "md5": content.get("md5") or "",  # absent values are '' in UNWIND rows (`queries._artifact_values`)
        "sha256": content["sha256"],
        "location": content["location"],
        "created": to_micros(datetime.fromisoformat(content["created"])),
        "uploader": content["uploader"],
    }


def _creation_only(creation: dict[str, Any] | None) -> dict[str, Any]:
    """What a creation sets that `artifact.1` does not (`_creation_params`' `props` and `org`)."""
    assert creation is not None
    return {"props": creation["props"], "org": creation["org"] or ""}


@dataclass(frozen=True, slots=True)
class NewArtifact:
    """What `create_artifact` takes, for a creation deferred to the artifact's completion (`complete_artifact`'s
    `create`): the node and its content then cost one commit instead of two."""

    name: str
    uploader: str
    created: datetime | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    org: str | None = None


class ArtifactOperations(StoreCore):
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
        params = self._creation_params(urn, NewArtifact(name, uploader, created, properties or {}, org))
        row = self._group.run_combined(self._create_many, params)
        self._place(row)
        return record_from_row(row)

    def create_pending_artifacts(self, items: Sequence[tuple[str, NewArtifact]]) -> list[ArtifactRecord | Exception]:
        """`create_artifact` of every (urn, new artifact), all in one job of the group commit (one transaction,
        a statement per step): each artifact as it is then, or the exception that item alone fails with. For a
        caller that has a batch in hand (the server's lane of upload creations)."""
        outcomes: list[ArtifactRecord | Exception | None] = [None] * len(items)
        params: list[dict[str, Any]] = []
        positions: list[int] = []
        for position, (urn, new) in enumerate(items):
            try:
                params.append(self._creation_params(urn, new))
            except (AspectError, ValueError) as exc:
                outcomes[position] = exc
                continue
            positions.append(position)
        if params:
            self._settle(outcomes, positions, self._group.run(lambda tx: self._create_many(tx, params)))
        return [outcome for outcome in outcomes if outcome is not None]

    def _settle(
        self,
        outcomes: list[ArtifactRecord | Exception | None],
        positions: list[int],
        rows: list[dict[str, Any] | Exception],
    ) -> None:
        """A batch's written rows placed in the listing orders and turned into records, at their items' positions;
        an item's exception kept as its outcome."""
        for position, row in zip(positions, rows, strict=True):
            if isinstance(row, Exception):
                outcomes[position] = row
            else:
                self._place(row)
                outcomes[position] = record_from_row(row)

    def _create_many(self, tx: Runner, items: list[dict[str, Any]]) -> list[dict[str, Any] | Exception]:
        """`create_artifact` of every item, a statement per step for all (the group commit combines them)."""
        rows = {row["urn"]: row for row in tx.run(self._q.GET_ARTIFACTS, {"urns": [i["urn"] for i in items]})}
        missing = [
            {**item, "org": item["org"] or ""}  # absent values are '' in UNWIND rows (`queries._artifact_values`)
            for item in {i["urn"]: i for i in items if i["urn"] not in rows}.values()  # the first of each URN
        ]
        if missing:
            rows.update((row["urn"], row) for row in tx.run(self._q.CREATE_NEW_ARTIFACTS, {"rows": missing}))
        return [rows[item["urn"]] for item in items]

    def _creation_params(self, urn: str, new: NewArtifact) -> dict[str, Any]:
        parse_urn(urn, "artifact")
        if not isinstance(new.name, str) or not new.name:
            raise ValueError("name must be a non-empty string")
        return {
            "urn": urn,
            "name": new.name,
            "uploader": check_asserter(new.uploader),
            "created": micros(new.created, "created") if new.created is not None else self._now(),
            "props": canonical(new.properties),
            "org": _org(new.org),
        }

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
                    "uploader": check_asserter(item["uploader"]),
                    "created": micros(created, "created") if created is not None else self._now(),
                    "props": canonical(item.get("properties") or {}),
                    "org": _org(item.get("org")),
                }
            )
        with self._lock:
            with self.backend.transaction() as tx:
                tx.run(self._q.CREATE_ARTIFACTS, {"rows": rows})
            for sort, order in self._orders.items():
                order.place_new((sort_value(sort, {**row, "size": None}), row["urn"]) for row in rows)

    def _load_order(self) -> None:
        """At start, on an exclusive backend: every artifact's (key, urn) for each order a listing may take."""
        if self.backend.exclusive:
            rows = self.backend.run(self._q.ARTIFACT_KEYS)
            self._orders = {
                sort: ArtifactOrder((key, row["urn"]) for row in rows if (key := sort_value(sort, row)) is not None)
                for sort in SORTED_IN_MEMORY
            }

    def get_artifact(
        self, urn: str, *, reader: Reader | None = None, aspects: bool = True, linked_by: Sequence[str] = ()
    ) -> ArtifactRecord:
        """The artifact with its current aspects (unless `aspects=False`, for paths that need only the record, such
        as a download); NotFound too if `reader` may not read it (existence is not revealed). With aspects, the
        current link aspects of other entities of the schemas `linked_by` that point at it come in `linked_by`
        (a repository's versions: so a page of the artifact needs no second read).

        Its grants are among the aspects only for a reader who may manage it. One round trip either way."""
        parse_urn(urn, "artifact")
        if not aspects:
            return self._readable_record(urn, reader)
        params = {"urn": urn, "linking": [self.registry.full_id(self.registry.name_of(s)) for s in linked_by]}
        rows = self.backend.run(fill(self._q.GET_ARTIFACT_WITH_ASPECTS, rels=self.registry.rels()), params)
        if not rows:
            raise NotFound(f"no artifact {urn!r}")
        own: list[dict[str, Any]] = []
        others: list[dict[str, Any]] = []
        for row in rows:
            (own if row["aspect_entity"] in (urn, None) else others).append(row)
        if reader is not None:
            links = ((row["aspect_schema"], row["aspect_target"], row["aspect_valid_from"]) for row in own)
            if not self._may_read(reader, rows[0], links):
                raise NotFound(f"no artifact {urn!r}")
        record = record_from_row(rows[0])
        record.aspects = self._current_aspects(own, hide_grants=reader is not None and not reader.may_manage(record))
        if linked_by:
            record.linked_by = self._current_aspects(others, hide_grants=False)
        return record

    def _current_aspects(self, rows: list[dict[str, Any]], *, hide_grants: bool) -> list[Aspect]:
        """The aspects in the rows of `GET_ARTIFACT_WITH_ASPECTS`, oldest first by (valid_from, urn); grants are
        seen only by those who manage the artifact."""
        found: dict[str, Aspect] = {}
        for row in rows:
            if row["aspect_urn"] is None or row["aspect_urn"] in found:
                continue
            rel = self.registry.get(row["aspect_schema"]).rel
            if hide_grants and rel == GRANT_REL:
                continue
            found[row["aspect_urn"]] = aspect_from_row(
                {key.removeprefix("aspect_"): value for key, value in row.items() if key.startswith("aspect_")}, rel
            )
        return sorted(found.values(), key=lambda aspect: (aspect.valid_from, aspect.urn))

    def complete_artifact(
        self, urn: str, content: dict[str, Any], *, asserter: str, create: NewArtifact | None = None
    ) -> ArtifactRecord:
        """Assert `artifact.1` and make the artifact `ready`; a repeat with the same sha256 changes nothing, even
        once the artifact has moved on (a completion repeated after a crash never revives a deleted artifact).

        With `create`, the artifact is first created (pending, as `create_artifact` would, unless it exists) in the
        same transaction: an upload whose bytes came in its creation request writes the graph once."""
        parse_urn(urn, "artifact")
        entry = self.registry.get(ARTIFACT_SCHEMA)
        self.registry.validate(entry, content)
        asserter = check_asserter(asserter)
        creation = self._creation_params(urn, create) if create is not None else None
        self._prepare_edge(entry, "Artifact")  # DDL (the backend serialises it), never inside the shared transaction
        row = self._group.run_combined(self._complete_many, _Completion(urn, content, asserter, creation))
        self._place(row)
        return record_from_row(row)

    def complete_artifacts(
        self, items: Sequence[tuple[str, dict[str, Any], str, NewArtifact | None]]
    ) -> list[ArtifactRecord | Exception]:
        """`complete_artifact` of every (urn, content, asserter, create), all in one job of the group commit (one
        transaction, a statement per step): what each artifact became, or the exception that item alone fails
        with (invalid, `NotFound`, `Conflict`), having written nothing. For a caller that has a batch in hand,
        where `complete_artifact` from one thread would commit each alone."""
        entry = self.registry.get(ARTIFACT_SCHEMA)
        outcomes: list[ArtifactRecord | Exception | None] = [None] * len(items)
        completions: list[_Completion] = []
        positions: list[int] = []
        for position, (urn, content, asserter, create) in enumerate(items):
            try:
                parse_urn(urn, "artifact")
                self.registry.validate(entry, content)
                checked = check_asserter(asserter)
                creation = self._creation_params(urn, create) if create is not None else None
            except (AspectError, ValueError) as exc:
                outcomes[position] = exc
                continue
            completions.append(_Completion(urn, content, checked, creation))
            positions.append(position)
        if completions:
            self._prepare_edge(entry, "Artifact")
            self._settle(outcomes, positions, self._group.run(lambda tx: self._complete_many(tx, completions)))
        return [outcome for outcome in outcomes if outcome is not None]

    def _complete_many(self, tx: Runner, items: list[_Completion]) -> list[dict[str, Any] | Exception]:
        """`complete_artifact` of every item, a statement per step for all (the group commit combines them):
        the nodes read; those missing with a creation created ready, the others not ready yet made ready; their
        `artifact.1` inserted. An item that fails (NotFound, Conflict) writes nothing.

        The current `artifact.1` is closed first only where there may be one: it is asserted only together with
        `ready`, and nothing makes an artifact `pending` again (`abandoned` only comes from `pending`)."""
        q, entry = self._q, self.registry.get(ARTIFACT_SCHEMA)
        rows = {row["urn"]: row for row in tx.run(q.GET_ARTIFACTS, {"urns": list({i.urn for i in items})})}
        outcomes: list[dict[str, Any] | Exception] = []
        writes: dict[str, tuple[int, _Completion]] = {}  # urn -> (position, item): the first write of each URN
        repeats: list[tuple[int, int]] = []  # (position, position of the write it repeats)
        creates, updates, closes = [], [], []
        for item in items:
            row, first = rows.get(item.urn), writes.get(item.urn)
            sha256 = first[1].content["sha256"] if first else row["sha256"] if row else None
            if first is None and row is None and item.creation is None:
                outcomes.append(NotFound(f"no artifact {item.urn!r}"))
                continue
            if first is None and row is not None and row["sha256"] == item.content["sha256"]:
                pass  # complete already with these bytes: a repeat changes nothing, whatever the status since
            elif first is None and (row is None or row["status"] != "ready"):
                writes[item.urn] = (len(outcomes), item)
                if row is None:
                    creates.append(item)
                else:
                    updates.append(item)
                    if row["status"] not in ("pending", "abandoned"):
                        closes.append(item)
            elif sha256 != item.content["sha256"]:
                outcomes.append(
                    Conflict(f"artifact {item.urn} is already complete with other content (sha256 {sha256})")
                )
                continue
            elif first is not None:
                repeats.append((len(outcomes), first[0]))
            outcomes.append(row or {})  # a write's and a repeat's replaced below by the row the write returns
        if not writes:
            return outcomes
        schema, rel = self.registry.full_id(entry.name), entry.rel
        now = {urn: self._now() for urn in writes}
        if closes:
            retractions = [{"entity": i.urn, "now": now[i.urn], "retracted_by": i.asserter} for i in closes]
            tx.run(fill(q.CLOSE_CURRENT_CONTENTS, rel=rel), {"rows": retractions, "schema": schema})
        written: dict[str, dict[str, Any]] = {}
        if creates:
            ready = [{**_ready_params(i.urn, i.content), **_creation_only(i.creation)} for i in creates]
            written.update((row["urn"], row) for row in tx.run(q.CREATE_READY_ARTIFACTS, {"rows": ready}))
        aspects = [
            {
                "urn": f"urn:{self.namespace}:aspect:{uuid.uuid4()}",
                "schema": schema,
                "entity": urn,
                "target": schema,
                "content": canonical(item.content),
                "asserter": item.asserter,
                "valid_from": now[urn],
            }
            for urn, (_, item) in writes.items()
        ]
        insert = fill(q.INSERT_ASPECTS_OUT, src="Artifact", dst="Schema", rel=rel)
        tx.run(insert, {"rows": aspects, "rel": rel, "label": "Artifact"})
        if updates:
            kept: list[dict[str, Any]] = []
            changed: list[dict[str, Any]] = []
            for item in updates:
                params, row = _ready_params(item.urn, item.content), rows[item.urn]
                same = all(row[key] == params[key] for key in _KEPT_AT_COMPLETION)
                (kept if same else changed).append(params)
            for query, ready in ((q.SET_ARTIFACTS_CONTENT, kept), (q.SET_ARTIFACTS_READY, changed)):
                if ready:
                    written.update((row["urn"], row) for row in tx.run(query, {"rows": ready}))
        for position, item in writes.values():
            outcomes[position] = written[item.urn]
        for position, of in repeats:
            outcomes[position] = outcomes[of]
        return outcomes

    def list_artifacts(
        self,
        where: ArtifactFilter | None = None,
        *,
        limit: int = 100,
        cursor: str | None = None,
        sort: str = "created",
        descending: bool = True,
    ) -> Page[ArtifactRecord]:
        """The artifacts `where` selects (all of them without it), newest first (by `created`, then URN, both
        descending), keyset-paged; or by `sort` (`created`, `name` or `size`, a size unknown yet counting as -1)
        in either direction, ties broken by URN."""
        where = where or ArtifactFilter()
        q = self._q
        if sort not in SORT_KEYS:
            raise ValueError(f"sort must be one of {', '.join(SORT_KEYS)}")
        clauses, params = self._list_filters(where)
        in_collection = where.collection is not None
        params["limit"] = check_limit(limit) + 1
        if sort != "created" or not descending:
            reader = None if where.shared else where.reader
            return self._list_sorted(clauses, params, in_collection, sort, descending, cursor, limit, reader)
        if cursor is not None:
            params["cursor_created"], params["cursor_urn"] = decode_cursor("artifacts", cursor, (int, str))
            clauses.append(q.FILTER_AFTER_CURSOR)
        if "created" in self._orders and not in_collection:
            rows = self._list_in_order(clauses, params, None if where.shared else where.reader)
        else:
            rows = self._list_sorted_by_graph(clauses, params, in_collection)
        items = [record_from_row(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor("artifacts", last["created"], last["urn"])
        return Page(items, next_cursor)

    def count_artifacts(self, where: ArtifactFilter | None = None) -> int:
        """How many artifacts `list_artifacts` with this filter lists over all its pages (one counting query)."""
        where = where or ArtifactFilter()
        clauses, params = self._list_filters(where)
        in_collection = where.collection is not None
        tail = self._q.COUNT_ARTIFACTS_RETURN if in_collection else self._q.COUNT_ALL_ARTIFACTS_RETURN
        rows = self.backend.run(f"{self._list_head(clauses, in_collection, counting=True)} {tail}", params)
        return int(rows[0]["total"]) if rows else 0

    def _list_filters(self, where: ArtifactFilter) -> tuple[list[str], dict[str, Any]]:
        """The WHERE clauses (joined with AND) and parameters of a listing's filters, the access predicate included."""
        q = self._q
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if where.collection is not None:
            parse_urn(where.collection, "collection")
            params["collection"] = where.collection
        for value, key, clause in (
            (where.name, "name", q.FILTER_NAME),
            (where.name_prefix, "name_prefix", q.FILTER_NAME_PREFIX),
            (where.mime_type, "mime_type", q.FILTER_MIME_TYPE),
            (where.status, "status", q.FILTER_STATUS),
            (where.uploader, "uploader", q.FILTER_UPLOADER),
            (where.org, "org", q.FILTER_ORG),
        ):
            if value is not None:
                if not isinstance(value, str):
                    raise ValueError(f"{key} must be a string")
                clauses.append(clause)
                params[key] = value
        if where.status is not None and where.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        if where.created_before is not None:
            clauses.append(q.FILTER_CREATED_BEFORE)
            params["created_before"] = micros(where.created_before, "created_before")
        if where.created_after is not None:
            clauses.append(q.FILTER_CREATED_AFTER)
            params["created_after"] = micros(where.created_after, "created_after")
        if where.schema is not None:
            entry = self.registry.get(where.schema)
            clauses.append(fill(q.FILTER_SCHEMA_OUT if entry.direction == "out" else q.FILTER_SCHEMA_IN, rel=entry.rel))
            params["schema"] = self.registry.full_id(entry.name)
        if where.status is None:
            clauses.append(q.FILTER_LISTED)  # tombstones and abandoned uploads: listed only when asked for
        content_filters: list[tuple[str, Any, bool]] = []
        if where.type is not None:
            if not isinstance(where.type, str):
                raise ValueError("type must be a string")
            content_filters.append((TYPE_SCHEMA, {"type": where.type}, where.type == "file"))  # no type aspect: file
        if where.labels:
            if len(where.labels) > MAX_LABEL_FILTERS:
                raise ValueError(f"at most {MAX_LABEL_FILTERS} label filters")
            content_filters += [(LABEL_SCHEMA, {"key": k, "value": v}, False) for k, v in where.labels.items()]
        for index, (schema_name, content, default) in enumerate(content_filters):
            key = f"f{index}"
            template = q.FILTER_NO_OTHER_CONTENT if default else q.FILTER_CONTENT
            clauses.append(template.replace("{key}", key))
            params[key] = canonical(content)
            params[f"{key}_schema"] = self.registry.full_id(schema_name)
        reader = where.reader
        if where.shared and reader is None:
            raise ValueError("shared needs a reader")
        if reader is not None:
            clauses.append(q.FILTER_READABLE)
            if where.shared:
                clauses.append(q.FILTER_SHARED)
            if where.uploader is not None and where.uploader != reader.user:
                clauses.append(q.FILTER_UPLOADER_SEEN)  # an uploader is matched only where the reader sees it
            params.update(reader.params(self.namespace))
        return clauses, params

    def _list_head(self, clauses: list[str], in_collection: bool, counting: bool = False) -> str:
        q = self._q
        head = q.LIST_ARTIFACTS_IN_COLLECTION_MATCH if in_collection else q.LIST_ALL_ARTIFACTS_MATCH
        # A listing starts from a content filter's edges only without a sort index (the orders kept in memory).
        if not in_collection and (counting or self._orders):
            content_keys = {q.FILTER_CONTENT.replace("{key}", f"f{i}"): f"f{i}" for i in range(MAX_LABEL_FILTERS + 1)}
            leading = next((c for c in clauses if c in content_keys), None)
            if leading is not None:  # start from the first content filter's edges; it need not be checked again
                head = q.LIST_ARTIFACTS_WITH_CONTENT_MATCH.replace("{key}", content_keys[leading])
                clauses = [c for c in clauses if c != leading]
        if clauses:
            open_where = " WHERE " in head.rsplit(" WITH ", 1)[-1]  # the head's last part has a WHERE to extend
            head += (" AND " if open_where else " WHERE ") + " AND ".join(clauses)
        return head

    def _list_sorted(
        self,
        clauses: list[str],
        params: dict[str, Any],
        in_collection: bool,
        sort: str,
        descending: bool,
        cursor: str | None,
        limit: int,
        reader: Reader | None = None,
    ) -> Page[ArtifactRecord]:
        """A page in another order than newest first (keyset on the sort key, then URN): walked in the in-memory
        order where the store keeps one, else sorted by the graph."""
        kind = f"artifacts-{sort}-{'desc' if descending else 'asc'}"
        after: Key | None = None
        if cursor is not None:
            cursor_key, cursor_urn = decode_cursor(kind, cursor, (SORT_KEYS[sort][1], str))
            after = (cursor_key, cursor_urn)
        order = None if in_collection else self._orders.get(sort)
        if order is not None:
            rows = self._walk_order(order, sort, descending, clauses, params, after, reader)
        else:
            rows = self._graph_sorted(clauses, params, in_collection, sort, descending, after, params["limit"])
        items = [record_from_row(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            next_cursor = encode_cursor(kind, sort_value(sort, rows[limit - 1]), rows[limit - 1]["urn"])
        return Page(items, next_cursor)

    def _graph_sorted(
        self,
        clauses: list[str],
        params: dict[str, Any],
        in_collection: bool,
        sort: str,
        descending: bool,
        after: Key | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Up to `limit` rows beyond the key `after` (from the start if None), sorted by the graph."""
        key = SORT_KEYS[sort][0]
        cmp, direction = ("<", "DESC") if descending else (">", "ASC")
        params = {**params, "limit": limit}
        if after is not None:
            params["cursor_key"], params["cursor_urn"] = after
            clauses = [*clauses, self._q.FILTER_AFTER_SORT_CURSOR.replace("{key}", key).replace("{cmp}", cmp)]
        tail = self._q.LIST_ARTIFACTS_SORTED_RETURN.replace("{key}", key).replace("{direction}", direction)
        return self.backend.run(f"{self._list_head(clauses, in_collection)} {tail}", params)

    def _walk_order(
        self,
        order: ArtifactOrder,
        sort: str,
        descending: bool,
        clauses: list[str],
        params: dict[str, Any],
        after: Key | None,
        reader: Reader | None = None,
    ) -> list[dict[str, Any]]:
        """The rows of a listing (`params["limit"]` of them at most) in the order `sort`: candidates taken from the
        in-memory order beyond `after` and filtered in the graph a chunk at a time. After `ORDER_SCAN_BUDGET`
        candidates (or sooner, when the filters keep too few of them to fill the page within it), or if the order is
        found stale, the graph sorts the rest (exactly what `_graph_sorted` gives).

        With `reader`, a chunk is read without the access predicate and `_readable_rows` keeps what it may read."""
        q = self._q
        wanted: int = params["limit"]
        checked = [clause for clause in clauses if clause != q.FILTER_READABLE] if reader is not None else clauses
        statement = q.LIST_ARTIFACTS_AMONG_MATCH
        if checked:
            statement += " WHERE " + " AND ".join(checked)
        statement += " " + q.LIST_ARTIFACTS_AMONG_RETURN
        found: list[dict[str, Any]] = []
        scanned = 0
        last = after
        for chunk in order.walk(after, max(2 * wanted, 64), descending):
            rows = {row["urn"]: row for row in self.backend.run(statement, {**params, "urns": [u for _, u in chunk]})}
            if reader is not None:
                rows = self._readable_rows(rows, reader)
            for key, urn in chunk:
                row = rows.get(urn)
                if row is None:
                    continue
                if sort_value(sort, row) != key:  # stale: correct it, and let the graph sort this listing
                    order.place(urn, sort_value(sort, row))
                    return self._graph_sorted(clauses, params, False, sort, descending, after, wanted)
                found.append(row)
                if len(found) == wanted:
                    return found
            scanned += len(chunk)
            last = chunk[-1]
            # Stop walking as soon as the budget is spent, or when at the rate found so far it would be spent before
            # the page is full: a chunk costs LadybugDB 0.6 ms to look up and 2.5 ms more through the access
            # predicate, where the graph sorts 100,000 artifacts with the predicate in about 28 ms.
            if scanned >= ORDER_SCAN_BUDGET or len(found) * ORDER_SCAN_BUDGET < wanted * scanned:
                break
        else:
            return found
        # A selective filter: the graph sorts what lies beyond the last candidate looked at.
        return found + self._graph_sorted(clauses, params, False, sort, descending, last, wanted - len(found))

    def _list_sorted_by_graph(
        self, clauses: list[str], params: dict[str, Any], in_collection: bool
    ) -> list[dict[str, Any]]:
        tail = self._q.LIST_ARTIFACTS_RETURN if in_collection else self._q.LIST_ALL_ARTIFACTS_RETURN
        return self.backend.run(f"{self._list_head(clauses, in_collection)} {tail}", params)

    def _list_in_order(
        self, clauses: list[str], params: dict[str, Any], reader: Reader | None = None
    ) -> list[dict[str, Any]]:
        """The rows of a newest-first listing, walked in the in-memory order of `created` (see `_walk_order`)."""
        after: Key | None = None
        if "cursor_created" in params:
            params = dict(params)
            after = (params.pop("cursor_created"), params.pop("cursor_urn"))
            clauses = [clause for clause in clauses if clause != self._q.FILTER_AFTER_CURSOR]
        return self._walk_order(self._orders["created"], "created", True, clauses, params, after, reader)

    def _readable_rows(self, rows: dict[str, dict[str, Any]], reader: Reader) -> dict[str, dict[str, Any]]:
        """Those of `rows` (by URN) that `reader` may read: its own and its organisation's decided from the columns,
        the rest by the `READABLE` predicate in one statement if there are any (on LadybugDB the predicate's
        subqueries cost about 40 µs a row, so a page of one's own artifacts skips them)."""
        doubtful = {urn for urn, row in rows.items() if not self._may_read(reader, row, ())}
        if not doubtful:
            return rows
        params = {"urns": sorted(doubtful), **reader.params(self.namespace)}
        readable = {row["urn"] for row in self.backend.run(self._q.READABLE_AMONG, params)}
        return {urn: row for urn, row in rows.items() if urn in readable or urn not in doubtful}

    def collection_members(
        self, collection_urn: str, *, limit: int = 100, cursor: str | None = None, reader: Reader | None = None
    ) -> Page[ArtifactRecord]:
        """The current members of a collection (those `reader` may read), newest first; NotFound if the
        collection was never mentioned."""
        parse_urn(collection_urn, "collection")
        self._require_node(self.backend, "Collection", collection_urn)
        return self.list_artifacts(ArtifactFilter(collection=collection_urn, reader=reader), limit=limit, cursor=cursor)

    def seal_artifact(self, urn: str, size: int) -> bool:
        """A draft becomes `ready` with its files' total `size`; False if it was no draft. Goes through the store
        (not the lifecycle's own statements) so that the in-memory orders learn the size."""
        with self._lock:
            rows = self.backend.run(self._q.SEAL_ARTIFACT, {"urn": urn, "size": size})
        if rows:
            self._place(rows[0])
        return bool(rows)

    def pending_artifacts(self) -> list[ArtifactRecord]:
        """Artifacts whose upload has not completed, with what the upload recorded in `properties`."""
        return [record_from_row(row) for row in self.backend.run(self._q.PENDING_ARTIFACTS)]

    def abandon_artifact(self, urn: str) -> bool:
        """Mark a pending artifact `abandoned` (its upload is gone and its bytes will never come); False if it
        was not pending. Nothing is deleted: the node stays, so its URN keeps answering."""
        with self._lock:
            return bool(self.backend.run(self._q.ABANDON_ARTIFACT, {"urn": urn}))

    def is_blob_referenced(self, sha256: str) -> bool:
        """Whether an artifact that is not deleted names these bytes, as its own or as one of its files."""
        if self.backend.run(self._q.BLOB_REFERENCED, {"sha256": check_sha256(sha256)}):
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
