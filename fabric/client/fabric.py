"""`Fabric`: the one object a user holds, the same calls in platform mode (a server) and local mode."""

from __future__ import annotations

import mimetypes
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from fabric.client.client_schemas import CLIENT_SCHEMAS, METADATA_SCHEMA
from fabric.client.drafts import DraftArtifact
from fabric.client.errors import ConfigurationError, IntegrityError, NotFound, UploadFailed
from fabric.client.http_transport import HttpTransport
from fabric.client.local_transport import LocalTransport
from fabric.client.models import Artifact, Aspect
from fabric.client.sidecar import FileStamp, Sidecar, file_digests
from fabric.client.sources import SeekableSource, source_for_stream
from fabric.client.tus import Progress, UploadState
from fabric.names import guess_mime_type

DEFAULT_LOCAL_DIR = "./fabric-artifacts"
DEFAULT_CHUNK_SIZE = 128 << 20


def _generated_name(extension: str) -> str:
    return f"{uuid.uuid4()}{extension}"


def file_urn_path(urn: str) -> Path | None:
    """The absolute path an `urn:file:///abs/path` (or `file:///abs/path`) names; None for other URNs."""
    text = urn[4:] if urn.startswith("urn:file:") else urn
    if not text.startswith("file://"):
        return None
    parts = urlsplit(text)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"{urn!r} names a file on another host")
    return Path(unquote(parts.path))


def _repository(reference: str) -> tuple[str, str]:
    """(`<project>/<name>`, version or alias) of `p/n`, `p/n:v` or `fabric://p/n[:v]`; `latest` when none."""
    text = reference[len("fabric://") :] if reference.startswith("fabric://") else reference
    repository, _, ref = text.partition(":")
    if repository.count("/") != 1:
        raise ValueError(f"{reference!r} is not <project>/<name>[:<version|alias>]")
    return repository, ref or "latest"


