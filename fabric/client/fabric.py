"""`Fabric`: the one object a user holds, the same calls in platform mode (a server) and local mode."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from fabric.client.client_schemas import (
    METADATA_SCHEMA,
    NOTHING,
    aspect_and_schema,
    assert_aspect,
    has_schema,
    is_aspect_urn,
)
from fabric.client.connection import choose_server
from fabric.client.drafts import DraftArtifact
from fabric.client.http_transport import HttpTransport
from fabric.client.local_transport import LocalTransport
from fabric.client.models import Artifact, Aspect
from fabric.client.order import Order
from fabric.client.pull import pull
from fabric.client.references import parse_reference, resolve_urn, version_body
from fabric.client.transport import AspectQuery, Transport, UploadOptions, lineage_direction
from fabric.client.tus import Progress
from fabric.client.uploads import DEFAULT_CHUNK_SIZE, UploadRequest, artifact_for_file, new_draft, upload_artifact
from fabric.urns import collection_urn, fabric_urn

DEFAULT_LOCAL_DIR = "./fabric-artifacts"


class Fabric:
    """The datafabric client.

    `Fabric()` works against a server when one is named: `url=` (and `token=`), else `FABRIC_URL` (and
    `FABRIC_TOKEN`), else the login `fabric login` stored (its token is sent only to its own server). With none,
    it works in local mode under `local_dir`, `FABRIC_LOCAL_DIR` or `./fabric-artifacts`. `Fabric.local(base_dir=...)`
    forces local mode.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        local_dir: str | os.PathLike[str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        server = choose_server(url, token, url_source="url=")
        if server is not None:
            self._transport: Transport = HttpTransport(server.url, server.token, timeout=timeout)
        else:
            self._transport = LocalTransport(local_dir or os.environ.get("FABRIC_LOCAL_DIR") or DEFAULT_LOCAL_DIR)

    @classmethod
    def local(cls, base_dir: str | os.PathLike[str] | None = None) -> Fabric:
        """Local mode under `base_dir` (default `FABRIC_LOCAL_DIR`, else `./fabric-artifacts`), whatever the environment says."""
        return cls.over(LocalTransport(base_dir or os.environ.get("FABRIC_LOCAL_DIR") or DEFAULT_LOCAL_DIR))

    @classmethod
    def over(cls, transport: Transport) -> Fabric:
        """A client over a transport of your choosing."""
        fab = cls.__new__(cls)
        fab._transport = transport
        return fab

    @property
    def transport(self) -> Transport:
        return self._transport

    @property
    def mode(self) -> str:
        return self._transport.mode

    @property
    def destination(self) -> str:
        """The server URL, or `local:<base dir>`."""
        return self._transport.destination

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
        jobs: int = 4,
    ) -> Artifact:
        """Upload a file, a stream, or a directory (`dir_path`: one artifact of all its files); returns the ready
        artifact, of `type` (default `file`) with `labels`.

        A file already uploaded unchanged to this destination (its sidecar says so, and the artifact still
        exists) is not sent again unless `force_upload`; an interrupted upload of it is resumed. `progress`
        is called with (bytes the server has, total or None), for each file of a directory. A directory's files
        go up `jobs` at once.
        """
        request = UploadRequest(
            name=name, content_type=content_type, collection=collection, policy=policy, type=type, labels=labels
        )
        options = UploadOptions(
            chunk_size=chunk_size, retries=retries, retry_delay=retry_delay, progress=progress, jobs=jobs
        )
        return upload_artifact(
            self._transport,
            request,
            options,
            file_path=file_path,
            io_stream=io_stream,
            dir_path=dir_path,
            content_size=content_size,
            force=force_upload,
        )

    def artifact_for_file(self, file_path: str | os.PathLike[str]) -> Artifact | None:
        """The artifact an unchanged file was uploaded as (to this destination), from its sidecar; None otherwise."""
        return artifact_for_file(self._transport, file_path)

    # ---- artifacts ----------------------------------------------------------------------------------

    def get_artifact(self, urn: str) -> Artifact:
        """The artifact `urn` names; `urn:file:///abs/path` gives a view of that local file, and a reference
        `fabric://<project>/<name>[:<number|alias>]` the version it names now."""
        return Artifact.fetch(self._transport, urn)

    def list_artifacts(self, limit: int | None = None, **filters: Any) -> Iterator[Artifact]:
        """Artifacts matching `filters`, newest first, across pages: name, mime_type, collection, schema, status,
        type, labels (a dict), uploader (`me`, an email address or a user URN), org (an organisation's id or URN),
        created_before, created_after."""
        for data in self._transport.list_artifacts(filters, limit):
            yield Artifact.of(self._transport, data)

    def collection(self, urn: str, limit: int | None = None) -> Iterator[Artifact]:
        """The artifacts in a collection (a name, or its URN `urn:<namespace>:collection:<name>`)."""
        for data in self._transport.collection_members(collection_urn(urn, self._transport.namespace), limit):
            yield Artifact(self._transport, data)

    # ---- aspects ------------------------------------------------------------------------------------

    def add_aspect(
        self, entity: str, aspect: Mapping[str, Any] | str, content: Any = NOTHING, *, schema: str | None = None
    ) -> Aspect:
        """Assert an aspect on `entity`.

        `add_aspect(entity, {"$schema": "urn:…:schema:tag.1", "tags": [...]})` takes the schema from the content's
        `$schema` (or from `schema=`), as IVCAP's client does; `add_aspect(entity, schema, content)` names it apart.
        """
        named, body = aspect_and_schema(aspect, content, schema)
        return assert_aspect(self._transport, entity, named, body)

    def update_aspect(
        self, entity: str, aspect: Any = NOTHING, *, schema: str | None = None, content: Any = NOTHING
    ) -> Aspect:
        """Replace an aspect; returns the new one. The old one is retracted, so its history stays.

        `update_aspect(entity, {"$schema": …, …})` (or with `schema=`): the entity's current aspect of that schema is
        replaced (asserted if it has none; if it has several, all are replaced by this one), as IVCAP's client
        does. `update_aspect(aspect_urn, content)`: that one aspect is replaced.
        """
        if content is not NOTHING or (schema is None and is_aspect_urn(entity) and not has_schema(aspect)):
            return self._transport.update_aspect(entity, content if content is not NOTHING else aspect)
        named, body = aspect_and_schema(aspect, NOTHING, schema)
        current = list(self._transport.query_aspects(AspectQuery(entity=entity, schema=named), None))
        if not current:
            return assert_aspect(self._transport, entity, named, body)
        for older in current[1:]:
            self._transport.retract_aspect(older.urn)
        return self._transport.update_aspect(current[0].urn, body)

    def retract_aspect(self, urn: str) -> Aspect:
        return self._transport.retract_aspect(urn)

    def get_aspect(self, urn: str) -> Aspect:
        """The aspect `urn` names; a bare UUID (`get_aspect("1f0c…")`) is the aspect with that id."""
        if not urn.startswith("urn:"):
            urn = fabric_urn("aspect", urn, self._transport.namespace)
        return self._transport.get_aspect(urn)

    def list_aspects(
        self,
        entity: str | None = None,
        schema: str | None = None,
        *,
        at: datetime | str | None = None,
        include_retracted: bool = False,
        limit: int | None = None,
    ) -> Iterator[Aspect]:
        query = AspectQuery(entity=entity, schema=schema, at=at, include_retracted=include_retracted)
        return self._transport.query_aspects(query, limit)

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
        urn = self.resolve_urn(urn, at=at)
        return self._transport.lineage(urn, direction=lineage_direction(direction), depth=depth, at=at)

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
        request = UploadRequest(collection=collection, policy=policy, type=type, labels=labels)
        return new_draft(self._transport, request, name)

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

    def pull(self, urn: str, path: str | os.PathLike[str], *, jobs: int = 4) -> list[Path]:
        """Write every file of the artifact under the directory `path` (resumed, verified), `jobs` at once against
        a server; returns the files."""
        return pull(self._transport, self.resolve_urn(urn), path, jobs)

    # ---- repositories and versions ------------------------------------------------------------------

    def resolve(self, reference: str, at: datetime | str | None = None) -> dict[str, Any]:
        """The version `fabric://<project>/<name>[:<number|alias>]` names (its `artifact` is the concrete URN)."""
        return self._transport.resolve(reference, at)

    def resolve_urn(self, urn: str, at: datetime | str | None = None) -> str:
        """`urn` itself, or for a `fabric://` reference the artifact URN it names."""
        return resolve_urn(self._transport, urn, at)

    def list_repositories(self, project: str | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
        return self._transport.list_repositories(project, limit)

    def get_repository(self, repository: str) -> dict[str, Any]:
        """`<project>/<name>` with its aliases and newest versions."""
        return self._transport.get_repository(parse_reference(repository)[0])

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
        body = version_body(
            self.resolve_urn(artifact),
            description=description,
            tags=tags,
            content=content,
            order=order,
            aliases=aliases,
        )
        return self._transport.register_version(parse_reference(repository)[0], body)

    def list_versions(
        self, repository: str, *, stage: str | None = None, at: datetime | str | None = None, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        return self._transport.list_versions(parse_reference(repository)[0], stage=stage, at=at, limit=limit)

    def get_version(self, reference: str, at: datetime | str | None = None) -> dict[str, Any]:
        """`p/n` (latest), `p/n:3`, `p/n:prod` or `fabric://p/n:prod`, as it is now or was at `at`."""
        repository, ref = parse_reference(reference)
        return self._transport.get_version(repository, ref, at)

    def update_version(self, reference: str, **changes: Any) -> dict[str, Any]:
        """Change a version's description, tags or content."""
        repository, ref = parse_reference(reference)
        return self._transport.update_version(repository, ref, changes)

    def set_alias(self, repository: str, alias: str, version: int) -> dict[str, Any]:
        return self._transport.set_alias(parse_reference(repository)[0], alias, version)

    def remove_alias(self, repository: str, alias: str) -> None:
        self._transport.remove_alias(parse_reference(repository)[0], alias)

    def stage(self, reference: str, stage: str, reason: str = "", message: str = "") -> dict[str, Any]:
        """Move a version (`p/n:3`) to `stage`, saying why."""
        repository, ref = parse_reference(reference)
        return self._transport.set_stage(repository, ref, {"stage": stage, "reason": reason, "message": message})

    def stage_history(self, reference: str) -> list[dict[str, Any]]:
        repository, ref = parse_reference(reference)
        return self._transport.stage_history(repository, ref)

    # ---- access ------------------------------------------------------------------------------------

    def grant_access(self, urn: str, *, email: str | None = None, org: str | None = None) -> dict[str, Any]:
        """Let a user (by email) or an organisation (by id) read the artifact; returns the grant (its `id` revokes it)."""
        if (email is None) == (org is None):
            raise ValueError("give exactly one of email and org")
        return self._transport.grant_access(urn, email=email, org=org).to_json()

    def list_access(self, urn: str, *, include_revoked: bool = False) -> list[dict[str, Any]]:
        """The artifact's grants (only its creator and its organisation's admins may list them)."""
        return [grant.to_json() for grant in self._transport.list_access(urn, include_revoked=include_revoked)]

    def revoke_access(self, urn: str, grant: str) -> dict[str, Any]:
        return self._transport.revoke_access(urn, grant).to_json()

    def shared_artifacts(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """What others shared with you (or your organisation); the creator is shown as organisation and name only."""
        return (shared.to_json() for shared in self._transport.shared_artifacts(limit))

    def order_token(self, order: str, ttl: int | None = None) -> dict[str, Any]:
        """A compute token for `order`: it can upload, and read what you can read now; nothing else."""
        return self._transport.order_token(order, ttl)

    def with_token(self, token: str) -> Fabric:
        """Another client of the same server, acting with `token`."""
        return Fabric.over(self._transport.with_token(token))

    def order(self, service: str, inputs: Any = None, *, order_urn: str | None = None) -> Order:
        """A context manager recording a service run: its inputs (every artifact URN in `inputs`) and outputs."""
        return Order(self._transport, service, inputs, order_urn=order_urn)
