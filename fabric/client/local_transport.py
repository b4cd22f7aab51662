"""Local mode: the whole fabric in this process, under one base directory, without a server.

Blobs go to `<base>/blobs` (the server's content-addressed `BlobStore`), the graph is the embedded LadybugDB
store under `<base>`, and finished bytes become artifacts through the same `fabric.ingest` functions the
server's upload hook uses, so an artifact made here carries the aspects one made by a server carries.

As in IVCAP's local mode, an uploaded file is a file: `<base>/<name>` (a hard link to its read-only blob, or a
copy where the filesystem has no hard links; `<stem>-2<suffix>` and so on when the name is taken), and its
artifact URN is `urn:file:///abs/path/<base>/<name>`. Artifacts of several files (drafts, directories) are not
one file, so they keep `urn:<namespace>:artifact:<uuid>`.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aspects.artifact_filter import ArtifactFilter
from fabric.blobs import BlobStore
from fabric.client.errors import BadRequest, Conflict, Gone, NotFound, ValidationFailed
from fabric.client.sources import Source
from fabric.client.transport import AspectQuery, Transport, UploadMetadata, UploadOptions
from fabric.client.tus import UploadState
from fabric.urns import DEFAULT_NAMESPACE, fabric_urn
from fabric.wire import ArtifactJSON, AspectJSON

if TYPE_CHECKING:
    from aspects import ArtifactRecord, AspectStore, Page

WRITE_BLOCK = 1 << 20
INTERNAL_NAMES = frozenset({"blobs", "uploads", "graph"})  # what the base directory holds besides the files
T = TypeVar("T")
Item = TypeVar("Item")


def _store_errors(call: Callable[[], T]) -> T:
    """The store's own exceptions as the client's, so both modes raise the same things."""
    import aspects

    try:
        return call()
    except aspects.NotFound as exc:
        raise NotFound(str(exc)) from None
    except aspects.ValidationFailed as exc:
        raise ValidationFailed(str(exc)) from None
    except aspects.Conflict as exc:
        raise Conflict(str(exc)) from None
    except (aspects.InvalidUrn, ValueError) as exc:
        raise BadRequest(str(exc)) from None


def _object(call: Callable[[], Any]) -> dict[str, Any]:
    """A store call answering one JSON object."""
    return dict(_store_errors(call))


def _parse_time(value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class LocalTransport(Transport):
    """Local mode: the fabric in this process (blobs and the embedded graph under `base_dir`), no server."""

    mode = "local"

    def __init__(
        self, base_dir: str | os.PathLike[str], *, namespace: str = DEFAULT_NAMESPACE, user: str | None = None
    ) -> None:
        from fabric.auth.tokens import local_principal

        self.base_dir = Path(base_dir).expanduser().resolve()
        self._namespace = namespace
        self.user = user or local_principal(namespace).user_urn  # the same local user a server without --auth sees
        self.org = local_principal(namespace).org_urn
        self._store: AspectStore | None = None
        self._blobs: BlobStore | None = None
        self._lifecycle: Any = None

    @property
    def namespace(self) -> str:
        return self._namespace

    @property
    def destination(self) -> str:
        return f"local:{self.base_dir}"

    @property
    def store(self) -> AspectStore:
        """The embedded graph, opened on first use (opening it takes a moment and a lock)."""
        if self._store is None:
            from aspects import open_store

            self.base_dir.mkdir(parents=True, exist_ok=True)
            self._store = open_store(None, self.base_dir, namespace=self.namespace)
        return self._store

    @property
    def blobs(self) -> BlobStore:
        if self._blobs is None:
            self._blobs = BlobStore(self.base_dir / "blobs")
        return self._blobs

    @property
    def lifecycle(self) -> Any:
        if self._lifecycle is None:
            from aspects.lifecycle import Lifecycle

            self._lifecycle = Lifecycle(self.store)
        return self._lifecycle

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
            self._lifecycle = None

    def blob_path(self, artifact: ArtifactJSON) -> Path | None:
        """Where the bytes are: the file an `urn:file` artifact names while it is still that file, else the blob."""
        if artifact.status != "ready" or not artifact.sha256:
            return None
        blob = self.blobs.path(artifact.sha256)
        visible = self._own_file(artifact.urn, blob)
        return visible if visible is not None else blob

    def _own_file(self, urn: str, blob: Path) -> Path | None:
        """The file `urn` names, if it is one this store made (under the base directory, still linked to `blob`)."""
        if not urn.startswith("urn:file://"):
            return None
        path = Path(urn.removeprefix("urn:file://"))
        try:
            return path if path.parent == self.base_dir and os.path.samefile(path, blob) else None
        except OSError:
            return None

    def _known(self, urn: str) -> bool:
        import aspects

        try:
            self.store.get_artifact(urn)
        except aspects.NotFound:
            return False
        return True

    def _place_file(self, blob: Path, name: str) -> Path:
        """`blob` as the file `<base>/<name>`, or `<stem>-2<suffix>`… when that is taken; never over a file."""
        stem, suffix = (name[: -len(Path(name).suffix)], Path(name).suffix) if Path(name).suffix else (name, "")
        for n in itertools.count(1):
            candidate = name if n == 1 else f"{stem}-{n}{suffix}"
            if candidate in INTERNAL_NAMES or candidate.startswith("graph."):
                continue
            target = self.base_dir / candidate
            if self._known(f"urn:file://{target}"):
                continue  # a deleted artifact's tombstone, or one whose file was removed by hand, keeps its URN
            try:
                os.link(blob, target)
            except FileExistsError:
                continue
            except OSError:  # a filesystem without hard links: a read-only copy, created exclusively
                try:
                    with open(blob, "rb") as src, open(target, "xb") as out:
                        shutil.copyfileobj(src, out, WRITE_BLOCK)
                except FileExistsError:
                    continue
                os.chmod(target, 0o440)
            return target
        raise AssertionError("unreachable")

    # ---- artifacts ----------------------------------------------------------------------------------

    def get_artifact(self, urn: str) -> ArtifactJSON:
        def read() -> ArtifactJSON:
            record = self.store.get_artifact(urn)
            if record.status == "deleted":
                raise Gone(f"{urn} was deleted: it stays in lineage as a tombstone, its bytes are gone", status=410)
            lifecycle = self.lifecycle
            description = lifecycle.describe(urn, record.aspects)
            return ArtifactJSON.from_record(record).with_lifecycle(description, lifecycle.versions_of_artifact(urn))

        return _store_errors(read)

    def _pages(self, fetch: Callable[[str | None, int], Page[Item]], limit: int | None) -> Iterator[Item]:
        cursor: str | None = None
        count = 0
        while True:
            size = min(limit - count, 1000) if limit is not None else 1000
            page = _store_errors(lambda cursor=cursor, size=size: fetch(cursor, size))  # type: ignore[misc]
            for item in page.items:
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
            cursor = page.next_cursor
            if cursor is None:
                return

    def list_artifacts(self, filters: Mapping[str, Any], limit: int | None) -> Iterator[ArtifactJSON]:
        given = dict(filters)
        before, after = _parse_time(given.pop("created_before", None)), _parse_time(given.pop("created_after", None))
        given = {key: value for key, value in given.items() if value is not None}
        if "uploader" in given:  # as the server reads them: `me`, an email address or a URN
            given["uploader"] = self.user if given["uploader"] == "me" else self._urn("user", given["uploader"])
        if "org" in given:
            given["org"] = self._urn("org", given["org"])
        records = self._pages(
            lambda cursor, n: self.store.list_artifacts(
                ArtifactFilter(**given, created_before=before, created_after=after), limit=n, cursor=cursor
            ),
            limit,
        )
        return self._listed(records)

    def _urn(self, kind: str, value: str) -> str:
        return value if value.startswith("urn:") else fabric_urn(kind, value, self.namespace)

    def collection_members(self, urn: str, limit: int | None) -> Iterator[ArtifactJSON]:
        records = self._pages(lambda cursor, n: self.store.collection_members(urn, limit=n, cursor=cursor), limit)
        return self._listed(records)

    def _listed(self, records: Iterator[ArtifactRecord]) -> Iterator[ArtifactJSON]:
        """Listing items with their `type`, `labels` and `state`, as the server's listings carry them: one
        summaries query for each run of up to 1,000 records (a listing page)."""
        while batch := list(itertools.islice(records, 1000)):
            summaries = self.lifecycle.summaries([record.urn for record in batch])
            for record in batch:
                yield ArtifactJSON.from_json({**record.to_json(), **summaries.get(record.urn, {})})

    def upload(
        self,
        source: Source,
        metadata: UploadMetadata,
        *,
        resume_url: str | None,
        on_created: Callable[[UploadState], None],
        options: UploadOptions,
    ) -> UploadState:
        """Copy the source into blob storage (hashing as it goes), place it as `<base>/<name>` and register it as a
        ready artifact named `urn:file://<base>/<name>` (a file of a draft is only linked into that draft)."""
        from fabric.ingest import (
            InvalidLink,
            artifact_content,
            link_targets,
            register_artifact,
            upload_mime_type,
            upload_name,
        )

        try:
            name = upload_name(metadata)
            targets = link_targets(metadata, self.namespace)
        except (InvalidLink, ValueError) as exc:
            raise BadRequest(str(exc)) from None
        created = datetime.now(UTC)
        incoming = self.base_dir / "uploads"
        incoming.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="upload-", dir=incoming)
        try:
            with os.fdopen(fd, "wb") as out:
                offset = 0
                while True:
                    chunk = source.chunk(offset, options.chunk_size)
                    for block in chunk.blocks(offset):
                        out.write(block)
                        offset += len(block)
                        if options.progress is not None:
                            options.progress(offset, source.size)
                    if chunk.last:
                        break
                out.flush()
                os.fsync(out.fileno())
            md5, sha256 = source.finish_hash()
            self.blobs.ingest(Path(tmp), sha256)
        finally:
            Path(tmp).unlink(missing_ok=True)
        artifact_name = name or str(uuid.uuid4())
        content = artifact_content(
            name=artifact_name,
            mime_type=upload_mime_type(metadata, name),
            size=offset,
            md5=md5,
            sha256=sha256,
            location=self.blobs.location(sha256),
            created=created,
            uploader=self.user,
        )

        draft, file_path = metadata.get("artifact"), metadata.get("path")
        if draft and file_path:
            mime_type = upload_mime_type(metadata, file_path.rsplit("/", 1)[-1])

            def add_file() -> None:
                upload_id = f"local-{sha256}"
                self.lifecycle.start_file(
                    draft, file_path, size=offset, mime_type=mime_type, upload=upload_id, asserter=self.user
                )
                self.lifecycle.finish_file(
                    draft, file_path, upload=upload_id, size=offset, sha256=sha256, md5=md5, asserter=self.user
                )

            _store_errors(add_file)
            return UploadState(url="", artifact_urn=draft, offset=offset, length=offset)

        _ = self.store  # opened before a name is chosen, so that its files are there to be avoided
        placed = self._place_file(self.blobs.path(sha256), artifact_name)
        urn = f"urn:file://{placed}"

        def register() -> None:
            self.store.create_artifact(
                urn, name=artifact_name, uploader=self.user, created=created, properties={}, org=self.org
            )
            register_artifact(self.store, urn, content, targets, asserter=self.user)

        try:
            _store_errors(register)
        except BaseException:
            placed.unlink(missing_ok=True)
            raise
        return UploadState(url="", artifact_urn=urn, offset=offset, length=offset)

    def blob_chunks(self, urn: str, *, start: int = 0, expected_sha256: str | None = None) -> Iterator[bytes]:
        artifact = self.get_artifact(urn)
        path = self.blob_path(artifact)
        if path is None:
            raise Conflict(f"{urn} has no bytes yet: its upload has not finished", status=409)
        with open(path, "rb") as f:
            f.seek(start)
            while data := f.read(WRITE_BLOCK):
                yield data

    # ---- lifecycle: drafts, files, lock, delete ----------------------------------------------------

    def create_artifact(self, body: Mapping[str, Any]) -> ArtifactJSON:
        from aspects import new_urn
        from fabric.ingest import InvalidLink, link_targets
        from fabric.names import safe_name

        urn = new_urn("artifact", ns=self.namespace)
        try:
            targets = link_targets({k: body.get(k) for k in ("collection", "policy")}, self.namespace)
            name = safe_name(str(body["name"]))
        except (InvalidLink, ValueError) as exc:
            raise BadRequest(str(exc)) from None
        _store_errors(
            lambda: self.lifecycle.create_draft(
                urn,
                name=name,
                uploader=self.user,
                org=self.org,
                type_=body.get("type"),
                labels=body.get("labels") or {},
                collection=targets.get("collection"),
                policy=targets.get("policy"),
            )
        )
        return self.get_artifact(urn)

    def update_artifact(self, urn: str, changes: Mapping[str, Any]) -> ArtifactJSON:
        def update() -> None:
            if "type" in changes:
                self.lifecycle.set_type(urn, changes["type"], asserter=self.user)
            if "labels" in changes:
                self.lifecycle.set_labels(urn, changes["labels"], asserter=self.user)

        _store_errors(update)
        return self.get_artifact(urn)

    def link_file(self, urn: str, file: Mapping[str, Any]) -> bool:
        sha256, size = str(file["sha256"]), int(file["size"])
        try:
            if not self.blobs.exists(sha256):
                return False
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return bool(
            _store_errors(
                lambda: self.lifecycle.link_file(
                    urn,
                    file["path"],
                    sha256=sha256,
                    size=size,
                    md5=file.get("md5"),
                    mime_type=file.get("mime_type") or "application/octet-stream",
                    asserter=self.user,
                    reader=None,
                )
            )
        )

    def artifact_action(self, urn: str, action: str, reason: str | None = None) -> dict[str, Any]:
        if action == "seal":
            _store_errors(lambda: self.lifecycle.seal(urn, asserter=self.user))
        elif action == "lock":
            _store_errors(lambda: self.lifecycle.lock(urn, asserter=self.user, reason=reason))
        else:
            before = self.get_artifact(urn)
            own = self._own_file(urn, self.blobs.path(before.sha256)) if before.sha256 else None
            _store_errors(lambda: self.lifecycle.delete(urn, asserter=self.user, reason=reason))
            if own is not None:
                own.unlink(missing_ok=True)  # its bytes are gone, as on a server; the blob goes with maintenance
            return {"urn": urn, "state": "deleted"}
        return self.get_artifact(urn).to_json()

    def files(self, urn: str) -> list[dict[str, Any]]:
        self.get_artifact(urn)
        return list(_store_errors(lambda: self.lifecycle.files(urn)))

    def file_chunks(
        self, urn: str, path: str, *, start: int = 0, expected_sha256: str | None = None
    ) -> Iterator[bytes]:
        self.get_artifact(urn)
        found = _store_errors(lambda: self.lifecycle.file(urn, path))  # one file, not the manifest read per file
        if found is None:
            raise NotFound(f"{urn} has no file {path!r}")
        if not found["sha256"]:
            raise Conflict(f"{path!r} of {urn} is still being uploaded", status=409)
        with open(self.blobs.path(found["sha256"]), "rb") as f:
            f.seek(start)
            while data := f.read(WRITE_BLOCK):
                yield data

    # ---- repositories ------------------------------------------------------------------------------

    @staticmethod
    def _repo(repository: str) -> tuple[str, str]:
        project, _, name = repository.partition("/")
        return project, name

    def resolve(self, reference: str, at: datetime | str | None = None) -> dict[str, Any]:
        return {"ref": reference, **_store_errors(lambda: self.lifecycle.resolve(reference, at=_parse_time(at)))}

    def list_repositories(self, project: str | None, limit: int | None) -> Iterator[dict[str, Any]]:
        repositories = self._pages(
            lambda cursor, n: self.lifecycle.list_repositories(project=project, limit=n, cursor=cursor), limit
        )
        return (repository.to_json() for repository in repositories)

    def get_repository(self, repository: str) -> dict[str, Any]:
        project, name = self._repo(repository)

        def read() -> dict[str, Any]:
            versions = self.lifecycle.versions(project, name)
            return {
                **self.lifecycle.get_repository(project, name).to_json(),
                "aliases": self.lifecycle.aliases(project, name),
                "versions": {"items": versions.items, "next_cursor": versions.next_cursor},
            }

        return _object(read)

    def register_version(self, repository: str, body: Mapping[str, Any]) -> dict[str, Any]:
        project, name = self._repo(repository)
        return _object(
            lambda: self.lifecycle.register_version(
                project,
                name,
                body["artifact"],
                asserter=self.user,
                org=self.org,
                description=body.get("description") or "",
                tags=body.get("tags"),
                content=body.get("content"),
                order=body.get("order"),
                aliases=body.get("aliases") or (),
            )
        )

    def list_versions(
        self, repository: str, *, stage: str | None, at: datetime | str | None, limit: int | None
    ) -> Iterator[dict[str, Any]]:
        project, name = self._repo(repository)
        when = _parse_time(at)
        return self._pages(
            lambda cursor, n: self.lifecycle.versions(project, name, stage=stage, at=when, limit=n, cursor=cursor),
            limit,
        )

    def get_version(self, repository: str, ref: str, at: datetime | str | None = None) -> dict[str, Any]:
        project, name = self._repo(repository)
        return _object(lambda: self.lifecycle.get_version(project, name, ref, at=_parse_time(at)))

    def update_version(self, repository: str, ref: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        project, name = self._repo(repository)
        return _object(lambda: self.lifecycle.update_version(project, name, ref, changes, asserter=self.user))

    def set_alias(self, repository: str, alias: str, version: int) -> dict[str, Any]:
        project, name = self._repo(repository)
        found = _store_errors(lambda: self.lifecycle.set_alias(project, name, alias, version, asserter=self.user))
        return {"alias": alias, **found}

    def remove_alias(self, repository: str, alias: str) -> None:
        project, name = self._repo(repository)
        _store_errors(lambda: self.lifecycle.remove_alias(project, name, alias, asserter=self.user))

    def set_stage(self, repository: str, ref: str, body: Mapping[str, Any]) -> dict[str, Any]:
        project, name = self._repo(repository)
        return _object(
            lambda: self.lifecycle.set_stage(
                project,
                name,
                ref,
                body["stage"],
                asserter=self.user,
                reason=body.get("reason") or "",
                message=body.get("message") or "",
            )
        )

    def stage_history(self, repository: str, ref: str) -> list[dict[str, Any]]:
        project, name = self._repo(repository)
        return list(_store_errors(lambda: self.lifecycle.stage_history(project, name, ref)))

    # ---- aspects, schemas, lineage -----------------------------------------------------------------

    def assert_aspect(self, entity: str, schema: str, content: Any) -> AspectJSON:
        aspect = _store_errors(lambda: self.store.assert_aspect(entity, schema, content, asserter=self.user))
        return AspectJSON.from_record(aspect)

    def get_aspect(self, urn: str) -> AspectJSON:
        return AspectJSON.from_record(_store_errors(lambda: self.store.get_aspect(urn)))

    def update_aspect(self, urn: str, content: Any) -> AspectJSON:
        aspect = _store_errors(lambda: self.store.update_aspect(urn, content, asserter=self.user))
        return AspectJSON.from_record(aspect)

    def retract_aspect(self, urn: str) -> AspectJSON:
        return AspectJSON.from_record(_store_errors(lambda: self.store.retract_aspect(urn, asserter=self.user)))

    def query_aspects(self, query: AspectQuery, limit: int | None) -> Iterator[AspectJSON]:
        moment = _parse_time(query.at)
        records = self._pages(
            lambda cursor, n: self.store.query_aspects(
                entity=query.entity,
                schema=query.schema,
                at=moment,
                include_retracted=query.include_retracted,
                limit=n,
                cursor=cursor,
            ),
            limit,
        )
        return map(AspectJSON.from_record, records)

    def list_schemas(self) -> list[dict[str, Any]]:
        return list(_store_errors(self.store.list_schemas))

    def get_schema(self, schema_id: str) -> dict[str, Any]:
        return _store_errors(lambda: self.store.get_schema(schema_id))

    def register_schema(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        return _store_errors(lambda: self.store.register_schema(dict(schema), asserter=self.user))

    def lineage(self, urn: str, *, direction: str, depth: int, at: datetime | str | None) -> dict[str, Any]:
        if direction not in ("upstream", "downstream", "both"):
            raise BadRequest("direction must be upstream, downstream or both")
        return _store_errors(
            lambda: self.store.lineage(urn, direction=direction, depth=depth, at=_parse_time(at))
        ).to_json()
