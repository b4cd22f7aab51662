"""Local mode: the whole fabric in this process, under one base directory, without a server.

Blobs go to `<base>/blobs` (the server's content-addressed `BlobStore`), the graph is the embedded LadybugDB
store under `<base>`, and finished bytes become artifacts through the same `fabric.ingest` functions the
server's upload hook uses, so an artifact made here looks like one made by a server.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fabric.blobs import BlobStore
from fabric.client.errors import BadRequest, Conflict, NotFound, ValidationFailed
from fabric.client.sources import Source
from fabric.client.tus import Progress, UploadState

WRITE_BLOCK = 1 << 20


def _store_errors(call: Callable[[], Any]) -> Any:
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


def _parse_time(value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class LocalTransport:
    """Local mode: the fabric in this process (blobs and the embedded graph under `base_dir`), no server."""

    mode = "local"

    def __init__(self, base_dir: str | os.PathLike[str], *, namespace: str = "fabric", user: str | None = None) -> None:
        from fabric.auth.middleware import LOCAL_PRINCIPAL

        self.base_dir = Path(base_dir).expanduser().resolve()
        self.namespace = namespace
        self.user = user or LOCAL_PRINCIPAL.user_urn  # the same local user a server without --auth sees
        self._store: Any = None
        self._blobs: BlobStore | None = None

    @property
    def key(self) -> str:
        return f"local:{self.base_dir}"

    @property
    def store(self) -> Any:
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

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def blob_path(self, artifact: Mapping[str, Any]) -> Path | None:
        sha256 = artifact.get("sha256")
        return self.blobs.path(sha256) if artifact.get("status") == "ready" and sha256 else None

    # ---- artifacts ----------------------------------------------------------------------------------

    def get_artifact(self, urn: str) -> dict[str, Any]:
        return _store_errors(lambda: self.store.get_artifact(urn)).to_json()

    def _pages(self, fetch: Callable[[str | None, int], Any], limit: int | None) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        count = 0
        while True:
            size = min(limit - count, 1000) if limit is not None else 1000
            page = _store_errors(lambda cursor=cursor, size=size: fetch(cursor, size))
            for item in page.items:
                yield item.to_json() if hasattr(item, "to_json") else item
                count += 1
                if limit is not None and count >= limit:
                    return
            cursor = page.next_cursor
            if cursor is None:
                return

    def list_artifacts(self, filters: Mapping[str, Any], limit: int | None) -> Iterator[dict[str, Any]]:
        given = dict(filters)
        before, after = _parse_time(given.pop("created_before", None)), _parse_time(given.pop("created_after", None))
        given = {key: value for key, value in given.items() if value is not None}
        return self._pages(
            lambda cursor, n: self.store.list_artifacts(
                **given, created_before=before, created_after=after, limit=n, cursor=cursor
            ),
            limit,
        )

    def collection_members(self, urn: str, limit: int | None) -> Iterator[dict[str, Any]]:
        return self._pages(lambda cursor, n: self.store.collection_members(urn, limit=n, cursor=cursor), limit)

    def upload(
        self,
        source: Source,
        metadata: Mapping[str, str | None],
        *,
        resume_url: str | None,
        on_created: Callable[[UploadState], None],
        chunk_size: int,
        retries: int,
        retry_delay: float,
        progress: Progress | None,
    ) -> UploadState:
        """Copy the source into blob storage (hashing as it goes) and register it as a ready artifact."""
        from aspects import new_urn
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
        urn = new_urn("artifact", ns=self.namespace)
        created = datetime.now(UTC)
        incoming = self.base_dir / "uploads"
        incoming.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="upload-", dir=incoming)
        try:
            with os.fdopen(fd, "wb") as out:
                offset = 0
                while True:
                    chunk = source.chunk(offset, chunk_size)
                    for block in chunk.blocks(offset):
                        out.write(block)
                        offset += len(block)
                        if progress is not None:
                            progress(offset, source.size)
                    if chunk.last:
                        break
                out.flush()
                os.fsync(out.fileno())
            md5, sha256 = source.finish_hash()
            self.blobs.ingest(Path(tmp), sha256)
        finally:
            Path(tmp).unlink(missing_ok=True)
        content = artifact_content(
            name=name or urn.rsplit(":", 1)[-1],
            mime_type=upload_mime_type(metadata, name),
            size=offset,
            md5=md5,
            sha256=sha256,
            location=self.blobs.location(sha256),
            created=created,
            uploader=self.user,
        )

        def register() -> None:
            self.store.create_artifact(urn, name=content["name"], uploader=self.user, created=created, properties={})
            register_artifact(self.store, urn, content, targets, asserter=self.user)

        _store_errors(register)
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

    # ---- aspects, schemas, lineage -----------------------------------------------------------------

    def assert_aspect(self, entity: str, schema: str, content: Any) -> dict[str, Any]:
        return _store_errors(lambda: self.store.assert_aspect(entity, schema, content, asserter=self.user)).to_json()

    def get_aspect(self, urn: str) -> dict[str, Any]:
        return _store_errors(lambda: self.store.get_aspect(urn)).to_json()

    def update_aspect(self, urn: str, content: Any) -> dict[str, Any]:
        return _store_errors(lambda: self.store.update_aspect(urn, content, asserter=self.user)).to_json()

    def retract_aspect(self, urn: str) -> dict[str, Any]:
        return _store_errors(lambda: self.store.retract_aspect(urn, asserter=self.user)).to_json()

    def query_aspects(
        self,
        *,
        entity: str | None,
        schema: str | None,
        at: datetime | str | None,
        include_retracted: bool,
        limit: int | None,
    ) -> Iterator[dict[str, Any]]:
        moment = _parse_time(at)
        return self._pages(
            lambda cursor, n: self.store.query_aspects(
                entity=entity, schema=schema, at=moment, include_retracted=include_retracted, limit=n, cursor=cursor
            ),
            limit,
        )

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
