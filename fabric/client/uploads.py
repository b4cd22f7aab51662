"""Uploading a file or a stream through a transport, with the sidecar that keeps an unchanged file from being sent twice.

A file already uploaded unchanged to the same destination (its sidecar says so, and the artifact still exists)
is not sent again unless forced; an interrupted upload of it is resumed from where the server stopped. Once
the bytes are sent, the artifact is awaited until it is ready and its sha256 checked against what was read.
"""

from __future__ import annotations

import mimetypes
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from fabric.client.drafts import DraftArtifact
from fabric.client.errors import IntegrityError, NotFound, UploadFailed
from fabric.client.models import Artifact
from fabric.client.sidecar import FileStamp, Sidecar, file_digests
from fabric.client.sources import SeekableSource, source_for_stream
from fabric.client.transport import Transport, UploadOptions
from fabric.client.tus import UploadState
from fabric.names import guess_mime_type

DEFAULT_CHUNK_SIZE = 128 << 20


def upload_source_path(file_path: str | os.PathLike[str]) -> Path:
    """The absolute path of a file to upload; FileNotFoundError if it is not a file."""
    path = Path(file_path).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {file_path}")
    return path


@dataclass(frozen=True, slots=True)
class UploadRequest:
    """What `upload_artifact` was asked for, besides where the bytes come from."""

    name: str | None = None
    content_type: str | None = None
    collection: str | None = None
    policy: str | None = None
    type: str | None = None  # the artifact's type (default `file`)
    labels: Mapping[str, str] | None = None

    def metadata(self, name: str, fallback_type_from: str) -> dict[str, str | None]:
        return {
            "filename": name,
            "content_type": self.content_type or guess_mime_type(fallback_type_from),
            "collection": self.collection,
            "policy": self.policy,
        }


def upload_artifact(
    transport: Transport,
    request: UploadRequest,
    options: UploadOptions,
    *,
    file_path: str | os.PathLike[str] | None = None,
    io_stream: IO[bytes] | IO[str] | None = None,
    dir_path: str | os.PathLike[str] | None = None,
    content_size: int = -1,
    force: bool = False,
) -> Artifact:
    """A file, a stream, or a directory (one artifact of all its files), as a ready artifact of the request's
    type and labels: what `Fabric.upload_artifact` and `Order.upload_artifact` do."""
    given = [value for value in (file_path, io_stream, dir_path) if value is not None]
    if len(given) != 1:
        raise ValueError(
            "give exactly one of file_path, io_stream and dir_path"
            if dir_path is not None
            else "give exactly one of file_path and io_stream"
        )
    if dir_path is not None:
        folder = Path(dir_path).expanduser().resolve()
        draft = new_draft(transport, request, request.name or folder.name)
        return draft.add_directory(folder).save(options)
    if file_path is not None:
        artifact = upload_file(transport, upload_source_path(file_path), request, options, force=force)
    else:
        assert io_stream is not None
        size = content_size if content_size >= 0 else None
        artifact = upload_stream(transport, io_stream, request, options, size=size)
    return typed(transport, artifact, request.type, request.labels)


def new_draft(transport: Transport, request: UploadRequest, name: str) -> DraftArtifact:
    """A draft artifact on the fabric, to fill with `add_file` and `save`."""
    body = {
        "name": name,
        "type": request.type,
        "labels": dict(request.labels or {}),
        "collection": request.collection,
        "policy": request.policy,
    }
    return DraftArtifact(transport, transport.create_artifact(body))


def typed(transport: Transport, artifact: Artifact, type: str | None, labels: Mapping[str, str] | None) -> Artifact:
    """The artifact with `type` and `labels` set, if any were asked for."""
    if type is None and not labels:
        return artifact
    changes: dict[str, Any] = {}
    if type is not None:
        changes["type"] = type
    if labels:
        changes["labels"] = dict(labels)
    transport.update_artifact(artifact.id, changes)
    return Artifact.fetch(transport, artifact.id)


