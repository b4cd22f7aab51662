"""Turning uploads into artifacts: the hooks `fabric` gives `tus_server`.

At creation the upload is given an artifact URN and, unless its bytes are few enough to come at once (at most
`SMALL_UPLOAD`, or all in the creation request), a `pending` artifact node. At completion the bytes,
already durable, move into content-addressed blob storage; only then is `artifact.1` asserted and the
artifact made `ready`, together with the collection and policy the uploader asked for. A crash between the
two steps is repaired at start-up, since `tus_server` repeats the completion of a complete upload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio
from starlette.requests import Request

from aspects import (
    ArtifactRecord,
    AspectStore,
    Conflict,
    InvalidUrn,
    NewArtifact,
    NotFound,
    ValidationFailed,
    is_artifact_urn,
    new_urn,
    parse_urn,
)
from aspects.lifecycle import Lifecycle, check_path
from fabric import metrics
from fabric.auth.middleware import principal_of
from fabric.auth.tokens import Principal, local_principal
from fabric.blobs import BatchIngest, BlobStorage
from fabric.coordination import Coordination
from fabric.names import guess_mime_type, safe_name
from fabric.urns import DEFAULT_NAMESPACE, fabric_urn
from tus_server import BlockingCompletion, CompletedUpload, TusError, UploadInfo, completes_at_creation
from tus_server.lane import CompletionLane

log = logging.getLogger("fabric.ingest")

ARTIFACT_URN_HEADER = "Artifact-Urn"
CREATE_AT_COMPLETION = "create_at_completion"  # tag: the artifact node is written with its completion
# An upload of at most this many bytes is written to the graph once, at its completion, never as `pending`: its
# bytes come in one request, so a pending node would be seen by nobody yet cost a graph commit of its own.
SMALL_UPLOAD = 64 << 10
ARTIFACT_SCHEMA = "artifact.1"
COLLECTION_SCHEMA = "collection-member.1"
POLICY_SCHEMA = "policy.1"


def upload_name(metadata: Mapping[str, str | None]) -> str | None:
    raw = metadata.get("filename") or metadata.get("name")
    return safe_name(raw) if raw else None


def upload_mime_type(metadata: Mapping[str, str | None], name: str | None) -> str:
    return metadata.get("content_type") or metadata.get("filetype") or guess_mime_type(name)


class InvalidLink(ValueError):
    """A collection or policy asked for at upload that is not a URN of its kind."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def link_targets(metadata: Mapping[str, str | None], namespace: str = DEFAULT_NAMESPACE) -> dict[str, str]:
    """The collection and policy URNs asked for in upload metadata (a bare name becomes `urn:<ns>:<kind>:<name>`)."""
    targets: dict[str, str] = {}
    for key, kind in (("collection", "collection"), ("policy", "policy")):
        value = metadata.get(key)
        if not value:
            continue
        if not value.startswith("urn:"):
            value = fabric_urn(kind, value, namespace)
        try:
            urn = parse_urn(value)
        except InvalidUrn as exc:
            raise InvalidLink(key, str(exc)) from None
        if urn.kind != kind:
            raise InvalidLink(key, f"{value!r} is not a {kind} URN")
        targets[key] = value
    return targets


def artifact_content(
    *,
    name: str,
    mime_type: str,
    size: int,
    md5: str | None,
    sha256: str,
    location: str,
    created: datetime,
    uploader: str,
) -> dict[str, object]:
    """The `artifact.1` content of finished bytes."""
    return {
        "name": name,
        "mime_type": mime_type,
        "size": size,
        "md5": md5,
        "sha256": sha256,
        "location": location,
        "created": created.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "uploader": uploader,
    }


def register_artifact(
    store: AspectStore,
    urn: str,
    content: Mapping[str, object],
    targets: Mapping[str, str],
    *,
    asserter: str,
    create: NewArtifact | None = None,
) -> None:
    """Make a pending artifact ready once its bytes are durable (blocking; safe to repeat after a crash); with
    `create` (an upload without links, whose creation left the node to its completion), create it in the same
    commit.

    Links first, `ready` last: a repeat after a crash finds the artifact not ready and the links there.
    """
    for key, schema in (("collection", COLLECTION_SCHEMA), ("policy", POLICY_SCHEMA)):
        if key in targets and not store.query_aspects(entity=urn, schema=schema, limit=1).items:
            store.assert_aspect(urn, schema, {key: targets[key]}, asserter=asserter)
    store.complete_artifact(urn, dict(content), asserter=asserter, create=create)


