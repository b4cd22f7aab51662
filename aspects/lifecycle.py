"""The artifact lifecycle over the aspect store: types and labels, drafts with several files, seal, lock,
deletion, and repositories of numbered versions with aliases and stages.

Everything is an aspect, so its history is kept and "as of T" works on both backends:

- on an artifact (content only): `artifact-type.1`, `artifact-label.1` (one per key), `artifact-file.1` (one per
  path), `artifact-state.1` (draft, ready, locked, deleted; the node's `status` follows it for listings);
- on a repository `urn:<ns>:repository:<project>/<name>`: `repository.1` (who made it, its organisation),
  `version.1`, `alias.1` and `stage.1`, each an edge `(Repository)-[...]->(Artifact)` naming the version.

Version numbers count the repository's versions (a version aspect is only ever replaced, never retracted
alone), so they are never reused. Writes that read-then-write (numbers, aliases) run under one lock.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from aspects.cursors import decode_cursor, encode_cursor
from aspects.errors import Conflict, InvalidUrn, NotFound, ValidationFailed
from aspects.model import FAR_FUTURE, Aspect, Page, from_micros, iso, to_micros
from aspects.reader import Reader
from aspects.rows import aspect_from_row, canonical
from aspects.schema_registry import CONTENT_REL
from aspects.store import AspectStore
from aspects.urns import parse_urn

TYPE_SCHEMA = "artifact-type.1"
LABEL_SCHEMA = "artifact-label.1"
STATE_SCHEMA = "artifact-state.1"
FILE_SCHEMA = "artifact-file.1"
REPOSITORY_SCHEMA = "repository.1"
VERSION_SCHEMA = "version.1"
NOTES_SCHEMA = "version-notes.1"
ALIAS_SCHEMA = "alias.1"
STAGE_SCHEMA = "stage.1"
ORDER_STATUS_SCHEMA = "order-status.1"
PRODUCED_BY_SCHEMA = "artifact-produced-by-order.1"
COLLECTION_SCHEMA = "collection-member.1"
POLICY_SCHEMA = "policy.1"
# Schemas only the lifecycle writes: the generic aspect API must not assert, change or retract them.
LIFECYCLE_SCHEMAS = frozenset(
    {
        TYPE_SCHEMA,
        LABEL_SCHEMA,
        STATE_SCHEMA,
        FILE_SCHEMA,
        REPOSITORY_SCHEMA,
        VERSION_SCHEMA,
        ALIAS_SCHEMA,
        STAGE_SCHEMA,
    }
)
# What a lock freezes on the artifact (besides its files, which only a draft takes).
FROZEN_BY_LOCK = frozenset({"artifact.1", TYPE_SCHEMA, LABEL_SCHEMA, FILE_SCHEMA})
DEFAULT_STAGES = ("none", "testing", "staging", "production", "archived")
PRODUCTION_STAGES = frozenset({"production"})
DEFAULT_PROTECTED_ALIASES = ("prod", "production")
DEFAULT_TYPE = "file"
# One node per (repository, version number), `urn:<ns>:repository:<project>/<name>#<number>`, made in the
# transaction that registers the version: its URN is unique in the graph, so two replicas never give one number twice.
VERSION_NUMBER_LABEL = "VersionNumber"
NUMBER_ATTEMPTS = 64
VERSION_NUMBER_COLUMNS = {"number": "INT64", "artifact": "STRING"}
NUMBER_CHUNK = 64  # numbers looked up at once, newest first
NUMBER_BUDGET = 1024  # numbers looked up for one page before the repository's edges are scanned instead
DNS_LABEL = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
ALIAS_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
TYPE_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
LABEL_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$")
LABEL_VALUE_RE = re.compile(r"^[A-Za-z0-9._-]{0,63}$")
REFERENCE_RE = re.compile(r"^fabric://([^/:]+)/([^/:]+)(?::([^/:]+))?$")
MAX_LABELS = 64
MAX_FILES = 10_000
MAX_PATH = 1024


def check_path(path: Any) -> str:
    """A relative POSIX path with no `..`, `.`, empty segments or leading `/`; ValueError (a 400) otherwise."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH:
        raise ValueError(f"a file path must be a non-empty string of at most {MAX_PATH} characters")
    if path.startswith("/") or "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise ValueError(f"{path[:80]!r} must be a relative POSIX path without control characters or backslashes")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"{path[:80]!r} has an empty, '.' or '..' segment")
    return path


def check_type(value: Any) -> str:
    if not isinstance(value, str) or not TYPE_RE.match(value):
        raise ValueError("type must be a short lowercase word (a letter, then letters, digits or hyphens; at most 32)")
    return value


def check_labels(labels: Any) -> dict[str, str]:
    if not isinstance(labels, Mapping) or len(labels) > MAX_LABELS:
        raise ValueError(f"labels must be an object of at most {MAX_LABELS} string keys and values")
    for key, value in labels.items():
        if not isinstance(key, str) or not LABEL_KEY_RE.match(key):
            raise ValueError(f"label key {str(key)[:80]!r} must match {LABEL_KEY_RE.pattern}")
        if not isinstance(value, str) or not LABEL_VALUE_RE.match(value):
            raise ValueError(f"label value {str(value)[:80]!r} must match {LABEL_VALUE_RE.pattern}")
    return dict(labels)


def parse_label_filter(text: str) -> tuple[str, str]:
    """`team:vision` -> ("team", "vision"); ValueError if malformed."""
    key, sep, value = text.partition(":")
    if not sep:
        raise ValueError(f"label filter {text[:80]!r} must be key:value")
    check_labels({key: value})
    return key, value


def check_dns_label(value: Any, what: str) -> str:
    if not isinstance(value, str) or not DNS_LABEL.match(value):
        raise ValueError(
            f"{what} {str(value)[:80]!r} must be a DNS label: lowercase letters, digits and hyphens, 1-63 characters, "
            "starting with a letter and not ending with a hyphen"
        )
    return value


def check_alias(alias: Any) -> str:
    if not isinstance(alias, str) or not ALIAS_RE.match(alias) or alias == "latest" or alias.isdigit():
        raise ValueError(f"alias {str(alias)[:80]!r} must match {ALIAS_RE.pattern} and not be 'latest'")
    return alias


def is_reference(text: Any) -> bool:
    return isinstance(text, str) and text.startswith("fabric://")


def parse_reference(text: str) -> tuple[str, str, str]:
    """`fabric://p/n[:v]` -> (project, name, version or alias, `latest` when none); ValueError if malformed."""
    match = REFERENCE_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{str(text)[:80]!r} is not a reference fabric://<project>/<name>[:<number|alias>]")
    project, name, ref = match.group(1), match.group(2), match.group(3) or "latest"
    check_dns_label(project, "project")
    check_dns_label(name, "repository name")
    return project, name, ref