class Fabric:
    """The datafabric client.

    `Fabric()` works against the server at `FABRIC_URL` (with `FABRIC_TOKEN`) when that is set, else in local
    mode under `FABRIC_LOCAL_DIR` (default `./fabric-artifacts`). `Fabric(url=..., token=...)` names a server;
    `Fabric.local(base_dir=...)` forces local mode.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        local_dir: str | os.PathLike[str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        url = url or os.environ.get("FABRIC_URL") or None
        token = token or os.environ.get("FABRIC_TOKEN") or None
        if url:
            self._transport: HttpTransport | LocalTransport = HttpTransport(url, token, timeout=timeout)
        elif token:
            raise ConfigurationError(
                "a token was given but no server URL: set FABRIC_URL (or pass url=...) to use a server, "
                "or drop the token (FABRIC_TOKEN) for local mode"
            )
        else:
            self._transport = LocalTransport(local_dir or os.environ.get("FABRIC_LOCAL_DIR") or DEFAULT_LOCAL_DIR)
        self._known_schemas: set[str] = set()

    @classmethod
    def local(cls, base_dir: str | os.PathLike[str] | None = None) -> Fabric:
        """Local mode under `base_dir` (default `FABRIC_LOCAL_DIR`, else `./fabric-artifacts`), whatever the environment says."""
        fab = cls.__new__(cls)
        fab._transport = LocalTransport(base_dir or os.environ.get("FABRIC_LOCAL_DIR") or DEFAULT_LOCAL_DIR)
        fab._known_schemas = set()
        return fab

    @property
    def mode(self) -> str:
        return self._transport.mode

    @property
    def destination(self) -> str:
        """The server URL, or `local:<base dir>`."""
        return self._transport.key

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Fabric:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Fabric {self.mode} {self.destination}>"

    # ---- uploads ------------------------------------------------------------------------------------

    def upload_artifact(
        self,
        name: str | None = None,
        file_path: str | os.PathLike[str] | None = None,
        io_stream: IO[bytes] | IO[str] | None = None,
        content_type: str | None = None,
        content_size: int = -1,
        collection: str | None = None,
        policy: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        retries: int = 10,
        retry_delay: float = 0.5,
        force_upload: bool = False,
        progress: Progress | None = None,
        dir_path: str | os.PathLike[str] | None = None,
        type: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Artifact:
        """Upload a file, a stream, or a directory (`dir_path`: one artifact of all its files); returns the ready
        artifact, of `type` (default `file`) with `labels`.

        A file already uploaded unchanged to this destination (its sidecar says so, and the artifact still
        exists) is not sent again unless `force_upload`; an interrupted upload of it is resumed. `progress`
        is called with (bytes the server has, total or None).
        """
        if dir_path is not None:
            if file_path is not None or io_stream is not None:
                raise ValueError("give exactly one of file_path, io_stream and dir_path")
            folder = Path(dir_path).expanduser().resolve()
            draft = self.new_artifact(
                name=name or folder.name, type=type, labels=labels, collection=collection, policy=policy
            )
            return draft.add_directory(folder).save(chunk_size=chunk_size, retries=retries, retry_delay=retry_delay)
        if (file_path is None) == (io_stream is None):
            raise ValueError("give exactly one of file_path and io_stream")
        options = dict(chunk_size=chunk_size, retries=retries, retry_delay=retry_delay, progress=progress)
        if file_path is not None:
            path = Path(file_path).expanduser().resolve()
            if not path.is_file():
                raise FileNotFoundError(f"no such file: {file_path}")
            name = name or _generated_name("".join(path.suffixes[-1:]))
            metadata = {
                "filename": name,
                "content_type": content_type or guess_mime_type(name if "." in name else path.name),
                "collection": collection,
                "policy": policy,
            }
            return self._typed(self._upload_file(path, metadata, force_upload, **options), type, labels)
        assert io_stream is not None
        if name is None:
            extension = (mimetypes.guess_extension(content_type, strict=False) if content_type else None) or ""
            name = _generated_name(extension)
        metadata = {
            "filename": name,
            "content_type": content_type or guess_mime_type(name),
            "collection": collection,
            "policy": policy,
        }
        source = source_for_stream(io_stream, content_size if content_size >= 0 else None)  # type: ignore[arg-type]
        try:
            state = self._transport.upload(source, metadata, resume_url=None, on_created=lambda state: None, **options)
            _, sha256 = source.finish_hash()
        finally:
            source.close()
        return self._typed(self._finished(state, sha256), type, labels)

    def _typed(self, artifact: Artifact, type: str | None, labels: Mapping[str, str] | None) -> Artifact:
        if type is None and not labels:
            return artifact
        changes: dict[str, Any] = {}
        if type is not None:
            changes["type"] = type
        if labels:
            changes["labels"] = dict(labels)
        self._transport.update_artifact(artifact.id, changes)
        return self.get_artifact(artifact.id)

    def _upload_file(self, path: Path, metadata: dict[str, str | None], force: bool, **options: Any) -> Artifact:
        stamp = FileStamp.of(path)
        sidecar = Sidecar.load(path)
        destination = self._transport.key
        entry = sidecar.entry(destination)
        if not force:
            existing = self._deduplicated(path, stamp, sidecar, destination)
            if existing is not None:
                return existing
        resume_url = entry.resumable_upload(stamp)
        source = SeekableSource.open(path)
        try:
            state = self._transport.upload(
                source,
                metadata,
                resume_url=resume_url,
                on_created=lambda state: state.url and sidecar.record_upload_started(destination, state.url, stamp),
                **options,
            )
            md5, sha256 = source.finish_hash()
        finally:
            source.close()
        artifact = self._finished(state, sha256)
        if FileStamp.of(path) == stamp:
            sidecar.record_uploaded(destination, artifact.id, stamp, md5, sha256)
        return artifact

    def _deduplicated(self, path: Path, stamp: FileStamp, sidecar: Sidecar, destination: str) -> Artifact | None:
        """The artifact this unchanged file already is at this destination, if the sidecar knows it and it still exists."""
        entry = sidecar.entry(destination)
        if entry.artifact is None:
            return None
        if not entry.matches(stamp):
            if entry.size != stamp.size or not entry.sha256:
                return None
            md5, sha256 = file_digests(path)  # same size, new mtime: touched, or changed?
            if sha256 != entry.sha256:
                return None
            sidecar.record_uploaded(destination, entry.artifact, stamp, md5, sha256)
        try:
            artifact = self.get_artifact(entry.artifact)
        except NotFound:
            return None
        return artifact if artifact.status == "ready" else None

    def _finished(self, state: UploadState, sha256: str) -> Artifact:
        """The artifact an upload became, once the server has made it ready, checked against what was sent."""
        if not state.artifact_urn:
            raise UploadFailed(f"the server finished the upload {state.url} but named no artifact (no Artifact-Urn)")
        delay = 0.05
        for _ in range(40):
            artifact = self.get_artifact(state.artifact_urn)
            if artifact.status == "ready":
                if artifact.sha256 and artifact.sha256 != sha256:
                    raise IntegrityError(
                        f"{artifact.id}: the server stored sha256 {artifact.sha256} but the client sent {sha256} (did the file change during the upload?)"
                    )
                return artifact
            time.sleep(delay)
            delay = min(1.0, delay * 2)
        raise UploadFailed(f"{state.artifact_urn} received all its bytes but did not become ready")

    def artifact_for_file(self, file_path: str | os.PathLike[str]) -> Artifact | None:
        """The artifact an unchanged file was uploaded as (to this destination), from its sidecar; None otherwise."""
        path = Path(file_path).expanduser().resolve()
        if not path.is_file():
            return None
        return self._deduplicated(path, FileStamp.of(path), Sidecar.load(path), self._transport.key)

    # ---- artifacts ----------------------------------------------------------------------------------

    def get_artifact(self, urn: str) -> Artifact:
        """The artifact `urn` names; `urn:file:///abs/path` gives a view of that local file, and a reference
        `fabric://<project>/<name>[:<number|alias>]` the version it names now."""
        urn = self.resolve_urn(urn)
        path = file_urn_path(urn)
        if path is not None:
            return self._file_artifact(path)
        data = self._transport.get_artifact(urn)
        local = self._transport.blob_path(data) if isinstance(self._transport, LocalTransport) else None
        return Artifact(self, data, local_path=local)

    def _file_artifact(self, path: Path) -> Artifact:
        if not path.is_file():
            raise NotFound(f"no such file: {path}")
        stat = path.stat()
        data = {
            "urn": f"urn:file://{path}",
            "name": path.name,
            "status": "ready",
            "size": stat.st_size,
            "mime_type": guess_mime_type(path.name),
            "created": datetime.fromtimestamp(stat.st_mtime).astimezone().isoformat(),
            "location": f"file://{path}",
            "aspects": [],
        }
        return Artifact(self, data, local_path=path)

    def list_artifacts(self, limit: int | None = None, **filters: Any) -> Iterator[Artifact]:
        """Artifacts matching `filters` (name, mime_type, collection, schema, status, created_before, created_after), across pages."""
        for data in self._transport.list_artifacts(filters, limit):
            local = self._transport.blob_path(data) if isinstance(self._transport, LocalTransport) else None
            yield Artifact(self, data, local_path=local)

    def collection(self, urn: str, limit: int | None = None) -> Iterator[Artifact]:
        """The artifacts in a collection (a name or `urn:fabric:collection:<name>`)."""
        if not urn.startswith("urn:"):
            urn = f"urn:fabric:collection:{urn}"
        for data in self._transport.collection_members(urn, limit):
            yield Artifact(self, data)

    # ---- aspects ------------------------------------------------------------------------------------

    def _ensure_schema(self, schema: str) -> None:
        """Register the client's own schemas (metadata.1, order-status.1) where the fabric lacks them."""
        if schema not in CLIENT_SCHEMAS or schema in self._known_schemas:
            return
        try:
            self._transport.get_schema(schema)
        except NotFound:
            self._transport.register_schema(CLIENT_SCHEMAS[schema])
        self._known_schemas.add(schema)

    def add_aspect(self, entity: str, schema: str, content: Any) -> Aspect:
        self._ensure_schema(schema)
        return Aspect.from_json(self._transport.assert_aspect(entity, schema, content))

    def update_aspect(self, urn: str, content: Any) -> Aspect:
        """Retract the aspect and assert `content` in its place; returns the new aspect."""
        return Aspect.from_json(self._transport.update_aspect(urn, content))

    def retract_aspect(self, urn: str) -> Aspect:
        return Aspect.from_json(self._transport.retract_aspect(urn))

    def get_aspect(self, urn: str) -> Aspect:
        return Aspect.from_json(self._transport.get_aspect(urn))

    def list_aspects(
        self,
        entity: str | None = None,
        schema: str | None = None,
        *,
        at: datetime | str | None = None,
        include_retracted: bool = False,
        limit: int | None = None,
    ) -> Iterator[Aspect]:
        for data in self._transport.query_aspects(
            entity=entity, schema=schema, at=at, include_retracted=include_retracted, limit=limit
        ):
            yield Aspect.from_json(data)

    def add_metadata(self, entity: str, metadata: Mapping[str, Any]) -> Aspect:
        """User metadata on any entity: a `$schema` key names a registered schema, else the free-form `metadata.1`."""
        content = dict(metadata)
        return self.add_aspect(entity, content.pop("$schema", None) or METADATA_SCHEMA, content)

    # ---- schemas ------------------------------------------------------------------------------------

    def list_schemas(self) -> list[dict[str, Any]]:
        return self._transport.list_schemas()

    def get_schema(self, schema_id: str) -> dict[str, Any]:
        return self._transport.get_schema(schema_id)

    def register_schema(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        return self._transport.register_schema(schema)

    # ---- lineage and orders ------------------------------------------------------------------------

    def lineage(
        self, urn: str, direction: str = "upstream", depth: int = 10, at: datetime | str | None = None
    ) -> dict[str, Any]:
        """Nodes and edges reachable from `urn` (`upstream`: what it came from; `downstream`: what came of it; `both`)."""
        aliases = {"up": "upstream", "down": "downstream"}
        urn = self.resolve_urn(urn, at=at)
        return self._transport.lineage(urn, direction=aliases.get(direction, direction), depth=depth, at=at)

    # ---- lifecycle: drafts, types, lock, delete ------------------------------------------------------

    def new_artifact(
        self,
        name: str,
        type: str | None = None,
        labels: Mapping[str, str] | None = None,
        collection: str | None = None,
        policy: str | None = None,
    ) -> DraftArtifact:
        """A draft artifact: `add_file(local_path=..., path=...)` then `save()`."""
        body = {"name": name, "type": type, "labels": dict(labels or {}), "collection": collection, "policy": policy}
        return DraftArtifact(self, self._transport.create_artifact(body))

    def update_artifact(
        self, urn: str, *, type: str | None = None, labels: Mapping[str, str] | None = None
    ) -> Artifact:
        """Change the artifact's type or labels (the labels given replace the old ones)."""
        changes: dict[str, Any] = {}
        if type is not None:
            changes["type"] = type
        if labels is not None:
            changes["labels"] = dict(labels)
        self._transport.update_artifact(self.resolve_urn(urn), changes)
        return self.get_artifact(urn)

    def lock(self, urn: str, reason: str | None = None) -> Artifact:
        """Lock the artifact, one way: nothing about it may change, and it cannot be deleted."""
        self._transport.artifact_action(self.resolve_urn(urn), "lock", reason)
        return self.get_artifact(urn)

    def delete(self, urn: str, reason: str | None = None) -> None:
        """Delete the artifact (a tombstone in lineage); refused if locked, named by a protected alias, or in use."""
        self._transport.artifact_action(self.resolve_urn(urn), "delete", reason)

    def files(self, urn: str) -> list[dict[str, Any]]:
        """The artifact's manifest: `{path, size, sha256, md5, mime_type}` per file."""
        return self._transport.files(self.resolve_urn(urn))

    def pull(self, urn: str, path: str | os.PathLike[str]) -> list[Path]:
        """Write every file of the artifact under the directory `path` (resumed, verified); returns the files."""
        from fabric.client.drafts import pull

        return pull(self, self.resolve_urn(urn), path)

    # ---- repositories and versions ------------------------------------------------------------------

    def resolve(self, reference: str, at: datetime | str | None = None) -> dict[str, Any]:
        """The version `fabric://<project>/<name>[:<number|alias>]` names (its `artifact` is the concrete URN)."""
        return self._transport.resolve(reference, at)

    def resolve_urn(self, urn: str, at: datetime | str | None = None) -> str:
        """`urn` itself, or for a `fabric://` reference the artifact URN it names."""
        if isinstance(urn, str) and urn.startswith("fabric://"):
            return str(self.resolve(urn, at)["artifact"])
        return urn

    def list_repositories(self, project: str | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
        return self._transport.list_repositories(project, limit)

    def get_repository(self, repository: str) -> dict[str, Any]:
        """`<project>/<name>` with its aliases and newest versions."""
        return self._transport.get_repository(_repository(repository)[0])

    def register_version(
        self,
        repository: str,
        artifact: str,
        *,
        description: str = "",
        tags: list[str] | None = None,
        content: dict[str, Any] | None = None,
        order: str | None = None,
        aliases: list[str] | tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Register the artifact as the next version of `<project>/<name>` (created on first use)."""
        body: dict[str, Any] = {
            "artifact": self.resolve_urn(artifact),
            "description": description,
            "tags": list(tags or []),
            "aliases": list(aliases),
        }
        if content is not None:
            body["content"] = content
        if order is not None:
            body["order"] = order
        return self._transport.register_version(_repository(repository)[0], body)

    def list_versions(
        self, repository: str, *, stage: str | None = None, at: datetime | str | None = None, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        return self._transport.list_versions(_repository(repository)[0], stage=stage, at=at, limit=limit)

    def get_version(self, reference: str, at: datetime | str | None = None) -> dict[str, Any]:
        """`p/n` (latest), `p/n:3`, `p/n:prod` or `fabric://p/n:prod`, as it is now or was at `at`."""
        repository, ref = _repository(reference)
        return self._transport.get_version(repository, ref, at)

    def update_version(self, reference: str, **changes: Any) -> dict[str, Any]:
        """Change a version's description, tags or content."""
        repository, ref = _repository(reference)
        return self._transport.update_version(repository, ref, changes)

    def set_alias(self, repository: str, alias: str, version: int) -> dict[str, Any]:
        return self._transport.set_alias(_repository(repository)[0], alias, version)

    def remove_alias(self, repository: str, alias: str) -> None:
        self._transport.remove_alias(_repository(repository)[0], alias)

    def stage(self, reference: str, stage: str, reason: str = "", message: str = "") -> dict[str, Any]:
        """Move a version (`p/n:3`) to `stage`, saying why."""
        repository, ref = _repository(reference)
        return self._transport.set_stage(repository, ref, {"stage": stage, "reason": reason, "message": message})

    def stage_history(self, reference: str) -> list[dict[str, Any]]:
        repository, ref = _repository(reference)
        return self._transport.stage_history(repository, ref)

    # ---- access ------------------------------------------------------------------------------------

    def _platform(self, what: str) -> HttpTransport:
        if not isinstance(self._transport, HttpTransport):
            raise ConfigurationError(f"{what} needs a server (set FABRIC_URL): local mode has one user and no sharing")
        return self._transport

    def grant_access(self, urn: str, *, email: str | None = None, org: str | None = None) -> dict[str, Any]:
        """Let a user (by email) or an organisation (by id) read the artifact; returns the grant (its `id` revokes it)."""
        if (email is None) == (org is None):
            raise ValueError("give exactly one of email and org")
        return self._platform("sharing").grant_access(urn, email=email, org=org)

    def list_access(self, urn: str, *, include_revoked: bool = False) -> list[dict[str, Any]]:
        """The artifact's grants (only its creator and its organisation's admins may list them)."""
        return self._platform("sharing").list_access(urn, include_revoked=include_revoked)

    def revoke_access(self, urn: str, grant: str) -> dict[str, Any]:
        return self._platform("sharing").revoke_access(urn, grant)

    def shared_artifacts(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """What others shared with you (or your organisation); the creator is shown as organisation and name only."""
        return self._platform("sharing").shared_artifacts(limit)

    def order_token(self, order: str, ttl: int | None = None) -> dict[str, Any]:
        """A compute token for `order`: it can upload, and read what you can read now; nothing else."""
        return self._platform("a compute token").order_token(order, ttl)

    def with_token(self, token: str) -> Fabric:
        """Another client of the same server, acting with `token`."""
        backend = self._platform("a token")
        return Fabric(url=backend.url, token=token, timeout=backend.timeout)

    def order(self, service: str, inputs: Any = None, *, order_urn: str | None = None) -> Order:
        """A context manager recording a service run: its inputs (every artifact URN in `inputs`) and outputs."""
        from fabric.client.order import Order

        return Order(self, service, inputs, order_urn=order_urn)


from fabric.client.order import Order  # noqa: E402  (for the annotation above)