@dataclass(frozen=True, slots=True)
class _Completion:
    urn: str
    content: dict[str, object]
    uploader: str
    create: NewArtifact | None


def _is_small(info: UploadInfo) -> bool:
    return info.length is not None and info.length <= SMALL_UPLOAD


class UploadIngest:
    def __init__(
        self,
        store: AspectStore,
        blobs: BlobStorage,
        namespace: str = DEFAULT_NAMESPACE,
        *,
        lifecycle: Lifecycle | None = None,
        coordination: Coordination | None = None,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.namespace = namespace
        self.lifecycle = lifecycle or Lifecycle(store)
        self.coordination = coordination or Coordination()
        self.on_complete = BlockingCompletion(self.complete, self.complete_many)
        # The pending artifacts of uploads created together, written together (one graph transaction per batch).
        self._creations: CompletionLane[tuple[str, NewArtifact], ArtifactRecord | Exception] = CompletionLane(
            self.store.create_pending_artifacts, "artifact creations"
        )

    def stop(self) -> None:
        """End the lane of creations (blocking; before the graph closes)."""
        self._creations.stop()

    def _start_file(self, info: UploadInfo, principal: Principal, urn: str, path: str) -> None:
        """An upload carrying `artifact=<urn>` and `path=<relative path>` adds a file to that draft (blocking)."""
        try:
            check_path(path)
            artifact = self.store.get_artifact(urn, aspects=False) if is_artifact_urn(urn) else None
        except ValueError as exc:
            raise TusError(400, "Invalid path", str(exc)) from None
        except NotFound:
            artifact = None
        owner = artifact is not None and (
            artifact.uploader == principal.user_urn
            or (principal.admin and principal.order is None and artifact.org == principal.org_urn)
        )
        if artifact is None or not owner:
            raise TusError(404, "Artifact not found", f"no draft artifact {urn[:100]!r} of yours to add files to")
        mime_type = upload_mime_type(info.metadata, path.rsplit("/", 1)[-1])
        try:
            self.lifecycle.start_file(
                urn, path, size=info.length, mime_type=mime_type, upload=info.id, asserter=principal.user_urn
            )
        except Conflict as exc:
            raise TusError(409, "Cannot add the file", str(exc)) from None

    def _link_targets(self, metadata: Mapping[str, str | None]) -> dict[str, str]:
        """The collection and policy URNs asked for in the metadata, checked before any byte is accepted."""
        try:
            return link_targets(metadata, self.namespace)
        except InvalidLink as exc:
            raise TusError(400, f"Invalid {exc.key}", str(exc)) from None

    async def on_create(self, info: UploadInfo, request: Request) -> Mapping[str, str] | None:
        try:
            name = upload_name(info.metadata)
        except ValueError as exc:
            raise TusError(400, "Invalid file name", str(exc)) from None
        targets = self._link_targets(info.metadata)
        principal = principal_of(request)
        info.tags.update(uploader=principal.user_urn, org=principal.org_urn)
        if info.is_partial:
            return None  # a partial upload becomes part of an artifact, not one of its own
        draft, path = info.metadata.get("artifact"), info.metadata.get("path")
        if draft or path:
            if not draft or not path:
                raise TusError(400, "Invalid metadata", "a file of an artifact needs both 'artifact' and 'path'")
            await anyio.to_thread.run_sync(self._start_file, info, principal, draft, path)
            info.tags.update(file_artifact=draft, file_path=path)
            return {ARTIFACT_URN_HEADER: draft}
        self._check_completable(info, name, principal.user_urn)
        urn = new_urn("artifact", ns=self.namespace)
        if not targets and (completes_at_creation(request, info) or _is_small(info)):
            # The bytes are all in this request, or small enough for the next: the node is written with
            # artifact.1, one commit instead of two. Until the bytes come, the URN is unknown to the graph.
            info.tags.update({CREATE_AT_COMPLETION: "1", "uploader_name": principal.display_name})
            metrics.UPLOADS_CREATED.inc()
            return {ARTIFACT_URN_HEADER: urn}
        created = await self._creations.run(
            (
                urn,
                NewArtifact(
                    name=name or info.id,
                    uploader=principal.user_urn,
                    created=info.created_at,
                    properties={
                        "upload_id": info.id,
                        "org": principal.org_urn,
                        "uploader_name": principal.display_name,
                    },
                    org=principal.org_urn,
                ),
            )
        )
        if isinstance(created, Exception):
            raise created
        metrics.UPLOADS_CREATED.inc()
        return {ARTIFACT_URN_HEADER: urn}

    def _check_completable(self, info: UploadInfo, name: str | None, uploader: str) -> None:
        """400 now for anything completion would refuse: the `artifact.1` content the upload will get, with
        placeholder digests, is validated at creation, so no upload is accepted whose completion must fail."""
        name = name or info.id
        content = artifact_content(
            name=name,
            mime_type=upload_mime_type(info.metadata, name),
            size=info.length or 0,
            md5=None,
            sha256="0" * 64,
            location=self.blobs.location("0" * 64),
            created=info.created_at,
            uploader=uploader,
        )
        registry = self.store.registry
        try:
            registry.validate(registry.get(ARTIFACT_SCHEMA), content)
        except ValidationFailed as exc:
            field = exc.path.removeprefix("$.") if exc.path else "metadata"
            raise TusError(400, "Invalid upload metadata", f"{field}: {exc}") from None

    def complete(self, upload: CompletedUpload) -> None:
        """Take the bytes into blob storage, then make the artifact ready (or fill its file) (blocking).

        The server's completion hook, as a `BlockingCompletion` (`on_complete`): a small upload's last request
        runs it in the worker call that stored its bytes, since each hop to a thread costs such an upload as
        much as the work it carries."""
        info = upload.info
        urn = info.extra_headers.get(ARTIFACT_URN_HEADER)
        if urn is None or info.sha256 is None:
            return
        if "file_path" in info.tags:
            self._complete(upload, lambda: self._finish_file(info))
            return
        self._complete(upload, self._registration(info, urn))
        metrics.UPLOADS_COMPLETED.inc()
        metrics.UPLOAD_BYTES_COMPLETED.inc(info.length or 0)

    def _complete(self, upload: CompletedUpload, register: Callable[[], None]) -> None:
        """Blob first, graph second, under the blob's guard (the GC keeps off it until the artifact names it)
        (blocking).

        Content stored already only needs its new reference: the guard is held shared, so completions of the
        same bytes run side by side and only a collection waits. Content not stored yet is stored by one
        completion at a time (exclusive; a blob store's first ingest is not written for racing itself)."""
        sha256 = upload.info.sha256
        assert sha256 is not None
        with self.coordination.blob(sha256, shared=True):
            if self.blobs.exists(sha256):
                metrics.BLOBS_DEDUPLICATED.inc()
                self.blobs.ingest_upload(upload, sha256)
                register()
                return
        with self.coordination.blob(sha256):
            self.blobs.ingest_upload(upload, sha256)
            register()

    def complete_many(self, uploads: list[CompletedUpload]) -> list[Exception | None]:
        """`complete` of a batch (blocking): the bytes of all taken into blob storage with one sync, then their
        artifacts made ready in one graph transaction, under the guards of all their blobs (exclusive, taken in
        hash order). An upload that needs more (a file of a draft, a collection or policy link) or blob storage
        that cannot sync a batch is completed on its own. What each failed with, or None."""
        outcomes: list[Exception | None] = [None] * len(uploads)
        batch: list[int] = []
        batchable = isinstance(self.blobs, BatchIngest) and self.blobs.can_ingest_many()
        for position, upload in enumerate(uploads):
            info = upload.info
            if info.extra_headers.get(ARTIFACT_URN_HEADER) is None or info.sha256 is None:
                continue  # nothing to register, as `complete` would find
            try:
                if batchable and "file_path" not in info.tags and not self._link_targets(info.metadata):
                    batch.append(position)
                else:
                    self.complete(upload)
            except Exception as exc:
                outcomes[position] = exc
        if batch:
            done = self._complete_batch([uploads[position] for position in batch])
            for position, outcome in zip(batch, done, strict=True):
                outcomes[position] = outcome
        return outcomes

    def _complete_batch(self, uploads: list[CompletedUpload]) -> list[Exception | None]:
        assert isinstance(self.blobs, BatchIngest)
        outcomes: list[Exception | None] = [None] * len(uploads)
        with ExitStack() as guards:
            for sha256 in sorted({upload.info.sha256 or "" for upload in uploads}):
                guards.enter_context(self.coordination.blob(sha256))
            ingested, deduplicated = self.blobs.ingest_uploads(
                [(upload, upload.info.sha256 or "") for upload in uploads]
            )
            registering = [k for k, error in enumerate(ingested) if error is None]
            for k, error in enumerate(ingested):
                outcomes[k] = error
            completions = [self._completion(uploads[k].info) for k in registering]
            try:
                records = self.store.complete_artifacts([(c.urn, c.content, c.uploader, c.create) for c in completions])
            except Exception as exc:  # the batch's transaction failed twice: every upload of it fails with it
                for k in registering:
                    outcomes[k] = exc
                return outcomes
            for k, completion, record in zip(registering, completions, records, strict=True):
                if isinstance(record, ValidationFailed):
                    try:
                        self._register_plainly(uploads[k].info, completion, record)
                    except Exception as exc:
                        outcomes[k] = exc
                        continue
                elif isinstance(record, Exception):
                    outcomes[k] = record
                    continue
                metrics.UPLOADS_COMPLETED.inc()
                metrics.UPLOAD_BYTES_COMPLETED.inc(uploads[k].info.length or 0)
        metrics.BLOBS_DEDUPLICATED.inc(deduplicated)
        return outcomes

    def _completion(self, info: UploadInfo) -> _Completion:
        """What completing the upload writes to the graph: `artifact.1`, the asserter, the node if it is made now."""
        assert info.sha256 is not None
        urn = info.extra_headers[ARTIFACT_URN_HEADER]
        name = upload_name(info.metadata) or info.id
        uploader = info.tags.get("uploader", local_principal(self.namespace).user_urn)
        content = artifact_content(
            name=name,
            mime_type=upload_mime_type(info.metadata, name),
            size=info.length or 0,
            md5=info.md5,
            sha256=info.sha256,
            location=self.blobs.location(info.sha256),
            created=info.created_at,
            uploader=uploader,
        )
        create = None
        if CREATE_AT_COMPLETION in info.tags:
            org = info.tags.get("org")
            create = NewArtifact(
                name=name,
                uploader=uploader,
                created=info.created_at,
                properties={"upload_id": info.id, "org": org, "uploader_name": info.tags.get("uploader_name")},
                org=org,
            )
        return _Completion(urn, content, uploader, create)

    def _register_plainly(self, info: UploadInfo, completion: _Completion, refused: ValidationFailed) -> None:
        """Creation checked the metadata; if the rules changed since, the bytes still become an artifact the
        uploader can see and correct (a plain name and type), never a completion that fails for ever."""
        log.error(
            "upload %s: artifact.1 refused its metadata; registering plain name and type", info.id, exc_info=refused
        )
        fallback = {**completion.content, "name": info.id, "mime_type": "application/octet-stream"}
        targets = self._link_targets(info.metadata)
        register_artifact(
            self.store, completion.urn, fallback, targets, asserter=completion.uploader, create=completion.create
        )

    def _registration(self, info: UploadInfo, urn: str) -> Callable[[], None]:
        """The graph write that makes the upload's artifact ready (blocking; safe to repeat after a crash)."""
        completion = self._completion(info)
        content, uploader, create = completion.content, completion.uploader, completion.create
        targets = self._link_targets(info.metadata)

        def register() -> None:
            try:
                register_artifact(self.store, urn, content, targets, asserter=uploader, create=create)
            except ValidationFailed as refused:
                self._register_plainly(info, completion, refused)

        return register

    def _finish_file(self, info: UploadInfo) -> None:
        assert info.sha256 is not None
        self.lifecycle.finish_file(
            info.tags["file_artifact"],
            info.tags["file_path"],
            upload=info.id,
            size=info.length or 0,
            sha256=info.sha256,
            md5=info.md5,
            asserter=info.tags.get("uploader", local_principal(self.namespace).user_urn),
        )
        metrics.UPLOADS_COMPLETED.inc()
        metrics.UPLOAD_BYTES_COMPLETED.inc(info.length or 0)

    async def check_access(self, request: Request, info: UploadInfo) -> None:
        """Only the uploader, or an admin of the uploader's organisation, may see or touch an upload."""
        principal = principal_of(request)
        owner, org = info.tags.get("uploader"), info.tags.get("org")
        if principal.user_urn != owner and not (principal.admin and principal.org_urn == org):
            raise TusError(
                404, "Upload not found", "no upload has this id (it may have been terminated or swept after expiry)"
            )

    async def on_abandon(self, info: UploadInfo) -> None:
        urn = info.extra_headers.get(ARTIFACT_URN_HEADER)
        if "file_path" in info.tags:
            tags = info.tags
            await anyio.to_thread.run_sync(
                lambda: self.lifecycle.drop_file(
                    tags["file_artifact"],
                    tags["file_path"],
                    upload=info.id,
                    asserter=tags.get("uploader", local_principal(self.namespace).user_urn),
                )
            )
        elif urn is not None:
            await anyio.to_thread.run_sync(self.store.abandon_artifact, urn)
        log.info("upload %s abandoned before completion", info.id)