@dataclass(frozen=True, slots=True)
class Repository:
    urn: str
    project: str
    name: str
    org: str | None
    creator: str
    created: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "project": self.project,
            "name": self.name,
            "org": self.org,
            "creator": self.creator,
            "created": iso(self.created),
        }


class Lifecycle:
    """Artifact lifecycle and repositories on one `AspectStore` (synchronous, thread-safe)."""

    def __init__(
        self,
        store: AspectStore,
        *,
        stages: Iterable[str] = DEFAULT_STAGES,
        protected_aliases: Iterable[str] = DEFAULT_PROTECTED_ALIASES,
    ) -> None:
        self.store = store
        self.ns = store.namespace
        self._q = store.backend.q
        self.stages = tuple(stages)
        if not self.stages or any(not isinstance(s, str) or not TYPE_RE.match(s) for s in self.stages):
            raise ValueError("stages must be short lowercase words")
        self.protected_aliases = frozenset(protected_aliases)
        self._lock = threading.RLock()
        backend = store.backend
        backend.ensure_label("Repository")
        backend.ensure_node_table(VERSION_NUMBER_LABEL, VERSION_NUMBER_COLUMNS)
        self._heads: dict[str, int] = {}  # repository -> a number known to be claimed (the newest, or below it)
        for rel, dst in (
            ("HAS_ASPECT", "Schema"),
            ("HAS_VERSION", "Artifact"),
            ("HAS_ALIAS", "Artifact"),
            ("IN_STAGE", "Artifact"),
            ("GRANTED_TO", "Principal"),
        ):
            backend.ensure_label(dst)
            backend.ensure_connection(rel, "Repository", dst)

    # -- helpers ----------------------------------------------------------------------------------

    def schema_id(self, name: str) -> str:
        return f"urn:{self.ns}:schema:{name}"

    def _current(self, entity: str, schema: str, *, at: datetime | None = None) -> list[Aspect]:
        return self.store.current_aspects(entity, self.schema_id(schema), at=at)

    def _status(self, urn: str) -> str:
        return self.store.get_artifact(urn, aspects=False).status

    def _set_status(self, urn: str, allowed: Iterable[str], status: str) -> None:
        if not self.store.backend.run(self._q.SET_ARTIFACT_STATUS, {"urn": urn, "from": list(allowed), "to": status}):
            raise Conflict(f"artifact {urn} is {self._status(urn)}; it cannot become {status}")

    def _record_state(self, urn: str, state: str, asserter: str, reason: str | None = None) -> None:
        content: dict[str, Any] = {"state": state}
        if reason:
            content["reason"] = reason
        current = self._current(urn, STATE_SCHEMA)
        if current:
            self.store.update_aspect(current[-1].urn, content, asserter=asserter)
        else:
            self.store.assert_aspect(urn, self.schema_id(STATE_SCHEMA), content, asserter=asserter)

    # -- state, type, labels ----------------------------------------------------------------------

    def state(self, urn: str) -> str:
        """draft, ready, locked, deleted; or the upload's own status (pending, abandoned) if none was recorded."""
        current = self._current(urn, STATE_SCHEMA)
        if current:
            return str(current[-1].content["state"])
        return self._status(urn)

    def is_locked(self, urn: str) -> bool:
        return self.state(urn) == "locked"

    def require_unlocked(self, urn: str, what: str = "it") -> None:
        if self.is_locked(urn):
            raise Conflict(f"artifact {urn} is locked: {what} cannot change (locking is one way; make a new artifact)")

    def describe(self, urn: str, aspects: list[Aspect] | None = None) -> dict[str, Any]:
        """`type`, `labels`, `state` and `file_count` of an artifact from its current aspects."""
        if aspects is None:
            aspects = self.store.get_artifact(urn).aspects or []
        by_schema: dict[str, list[Aspect]] = {}
        for aspect in aspects:
            by_schema.setdefault(aspect.schema.rsplit(":", 1)[-1], []).append(aspect)
        types = by_schema.get(TYPE_SCHEMA, [])
        states = by_schema.get(STATE_SCHEMA, [])
        out: dict[str, Any] = {
            "type": types[-1].content["type"] if types else DEFAULT_TYPE,
            "labels": {a.content["key"]: a.content["value"] for a in by_schema.get(LABEL_SCHEMA, [])},
            "file_count": len(by_schema.get(FILE_SCHEMA, [])),
        }
        if states:
            out["state"] = states[-1].content["state"]
        return out

    def summaries(self, urns: list[str], *, at: datetime | None = None) -> dict[str, dict[str, Any]]:
        """`type`, `labels` and `state` of each artifact (as of `at`), in one round trip: what listings show.
        An artifact without a recorded state (a single upload) has its node's status as its state."""
        if not urns:
            return {}
        params = {
            "urns": list(dict.fromkeys(urns)),
            "schemas": [self.schema_id(name) for name in (TYPE_SCHEMA, LABEL_SCHEMA, STATE_SCHEMA)],
            "at": to_micros(at) if at is not None else FAR_FUTURE,
        }
        rows = sorted(
            self.store.backend.run(self._q.LIFECYCLE_OF_ARTIFACTS, params), key=lambda row: row["valid_from"] or 0
        )
        out: dict[str, dict[str, Any]] = {}
        for row in rows:
            summary = out.setdefault(row["urn"], {"type": DEFAULT_TYPE, "labels": {}, "state": row["status"]})
            if row["content"] is None:
                continue
            content = orjson.loads(row["content"])
            schema = str(row["schema"]).rsplit(":", 1)[-1]
            if schema == TYPE_SCHEMA:
                summary["type"] = content["type"]
            elif schema == LABEL_SCHEMA:
                summary["labels"][content["key"]] = content["value"]
            elif schema == STATE_SCHEMA:
                summary["state"] = content["state"]
        return out

    def set_type(self, urn: str, type_: str, *, asserter: str) -> None:
        check_type(type_)
        with self._lock:
            self.require_unlocked(urn, "its type")
            current = self._current(urn, TYPE_SCHEMA)
            if current and current[-1].content["type"] == type_:
                return
            if current:
                self.store.update_aspect(current[-1].urn, {"type": type_}, asserter=asserter)
            else:
                self.store.assert_aspect(urn, self.schema_id(TYPE_SCHEMA), {"type": type_}, asserter=asserter)

    def set_labels(self, urn: str, labels: Mapping[str, str], *, asserter: str, replace: bool = True) -> None:
        """Make the artifact's labels `labels` (with `replace=False`, only add or change the keys given)."""
        labels = check_labels(labels)
        with self._lock:
            self.require_unlocked(urn, "its labels")
            current = {a.content["key"]: a for a in self._current(urn, LABEL_SCHEMA)}
            for key, aspect in current.items():
                if key not in labels:
                    if replace:
                        self.store.retract_aspect(aspect.urn, asserter=asserter)
                elif aspect.content["value"] != labels[key]:
                    self.store.update_aspect(aspect.urn, {"key": key, "value": labels[key]}, asserter=asserter)
            new = [
                (urn, self.schema_id(LABEL_SCHEMA), {"key": key, "value": value})
                for key, value in labels.items()
                if key not in current
            ]
            if new:
                self.store.assert_aspects(new, asserter=asserter)

    # -- drafts and files -------------------------------------------------------------------------

    def create_draft(
        self,
        urn: str,
        *,
        name: str,
        uploader: str,
        org: str | None,
        type_: str | None = None,
        labels: Mapping[str, str] | None = None,
        collection: str | None = None,
        policy: str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> None:
        """A `draft` artifact to which files are added, then sealed."""
        check_type(type_ or DEFAULT_TYPE)
        labels = check_labels(labels or {})
        for value, kind in ((collection, "collection"), (policy, "policy")):
            if value is not None:
                parse_urn(value, kind)
        created = self.store.create_artifact(urn, name=name, uploader=uploader, org=org, properties=properties)
        if created.status not in ("pending", "abandoned") or created.uploader != uploader:
            raise Conflict(f"artifact {urn} exists already")
        # Between the node (pending) and its draft status, the maintenance may abandon it as a pending artifact
        # without an upload: the URN is the caller's new one, so the draft takes it back.
        self._set_status(urn, ["pending", "abandoned"], "draft")
        items: list[tuple[str, str, Any]] = [(urn, self.schema_id(STATE_SCHEMA), {"state": "draft"})]
        if type_:
            items.append((urn, self.schema_id(TYPE_SCHEMA), {"type": type_}))
        items += [(urn, self.schema_id(LABEL_SCHEMA), {"key": k, "value": v}) for k, v in labels.items()]
        if collection:
            items.append((urn, self.schema_id(COLLECTION_SCHEMA), {"collection": collection}))
        if policy:
            items.append((urn, self.schema_id(POLICY_SCHEMA), {"policy": policy}))
        self.store.assert_aspects(items, asserter=uploader)

    def files(self, urn: str, *, at: datetime | None = None) -> list[dict[str, Any]]:
        """The manifest: each file `{path, size, sha256, md5, mime_type}` by path. An artifact made by a single
        upload is one file named as the artifact."""
        files = [dict(a.content) for a in self._current(urn, FILE_SCHEMA, at=at)]
        if not files:
            record = self.store.get_artifact(urn, aspects=False)
            if record.sha256:
                return [
                    {
                        "path": record.name or "data",
                        "size": record.size,
                        "sha256": record.sha256,
                        "md5": record.md5,
                        "mime_type": record.mime_type,
                    }
                ]
        for item in files:
            item.pop("upload", None)
        return sorted(files, key=lambda item: item["path"])

    def file(self, urn: str, path: str, *, at: datetime | None = None) -> dict[str, Any] | None:
        """One file of the manifest by its path, as `files` gives it (None if there is none). The current one is
        found without reading the others (a download of each of 1,000 files read the whole manifest each time)."""
        if at is None:
            aspect = self._file_aspect(urn, path)
            if aspect is not None:
                item = dict(aspect.content)
                item.pop("upload", None)
                return item
        return next((item for item in self.files(urn, at=at) if item["path"] == path), None)

    def _file_aspects(self, urn: str) -> dict[str, Aspect]:
        return {a.content["path"]: a for a in self._current(urn, FILE_SCHEMA)}

    def _file_aspect(self, urn: str, path: str) -> Aspect | None:
        """The current file aspect for `path` (of a draft, or of a sealed artifact), found without reading the
        others."""
        params = {
            "entity": urn,
            "file_schema": self.schema_id(FILE_SCHEMA),
            "needle": '"path":' + orjson.dumps(path).decode(),
        }
        for row in self.store.backend.run(self._q.CURRENT_FILE_WITH, params):
            aspect = aspect_from_row(row, CONTENT_REL)
            if aspect.content.get("path") == path:
                return aspect
        return None

    def _require_room(self, urn: str) -> None:
        """Conflict if the draft holds `MAX_FILES` files already (counted without reading them)."""
        rows = self.store.backend.run(
            self._q.COUNT_CURRENT_FILES, {"entity": urn, "file_schema": self.schema_id(FILE_SCHEMA)}
        )
        if rows and int(rows[0]["files"]) >= MAX_FILES:
            raise Conflict(f"an artifact holds at most {MAX_FILES} files")

    def _require_draft(self, urn: str) -> None:
        """Conflict unless `urn` is a draft. Its node's status says so alone (a draft is never locked: it is
        sealed first), so adding a file does not read the state aspect among all the draft's others."""
        if self._status(urn) != "draft":
            raise Conflict(f"artifact {urn} is {self.state(urn)}: files are added to a draft only")

    def start_file(self, urn: str, path: str, *, size: int | None, mime_type: str, upload: str, asserter: str) -> None:
        """An upload of `path` into draft `urn` has begun (its bytes are not there yet). Conflict if the path is
        taken by another upload or file."""
        check_path(path)
        with self._lock:
            self._require_draft(urn)
            existing = self._file_aspect(urn, path)
            if existing is not None:
                if existing.content.get("upload") == upload:
                    return
                raise Conflict(f"artifact {urn} already has a file {path!r}")
            self._require_room(urn)
            content = {
                "path": path,
                "size": size,
                "sha256": None,
                "md5": None,
                "mime_type": mime_type,
                "upload": upload,
            }
            self.store.assert_aspect(urn, self.schema_id(FILE_SCHEMA), content, asserter=asserter)

    def finish_file(
        self, urn: str, path: str, *, upload: str, size: int, sha256: str, md5: str | None, asserter: str
    ) -> None:
        """The upload of `path` finished and its bytes are stored: the file gets its digests (safe to repeat)."""
        with self._lock:
            aspect = self._file_aspect(urn, path)
            if aspect is None or aspect.content.get("upload") != upload:
                raise NotFound(f"artifact {urn} has no upload {upload!r} for {path!r}")
            if aspect.content.get("sha256") == sha256:
                return
            content = {**aspect.content, "size": size, "sha256": sha256, "md5": md5}
            self.store.update_aspect(aspect.urn, content, asserter=asserter)

    def drop_file(self, urn: str, path: str, *, upload: str, asserter: str) -> None:
        """The upload of `path` was abandoned (terminated or expired): the path is free again."""
        with self._lock:
            aspect = self._file_aspect(urn, path)
            if aspect is not None and aspect.content.get("upload") == upload and aspect.content.get("sha256") is None:
                self.store.retract_aspect(aspect.urn, asserter=asserter)

    def link_file(
        self,
        urn: str,
        path: str,
        *,
        sha256: str,
        size: int,
        md5: str | None,
        mime_type: str,
        asserter: str,
        reader: Reader | None,
    ) -> bool:
        """Add `path` with bytes the fabric already holds for this caller (an artifact it may read names them, with
        this size); False if it holds none, and the bytes must be sent."""
        check_path(path)
        if self.holds(sha256, reader) != size:
            return False
        with self._lock:
            self._require_draft(urn)
            existing = self._file_aspect(urn, path)
            if existing is not None:
                if existing.content.get("sha256") == sha256:
                    return True
                raise Conflict(f"artifact {urn} already has a file {path!r}")
            self._require_room(urn)
            content = {"path": path, "size": size, "sha256": sha256, "md5": md5, "mime_type": mime_type, "upload": None}
            self.store.assert_aspect(urn, self.schema_id(FILE_SCHEMA), content, asserter=asserter)
        return True

    def holds(self, sha256: str, reader: Reader | None) -> int | None:
        """The size of the bytes with this sha256 if an artifact the reader may read (not deleted) has them, as its
        own bytes or as one of its files; None if none does."""
        if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        params: dict[str, Any] = {
            "sha256": sha256,
            "needle": f'"sha256":"{sha256}"',
            "file_schema": self.schema_id(FILE_SCHEMA),
        }
        queries = (self._q.HOLDS_BLOB, self._q.HOLDS_FILE_BLOB)
        if reader is not None:
            params.update(reader.params(self.ns))
            queries = (self._q.HOLDS_BLOB_READABLE, self._q.HOLDS_FILE_BLOB_READABLE)
        for query in queries:
            for row in self.store.backend.run(query, params):
                size = row["size"] if row["size"] is not None and row["size"] >= 0 else None
                if row["content"]:
                    size = orjson.loads(row["content"]).get("size")
                if isinstance(size, int):
                    return size
        return None

    def seal(self, urn: str, *, asserter: str) -> None:
        """Draft -> ready once every started upload has finished (Conflict naming the unfinished paths)."""
        with self._lock:
            self._require_draft(urn)
            files = self._file_aspects(urn)
            if not files:
                raise Conflict(f"artifact {urn} has no files yet: add files before sealing it")
            unfinished = sorted(path for path, a in files.items() if a.content.get("sha256") is None)
            if unfinished:
                raise Conflict(f"artifact {urn} has unfinished uploads: {', '.join(unfinished[:20])}")
            size = sum(int(a.content["size"] or 0) for a in files.values())
            if not self.store.seal_artifact(urn, size):
                raise Conflict(f"artifact {urn} is {self._status(urn)}; only a draft is sealed")
            self._record_state(urn, "ready", asserter)

    # -- lock and delete --------------------------------------------------------------------------

    def lock(self, urn: str, *, asserter: str, reason: str | None = None) -> None:
        """draft or ready -> locked, one way (a draft is sealed first). Locking a locked artifact is a no-op."""
        with self._lock:
            state = self.state(urn)
            if state == "locked":
                return
            if state == "draft":
                self.seal(urn, asserter=asserter)
            elif state != "ready":
                raise Conflict(f"artifact {urn} is {state}: only a draft or ready artifact can be locked")
            self._record_state(urn, "locked", asserter, reason)

    def deletion_blockers(self, urn: str) -> list[str]:
        """Why `urn` may not be deleted now (empty if it may)."""
        reasons: list[str] = []
        if self.is_locked(urn):
            reasons.append("it is locked")
        for row in self.store.backend.run(self._q.ALIASES_OF_ARTIFACT, {"urn": urn}):
            alias = orjson.loads(row["content"])["alias"]
            if alias in self.protected_aliases:
                repo = parse_urn(row["repository"]).id
                reasons.append(f"the protected alias {alias!r} of {repo} names it")
        for row in self.store.backend.run(self._q.ORDERS_USING, {"urn": urn}):
            if self._order_running(row["urn"]):
                reasons.append(f"the running order {row['urn']} uses it")
        return reasons

    def _order_running(self, order: str) -> bool:
        try:
            statuses = self._current(order, ORDER_STATUS_SCHEMA)
        except NotFound:  # order-status.1 is not registered: no order ever reported running
            return False
        return bool(statuses) and statuses[-1].content.get("status") == "running"

    def delete(self, urn: str, *, asserter: str, reason: str | None = None) -> None:
        """The artifact becomes a tombstone (`deleted`): Conflict with the reasons if it may not be."""
        with self._lock:
            status = self._status(urn)
            if status == "deleted":
                raise NotFound(f"artifact {urn} is deleted")
            blockers = self.deletion_blockers(urn)
            if blockers:
                raise Conflict(f"artifact {urn} cannot be deleted: {'; '.join(blockers)}")
            for row in self.store.backend.run(self._q.ALIASES_OF_ARTIFACT, {"urn": urn}):
                self.store.retract_aspect(row["aspect"], asserter=asserter)
            self._set_status(urn, ["pending", "draft", "ready", "abandoned"], "deleted")
            self._record_state(urn, "deleted", asserter, reason)

    # -- repositories -----------------------------------------------------------------------------

    def repository_urn(self, project: str, name: str) -> str:
        check_dns_label(project, "project")
        check_dns_label(name, "repository name")
        return f"urn:{self.ns}:repository:{project}/{name}"

    def _repository_from(self, urn: str, aspect: Aspect) -> Repository:
        content = aspect.content
        return Repository(
            urn, content["project"], content["name"], content.get("org"), content["creator"], aspect.valid_from
        )

    def get_repository(self, project: str, name: str) -> Repository:
        urn = self.repository_urn(project, name)
        try:
            found = self._current(urn, REPOSITORY_SCHEMA)
        except NotFound:
            found = []
        if not found:
            raise NotFound(f"no repository {project}/{name}")
        return self._repository_from(urn, found[-1])

    def repository_of_urn(self, urn: str) -> Repository:
        project, _, name = parse_urn(urn, "repository").id.partition("/")
        return self.get_repository(project, name)

    def _ensure_repository(self, project: str, name: str, creator: str, org: str | None) -> Repository:
        try:
            return self.get_repository(project, name)
        except NotFound:
            urn = self.repository_urn(project, name)
            content = {"project": project, "name": name, "org": org, "creator": creator}
            aspect = self.store.assert_aspect(urn, self.schema_id(REPOSITORY_SCHEMA), content, asserter=creator)
            return self._repository_from(urn, aspect)

    def list_repositories(
        self, *, project: str | None = None, limit: int = 100, cursor: str | None = None, reader: Reader | None = None
    ) -> Page[Repository]:
        """Repositories by URN; with a `reader`, those of its organisation or granted to it."""
        if project is not None:
            check_dns_label(project, "project")
        after = decode_cursor("repositories", cursor, (str,))[0] if cursor else ""
        params: dict[str, Any] = {
            "schema": self.schema_id(REPOSITORY_SCHEMA),
            "after": after,
            "prefix": f"urn:{self.ns}:repository:{project}/" if project else "",
            "limit": limit + 1,
            "everyone": reader is None,
            "org_needle": f'"org":"{reader.org}"' if reader else "",
            "user": reader.user if reader else "",
            "org": reader.org if reader else "",
            "granted_by": reader.as_of if reader is not None and reader.as_of is not None else FAR_FUTURE,
        }
        rows = self.store.backend.run(self._q.LIST_REPOSITORIES, params)
        items = [
            Repository(
                row["urn"],
                *_repository_fields(orjson.loads(row["content"])),
                created=from_micros(row["valid_from"]),  # type: ignore[arg-type]
            )
            for row in rows[:limit]
        ]
        next_cursor = encode_cursor("repositories", rows[limit - 1]["urn"]) if len(rows) > limit else None
        return Page(items, next_cursor)

    def may_read_repository(self, repo: Repository, reader: Reader | None) -> bool:
        """Its organisation's members read it, and whoever it is granted to (a user or an organisation). A compute
        token reads what its caller could read when it was minted, as for artifacts: a repository made later, or a
        grant made later, does not count (a revocation does)."""
        if reader is None:
            return True
        minted = reader.as_of if reader.as_of is not None else FAR_FUTURE
        if repo.org is not None and repo.org == reader.org and to_micros(repo.created) <= minted:
            return True
        params = {"repo": repo.urn, "user": reader.user, "org": reader.org, "granted_by": minted}
        return bool(self.store.backend.run(self._q.REPOSITORY_GRANTED, params))

    @staticmethod
    def may_write_repository(repo: Repository, reader: Reader | None) -> bool:
        """Register, alias and stage: members of its organisation (not a compute token), or its creator."""
        if reader is None:
            return True
        if reader.is_compute:
            return False
        return repo.creator == reader.user or (repo.org is not None and repo.org == reader.org)

    def readable_through_repository(self, artifact: str, reader: Reader) -> bool:
        """Whether `artifact` is a version of a repository `reader` may read (a grant on it reads its versions)."""
        return artifact in self.readable_through_repositories([artifact], reader)

    def readable_through_repositories(self, artifacts: list[str], reader: Reader) -> set[str]:
        """Those of `artifacts` that are versions of a repository `reader` may read, in two round trips plus one
        per repository met. For a compute token, only versions registered by the time it was minted."""
        if not artifacts:
            return set()
        minted = reader.as_of if reader.as_of is not None else FAR_FUTURE
        rows = self.store.backend.run(self._q.REPOSITORIES_OF_ARTIFACTS, {"urns": list(dict.fromkeys(artifacts))})
        readable: dict[str, bool] = {}
        found: set[str] = set()
        for row in rows:
            repo_urn = row["repository"]
            if repo_urn is None or row["artifact"] in found or (row["valid_from"] or 0) > minted:
                continue
            if repo_urn not in readable:
                try:
                    readable[repo_urn] = self.may_read_repository(self.repository_of_urn(repo_urn), reader)
                except (NotFound, InvalidUrn):
                    readable[repo_urn] = False
            if readable[repo_urn]:
                found.add(row["artifact"])
        return found

    # -- versions ---------------------------------------------------------------------------------

    def _version_json(self, repo_urn: str, row: Mapping[str, Any], *, stage: str | None = None) -> dict[str, Any]:
        content = orjson.loads(row["content"]) if isinstance(row["content"], str) else row["content"]
        project, _, name = parse_urn(repo_urn, "repository").id.partition("/")
        return {
            "repository": f"{project}/{name}",
            "number": content["number"],
            "reference": f"fabric://{project}/{name}:{content['number']}",
            "artifact": content["artifact"],
            "description": content.get("description", ""),
            "tags": content.get("tags", []),
            "content": content.get("content"),
            "order": content.get("order"),
            "registered_by": row["asserter"],
            "registered": iso(from_micros(row["valid_from"])),
            "status": row.get("status"),
            "stage": stage,
            "aspect": row["urn"],
            "_from": row["valid_from"],
        }

    def register_version(
        self,
        project: str,
        name: str,
        artifact: str,
        *,
        asserter: str,
        org: str | None,
        description: str = "",
        tags: list[str] | None = None,
        content: dict[str, Any] | None = None,
        order: str | None = None,
        aliases: Iterable[str] = (),
        check_writer: Any = None,
    ) -> dict[str, Any]:
        """Register `artifact` as the next version of `project/name` (the repository is created on first use).

        `check_writer(repository)` may raise to refuse (access). With `order`, the artifact is recorded as that
        order's output (its lineage), if it was not already."""
        parse_urn(artifact, "artifact")
        aliases = [check_alias(alias) for alias in aliases]
        if order is not None:
            parse_urn(order, "order")
        with self._lock:
            status = self._status(artifact)
            if status in ("deleted", "abandoned", "pending"):
                raise Conflict(f"artifact {artifact} is {status}; only a draft or ready artifact becomes a version")
            repo = self._ensure_repository(project, name, asserter, org)
            if check_writer is not None:
                check_writer(repo)
            if self.store.backend.run(self._q.VERSION_OF_ARTIFACT_IN, {"repo": repo.urn, "urn": artifact}):
                raise Conflict(f"artifact {artifact} is already a version of {project}/{name}")
            body: dict[str, Any] = {"artifact": artifact, "description": description or ""}
            body["tags"] = list(tags or [])
            if content is not None:
                body["content"] = content
            if order is not None:
                body["order"] = order
            body, aspect = self._claim_next_number(repo.urn, body, asserter)
            number = body["number"]
            if order is not None:
                produced = self.store.query_aspects(entity=artifact, schema=self.schema_id(PRODUCED_BY_SCHEMA)).items
                if not any(a.content.get("order") == order for a in produced):
                    self.store.assert_aspect(
                        artifact, self.schema_id(PRODUCED_BY_SCHEMA), {"order": order}, asserter=asserter
                    )
            for alias in aliases:
                self.set_alias(project, name, alias, number, asserter=asserter)
        row = {"content": canonical(body), "asserter": asserter, "valid_from": to_micros(aspect.valid_from)}
        made = self._version_json(repo.urn, {**row, "urn": aspect.urn, "status": status})
        made.pop("_from")
        return made

    def _count_versions(self, repo: str) -> int:
        return int(self.store.backend.run(self._q.COUNT_VERSIONS, {"repo": repo})[0]["n"])

    def _claim_next_number(self, repo: str, body: dict[str, Any], asserter: str) -> tuple[dict[str, Any], Aspect]:
        """Assert `body` as the repository's next version: the number after its versions, claimed in the graph
        with the version (`VERSION_NUMBER_LABEL`), so that another process registering at the same moment gets the
        next one. A number whose claim is taken is never reused: the next is tried."""
        number = self._count_versions(repo) + 1
        for _ in range(NUMBER_ATTEMPTS):
            numbered = {**body, "number": number}
            aspect = self.store.assert_claiming(
                repo,
                self.schema_id(VERSION_SCHEMA),
                numbered,
                asserter=asserter,
                claim=(VERSION_NUMBER_LABEL, f"{repo}#{number}"),
                claim_values={"number": number, "artifact": body["artifact"]},
            )
            if aspect is not None:
                self._heads[repo] = max(self._heads.get(repo, 0), number)
                return numbered, aspect
            number = max(number + 1, self._count_versions(repo) + 1)
        raise Conflict(f"{parse_urn(repo).id} is being registered to by many at once: try again")

    def versions(
        self,
        project: str,
        name: str,
        *,
        stage: str | None = None,
        at: datetime | None = None,
        include_deleted: bool = False,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[dict[str, Any]]:
        """Versions newest first, keyset-paged; `stage` keeps those in that stage (at `at`, if given)."""
        repo = self.get_repository(project, name)
        if stage is not None and stage not in self.stages:
            raise ValueError(f"stage must be one of {', '.join(self.stages)}")
        before, below = decode_cursor("versions", cursor, (int, int)) if cursor else (FAR_FUTURE, None)
        rows = self._version_rows(
            repo.urn, at=at, before=before, below=below, limit=limit + 1, stage=stage, live=not include_deleted
        )
        items = rows[:limit]
        artifacts = [item["artifact"] for item in items]
        stages = self._stages_of(repo.urn, artifacts, at)
        summaries = self.summaries(artifacts, at=at)
        result = [
            {**item, **summaries.get(item["artifact"], {}), "stage": stages.get(item["artifact"], "none")}
            for item in items
        ]
        last = rows[limit - 1] if len(rows) > limit else None
        next_cursor = encode_cursor("versions", last["_from"], last["number"]) if last is not None else None
        for item in result:
            item.pop("_from", None)
            item.pop("notes", None)
        return Page(result, next_cursor)

    def _version_rows(
        self,
        repo: str,
        *,
        at: datetime | None,
        before: int = FAR_FUTURE,
        below: int | None = None,
        limit: int = 1,
        stage: str | None = None,
        live: bool = True,
        number: int | None = None,
        artifact: str | None = None,
    ) -> list[dict[str, Any]]:
        """Versions newest first, with their notes applied; `_from` is the registration time and `number` the
        number (together the paging key: `before` the one, `below` the other). Found by number through the
        version claims where it can (`_rows_by_number`), else by scanning the repository's version edges."""
        rows = None
        if stage is None:
            rows = self._rows_by_number(
                repo, at=at, below=below, limit=limit, live=live, number=number, artifact=artifact
            )
        elif number is None and artifact is None:
            rows = self._rows_in_stage(repo, stage, at=at, below=below, limit=limit, live=live)
        if rows is None:
            rows = self._scanned_rows(
                repo, at=at, before=before, limit=limit, stage=stage, live=live, number=number, artifact=artifact
            )
        if rows:
            notes = self._notes(repo, at)
            for row in rows:
                row.update(notes.get(row["artifact"], {}))
        return rows

    def _newest_number(self, repo: str) -> int:
        """The highest claimed number: from what this process knows (at first, the count of versions: numbers are
        never fewer), probing the claims above it, since other processes register too."""
        known = self._heads.get(repo)
        if known is None:
            if len(self._heads) > 10_000:
                self._heads.clear()
            known = self._count_versions(repo)
        while True:
            probe = [f"{repo}#{n}" for n in range(known + 1, known + 1 + NUMBER_CHUNK)]
            found = [_claimed_number(row) for row in self.store.backend.run(self._q.VERSION_NUMBERS, {"urns": probe})]
            if not found:
                break
            known = max(found)
        self._heads[repo] = known
        return known

    def _rows_by_number(
        self,
        repo: str,
        *,
        at: datetime | None,
        below: int | None,
        limit: int,
        live: bool,
        number: int | None,
        artifact: str | None,
    ) -> list[dict[str, Any]] | None:
        """Versions newest first, looked up by primary key: numbers from the top (or `below`) through their claims
        to their artifacts, then each artifact's own version edge. None where that cannot answer (a number without a
        claim: registered before claims existed; or a page that needs more than `NUMBER_BUDGET` numbers): the caller
        scans instead."""
        params: dict[str, Any] = {
            "repo": repo,
            "schema": self.schema_id(VERSION_SCHEMA),
            "at": to_micros(at) if at is not None else FAR_FUTURE,
            "live": live,
            "state_schema": self.schema_id(STATE_SCHEMA),
            "deleted": '"state":"deleted"',
        }
        if artifact is not None:
            numbered = [(0, artifact)]
            rows = self._rows_among(repo, numbered, params)
            return rows[:limit]
        top = number if number is not None else (below - 1 if below is not None else self._newest_number(repo))
        found: list[dict[str, Any]] = []
        start = top
        while top >= 1 and len(found) < limit:
            if start - top >= NUMBER_BUDGET:
                return None
            chunk = max(NUMBER_CHUNK, limit)  # a page's numbers in one look-up when none are skipped
            numbers = [number] if number is not None else list(range(top, max(top - chunk, 0), -1))
            claims = {
                _claimed_number(row): row["artifact"]
                for row in self.store.backend.run(self._q.VERSION_NUMBERS, {"urns": [f"{repo}#{n}" for n in numbers]})
            }
            if len(claims) < len(numbers):
                return None
            numbered = [(n, claims[n]) for n in numbers if claims[n]]
            found += [
                row for row in self._rows_among(repo, numbered, params) if number is None or row["number"] == number
            ]
            if number is not None:
                break
            top = numbers[-1] - 1
        return found[:limit]

    def _rows_in_stage(
        self, repo: str, stage: str, *, at: datetime | None, below: int | None, limit: int, live: bool
    ) -> list[dict[str, Any]]:
        """The versions in `stage` at `at`, highest number first, from the repository's stage edges (as many as
        stage moves, not versions), each version then read from its artifact."""
        when = to_micros(at) if at is not None else FAR_FUTURE
        schema = self.schema_id(STAGE_SCHEMA)
        staged: dict[str, int] = {}
        for row in self.store.backend.run(self._q.STAGE_EDGES, {"repo": repo}):
            if row["schema"] == schema and _current_at(row, when):
                content = orjson.loads(row["content"])
                if content.get("stage") == stage and (below is None or int(content["version"]) < below):
                    staged[row["artifact"]] = int(content["version"])
        numbered = sorted(((n, artifact) for artifact, n in staged.items()), reverse=True)
        params = {
            "schema": self.schema_id(VERSION_SCHEMA),
            "at": when,
            "live": live,
            "state_schema": self.schema_id(STATE_SCHEMA),
            "deleted": '"state":"deleted"',
        }
        found: list[dict[str, Any]] = []
        for start in range(0, len(numbered), NUMBER_CHUNK):
            found += self._rows_among(repo, numbered[start : start + NUMBER_CHUNK], params)
            if len(found) >= limit:
                break
        return found[:limit]

    def _rows_among(self, repo: str, numbered: list[tuple[int, str]], params: dict[str, Any]) -> list[dict[str, Any]]:
        """The version rows of these (number, artifact) pairs in the order given (those not current at `at`, or
        deleted then when `live`, left out)."""
        if not numbered:
            return []
        urns = [artifact for _, artifact in numbered]
        rows = [
            row
            for row in self.store.backend.run(self._q.REPOSITORY_VERSIONS_AMONG, {"urns": urns})
            if row["entity"] == repo and row["schema"] == params["schema"] and _current_at(row, params["at"])
        ]
        if params["live"]:
            deleted = [row for row in rows if row["status"] == "deleted"]
            if deleted and params["at"] != FAR_FUTURE:
                arguments = {
                    "urns": [orjson.loads(row["content"])["artifact"] for row in deleted],
                    **{key: params[key] for key in ("state_schema", "at", "deleted")},
                }
                gone = {row["urn"] for row in self.store.backend.run(self._q.DELETED_BY, arguments)}
                rows = [row for row in rows if orjson.loads(row["content"])["artifact"] not in gone]
            elif deleted:
                rows = [row for row in rows if row["status"] != "deleted"]
        by_artifact = {}
        for row in rows:
            made = self._version_json(repo, row)
            by_artifact[made["artifact"]] = made
        return [by_artifact[artifact] for _, artifact in numbered if artifact in by_artifact]

    def _scanned_rows(
        self,
        repo: str,
        *,
        at: datetime | None,
        before: int,
        limit: int,
        stage: str | None,
        live: bool,
        number: int | None,
        artifact: str | None,
    ) -> list[dict[str, Any]]:
        """Versions newest first from every version edge of the repository (by stage, or before claims existed)."""
        params: dict[str, Any] = {
            "repo": repo,
            "schema": self.schema_id(VERSION_SCHEMA),
            "stage_schema": self.schema_id(STAGE_SCHEMA),
            "at": to_micros(at) if at is not None else FAR_FUTURE,
            "before": before,
            "limit": max(limit, 50) if number is not None else limit,
            "live": live,
            "state_schema": self.schema_id(STATE_SCHEMA),
            "deleted": '"state":"deleted"',
            "stage": f'"stage":"{stage}"',
            # keys are sorted and `tags` always follows `number`, so this matches the number itself (or, rarely, a
            # user `content` object holding one: the number is checked below)
            "needle": f'"number":{number},' if number is not None else "",
            "artifact": artifact or "",
        }
        query = self._q.REPOSITORY_VERSIONS_IN_STAGE if stage else self._q.REPOSITORY_VERSIONS
        if not stage:
            del params["stage"], params["stage_schema"]
        rows = [self._version_json(repo, row) for row in self.store.backend.run(query, params)]
        if number is not None:
            rows = [row for row in rows if row["number"] == number][:limit]
        return rows

    def _notes(self, repo: str, at: datetime | None) -> dict[str, dict[str, Any]]:
        """artifact -> the description, tags and content its version was last given (as of `at`)."""
        params = {
            "repo": repo,
            "schema": self.schema_id(NOTES_SCHEMA),
            "at": to_micros(at) if at is not None else FAR_FUTURE,
        }
        notes: dict[str, dict[str, Any]] = {}
        for row in self.store.backend.run(self._q.VERSION_NOTES, params):
            content = orjson.loads(row["content"])
            notes[content.pop("artifact")] = {**content, "notes": row["urn"]}
        return notes

    def _stages_of(self, repo: str, artifacts: list[str], at: datetime | None) -> dict[str, str]:
        if not artifacts:
            return {}
        params: dict[str, Any] = {
            "repo": repo,
            "urns": artifacts,
            "schema": self.schema_id(STAGE_SCHEMA),
            "at": to_micros(at) if at is not None else FAR_FUTURE,
        }
        return {
            row["artifact"]: orjson.loads(row["content"])["stage"]
            for row in self.store.backend.run(self._q.STAGES_OF_VERSIONS, {"urns": artifacts})
            if row["entity"] == repo and row["schema"] == params["schema"] and _current_at(row, params["at"])
        }

    def aliases(self, project: str, name: str, *, at: datetime | None = None) -> dict[str, dict[str, Any]]:
        """alias -> {version, artifact, aspect, since, by} as it was at `at` (now by default)."""
        return self._aliases_of(self.get_repository(project, name).urn, at)

    def _aliases_of(self, repo: str, at: datetime | None) -> dict[str, dict[str, Any]]:
        return {
            a.content["alias"]: {
                "version": a.content["version"],
                "artifact": a.content["artifact"],
                "aspect": a.urn,
                "since": iso(a.valid_from),
                "by": a.asserter,
            }
            for a in self._current(repo, ALIAS_SCHEMA, at=at)
        }

    def get_version(self, project: str, name: str, ref: str | int, *, at: datetime | None = None) -> dict[str, Any]:
        """Version `ref` (a number, an alias or `latest`), as it was at `at`. NotFound if there is none."""
        repo = self.get_repository(project, name)
        aliases = self._aliases_of(repo.urn, at)
        text = str(ref)
        if text == "latest":
            rows = self._version_rows(repo.urn, at=at, limit=1)
        elif text.isdigit():
            rows = self._version_rows(repo.urn, at=at, limit=1, number=int(text), live=False)
        else:
            check_alias(text)
            named = aliases.get(text)
            if named is None:
                raise NotFound(f"{project}/{name} has no alias {text!r}")
            rows = self._version_rows(repo.urn, at=at, limit=1, artifact=named["artifact"], live=False)
        if not rows:
            raise NotFound(f"{project}/{name} has no version {text!r}")
        version = rows[0]
        version.pop("_from", None)
        version.pop("notes", None)
        version["stage"] = self._stages_of(repo.urn, [version["artifact"]], at).get(version["artifact"], "none")
        version.update(self.summaries([version["artifact"]], at=at).get(version["artifact"], {}))
        version["aliases"] = sorted(alias for alias, item in aliases.items() if item["artifact"] == version["artifact"])
        return version

    def resolve(self, reference: str, *, at: datetime | None = None) -> dict[str, Any]:
        """`fabric://p/n[:v]` -> its version (with the concrete `artifact` URN)."""
        project, name, ref = parse_reference(reference)
        return self.get_version(project, name, ref, at=at)

    def update_version(
        self, project: str, name: str, ref: str | int, changes: Mapping[str, Any], *, asserter: str
    ) -> dict[str, Any]:
        """Change a version's description, tags or content, unless its artifact is locked. The change is a
        `version-notes.1` aspect on the repository (retracted and asserted again at each later change)."""
        allowed = {"description", "tags", "content"}
        if not changes or not set(changes) <= allowed:
            raise ValueError(f"a version update changes only {', '.join(sorted(allowed))}")
        with self._lock:
            repo = self.get_repository(project, name)
            version = self.get_version(project, name, ref)
            self.require_unlocked(version["artifact"], "its version's description, tags and content")
            current = self._notes(repo.urn, None).get(version["artifact"])
            content = {
                "artifact": version["artifact"],
                "description": version["description"],
                "tags": version["tags"],
                "content": version["content"],
                **changes,
            }
            if current is not None:
                self.store.update_aspect(current["notes"], content, asserter=asserter)
            else:
                self.store.assert_aspect(repo.urn, self.schema_id(NOTES_SCHEMA), content, asserter=asserter)
        return self.get_version(project, name, version["number"])

    def set_alias(self, project: str, name: str, alias: str, number: int, *, asserter: str) -> dict[str, Any]:
        """Point `alias` at version `number` (a retraction and an assertion when it moves)."""
        check_alias(alias)
        with self._lock:
            repo = self.get_repository(project, name)
            version = self.get_version(project, name, int(number))
            if version["status"] == "deleted":
                raise Conflict(f"version {number} of {project}/{name} is deleted")
            content = {"artifact": version["artifact"], "alias": alias, "version": version["number"]}
            current = self.aliases(project, name).get(alias)
            if current is None:
                self.store.assert_aspect(repo.urn, self.schema_id(ALIAS_SCHEMA), content, asserter=asserter)
            elif current["artifact"] != version["artifact"]:
                self.store.update_aspect(current["aspect"], content, asserter=asserter)
        return self.aliases(project, name)[alias]

    def remove_alias(self, project: str, name: str, alias: str, *, asserter: str) -> None:
        check_alias(alias)
        with self._lock:
            current = self.aliases(project, name).get(alias)
            if current is None:
                raise NotFound(f"{project}/{name} has no alias {alias!r}")
            self.store.retract_aspect(current["aspect"], asserter=asserter)

    def set_stage(
        self,
        project: str,
        name: str,
        ref: str | int,
        stage: str,
        *,
        asserter: str,
        reason: str = "",
        message: str = "",
    ) -> dict[str, Any]:
        """Move a version to `stage` (only a locked version enters production), recording who, when and why."""
        if stage not in self.stages:
            raise ValueError(f"stage must be one of {', '.join(self.stages)}")
        for text, what in ((reason, "reason"), (message, "message")):
            if not isinstance(text, str) or len(text) > 4096:
                raise ValueError(f"{what} must be a string of at most 4096 characters")
        with self._lock:
            repo = self.get_repository(project, name)
            version = self.get_version(project, name, ref)
            if version["status"] == "deleted":
                raise Conflict(f"version {version['number']} of {project}/{name} is deleted")
            if stage in PRODUCTION_STAGES and not self.is_locked(version["artifact"]):
                raise Conflict(f"only a locked version enters {stage}: lock {version['artifact']} first")
            content = {"artifact": version["artifact"], "version": version["number"], "stage": stage}
            if reason:
                content["reason"] = reason
            if message:
                content["message"] = message
            current = [a for a in self._current(repo.urn, STAGE_SCHEMA) if a.content["artifact"] == version["artifact"]]
            if current:
                self.store.update_aspect(current[-1].urn, content, asserter=asserter)
            else:
                self.store.assert_aspect(repo.urn, self.schema_id(STAGE_SCHEMA), content, asserter=asserter)
        return self.get_version(project, name, version["number"])

    def stage_history(self, project: str, name: str, ref: str | int) -> list[dict[str, Any]]:
        """Every stage the version was in, oldest first: stage, reason, message, by, from, to."""
        repo = self.get_repository(project, name)
        version = self.get_version(project, name, ref)
        history: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self.store.query_aspects(
                entity=repo.urn, schema=self.schema_id(STAGE_SCHEMA), include_retracted=True, limit=1000, cursor=cursor
            )
            for a in page.items:
                if a.content["artifact"] == version["artifact"]:
                    history.append(
                        {
                            "stage": a.content["stage"],
                            "reason": a.content.get("reason", ""),
                            "message": a.content.get("message", ""),
                            "by": a.asserter,
                            "from": iso(a.valid_from),
                            "to": iso(a.valid_to),
                        }
                    )
            if page.next_cursor is None:
                return history
            cursor = page.next_cursor

    @property
    def version_links(self) -> tuple[str]:
        """What `AspectStore.get_artifact(linked_by=...)` is given to read an artifact's versions with it."""
        return (self.schema_id(VERSION_SCHEMA),)

    def versions_of_artifact(
        self, artifact: str, reader: Reader | None = None, *, versions: list[Aspect] | None = None
    ) -> list[dict[str, Any]]:
        """`{repository, number}` of every repository version the artifact is; with a `reader`, only in the
        repositories it may read (a repository it may not read is not revealed). `versions`: its current
        `version.1` aspects when the artifact was read with them (`linked_by=version_links`), else they are read."""
        if versions is None:
            rows = self.store.backend.run(self._q.REPOSITORIES_OF_ARTIFACT, {"urn": artifact})
            found = [(str(row["repository"]), orjson.loads(row["content"])) for row in rows]
        else:
            found = [(aspect.entity, aspect.content) for aspect in versions]
        out = []
        for repository, content in found:
            if reader is not None:
                try:
                    if not self.may_read_repository(self.repository_of_urn(repository), reader):
                        continue
                except NotFound:
                    continue
            out.append({"repository": parse_urn(repository).id, "number": content["number"]})
        return out


def _current_at(row: Mapping[str, Any], at: int) -> bool:
    """Whether an edge row (`valid_from`, `valid_to`) holds at `at` (microseconds)."""
    return bool(row["valid_from"] <= at and (row["valid_to"] is None or row["valid_to"] > at))


def _claimed_number(row: Mapping[str, Any]) -> int:
    """The number of a version claim (`…#<number>`)."""
    return int(str(row["urn"]).rsplit("#", 1)[1])


def _repository_fields(content: Mapping[str, Any]) -> tuple[str, str, str | None, str]:
    return content["project"], content["name"], content.get("org"), content["creator"]


__all__ = [
    "DEFAULT_PROTECTED_ALIASES",
    "DEFAULT_STAGES",
    "FROZEN_BY_LOCK",
    "LIFECYCLE_SCHEMAS",
    "InvalidUrn",
    "Lifecycle",
    "Repository",
    "ValidationFailed",
    "check_labels",
    "check_path",
    "check_type",
    "is_reference",
    "parse_label_filter",
    "parse_reference",
]