def stream_name(stream: IO[bytes] | IO[str]) -> str | None:
    """The file name of a stream opened on a file (`open("data/a.csv", "rb")` -> `a.csv`); None for others."""
    name = getattr(stream, "name", None)
    if not isinstance(name, str) or not name or name.startswith("<"):
        return None  # an in-memory stream, or a file descriptor number, or `<stdin>`
    return Path(name).name or None


def generated_name(extension: str) -> str:
    """A name for a stream that has none of its own: a UUID, with the extension its content type suggests."""
    return f"{uuid.uuid4()}{extension}"


def upload_file(
    transport: Transport, path: Path, request: UploadRequest, options: UploadOptions, *, force: bool = False
) -> Artifact:
    """Upload the file at `path` (resolved), unless the sidecar shows this destination has it unchanged."""
    name = request.name or path.name  # the file's own name; the sidecar keys on the path, not on this
    metadata = request.metadata(name, name if "." in name else path.name)
    stamp = FileStamp.of(path)
    sidecar = Sidecar.load(path)
    destination = transport.destination
    if not force:
        existing = deduplicated(transport, path, stamp, sidecar)
        if existing is not None and existing.name == name:  # another name asked for: another artifact
            return existing
    resume_url = sidecar.entry(destination).resumable_upload(stamp)

    def started(state: UploadState) -> None:
        if state.url:
            sidecar.record_upload_started(destination, state.url, stamp)

    source = SeekableSource.open(path)
    try:
        state = transport.upload(source, metadata, resume_url=resume_url, on_created=started, options=options)
        md5, sha256 = source.finish_hash()
    finally:
        source.close()
    artifact = finished(transport, state, sha256)
    if FileStamp.of(path) == stamp:
        sidecar.record_uploaded(destination, artifact.id, stamp, md5, sha256)
    return artifact


def upload_stream(
    transport: Transport,
    stream: IO[bytes] | IO[str],
    request: UploadRequest,
    options: UploadOptions,
    *,
    size: int | None = None,
) -> Artifact:
    """Upload a stream (of known `size`, or read to its end)."""
    name = request.name or stream_name(stream)
    if name is None:
        content_type = request.content_type
        extension = (mimetypes.guess_extension(content_type, strict=False) if content_type else None) or ""
        name = generated_name(extension)
    source = source_for_stream(stream, size)
    try:
        state = transport.upload(
            source, request.metadata(name, name), resume_url=None, on_created=lambda state: None, options=options
        )
        _, sha256 = source.finish_hash()
    finally:
        source.close()
    return finished(transport, state, sha256)


def deduplicated(transport: Transport, path: Path, stamp: FileStamp, sidecar: Sidecar) -> Artifact | None:
    """The artifact this unchanged file already is at the transport's destination, if the sidecar knows it and it
    still exists."""
    destination = transport.destination
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
        artifact = Artifact.fetch(transport, entry.artifact)
    except NotFound:
        return None
    return artifact if artifact.status == "ready" else None


def artifact_for_file(transport: Transport, file_path: str | os.PathLike[str]) -> Artifact | None:
    """The artifact an unchanged file was uploaded as (to this destination), from its sidecar; None otherwise."""
    path = Path(file_path).expanduser().resolve()
    if not path.is_file():
        return None
    return deduplicated(transport, path, FileStamp.of(path), Sidecar.load(path))


def finished(transport: Transport, state: UploadState, sha256: str) -> Artifact:
    """The artifact an upload became, once the fabric has made it ready, checked against what was sent."""
    if not state.artifact_urn:
        raise UploadFailed(f"the server finished the upload {state.url} but named no artifact (no Artifact-Urn)")
    delay = 0.05
    for _ in range(40):
        artifact = Artifact.fetch(transport, state.artifact_urn)
        if artifact.status == "ready":
            if artifact.sha256 and artifact.sha256 != sha256:
                raise IntegrityError(
                    f"{artifact.id}: the server stored sha256 {artifact.sha256} but the client sent {sha256} (did the file change during the upload?)"
                )
            return artifact
        time.sleep(delay)
        delay = min(1.0, delay * 2)
    raise UploadFailed(f"{state.artifact_urn} received all its bytes but did not become ready")
