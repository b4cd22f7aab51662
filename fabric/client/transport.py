"""`Transport`: how the client reaches a fabric. Two implement it, as httpx's transports implement `BaseTransport`.

- `HttpTransport` (platform mode): a server over its HTTP API, tus for uploads, Range for downloads.
- `LocalTransport` (local mode): the fabric in this process, blobs and the embedded graph under a directory.

`Fabric`, `Artifact` and `Order` hold a transport and nothing else of each other. The calls take and return the
shapes of `fabric.wire` (what the HTTP API sends), so both modes hand back the same things. A capability only
a server has (sharing, compute tokens) has a default here that says so; a new call is one abstract method here
and one implementation per transport.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fabric.client.errors import ConfigurationError
from fabric.client.sources import Source
from fabric.client.tus import Progress, UploadState
from fabric.wire import ArtifactJSON, AspectJSON, GrantJSON, SharedArtifactJSON

UploadMetadata = Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class UploadOptions:
    """How to send an upload: chunk size, how often and how long to retry, whom to tell of progress, and how many
    files of one artifact to send at once (against a server; local mode copies one at a time)."""

    chunk_size: int = 128 << 20
    retries: int = 10
    retry_delay: float = 0.5
    progress: Progress | None = None
    jobs: int = 4


@dataclass(frozen=True, slots=True)
class AspectQuery:
    entity: str | None = None
    schema: str | None = None
    at: datetime | str | None = None
    include_retracted: bool = False


def lineage_direction(direction: str) -> str:
    """`up`/`down` as the API spells them (`upstream`/`downstream`); anything else as given."""
    return {"up": "upstream", "down": "downstream"}.get(direction, direction)


class Transport(abc.ABC):
    """The operations of a fabric, in platform mode or local mode."""

    mode: str  # "platform" or "local"

    @property
    @abc.abstractmethod
    def destination(self) -> str:
        """The server URL, or `local:<base dir>`: how sidecars name where a file went."""

    @property
    @abc.abstractmethod
    def namespace(self) -> str:
        """The namespace word of the fabric's URNs (`acme` in `urn:acme:artifact:…`; `fabric` by default)."""

    @property
    def token(self) -> str | None:
        """The bearer token the transport sends, if any (local mode: None)."""
        return None

    def close(self) -> None:  # noqa: B027  (nothing to release by default)
        """Release connections or the graph's lock."""

    # ---- artifacts ----------------------------------------------------------------------------------

    @abc.abstractmethod
    def get_artifact(self, urn: str) -> ArtifactJSON: ...

    @abc.abstractmethod
    def list_artifacts(self, filters: Mapping[str, Any], limit: int | None) -> Iterator[ArtifactJSON]:
        """Artifacts matching `filters` (name, mime_type, collection, schema, status, created_before/after)."""

    @abc.abstractmethod
    def collection_members(self, urn: str, limit: int | None) -> Iterator[ArtifactJSON]: ...

    @abc.abstractmethod
    def upload(
        self,
        source: Source,
        metadata: UploadMetadata,
        *,
        resume_url: str | None,
        on_created: Callable[[UploadState], None],
        options: UploadOptions,
    ) -> UploadState:
        """Send `source` (resuming `resume_url` if it is still there); `on_created` hears of a new upload first."""

    @abc.abstractmethod
    def blob_chunks(self, urn: str, *, start: int = 0, expected_sha256: str | None = None) -> Iterator[bytes]:
        """The artifact's bytes from `start`, streamed; checked against `expected_sha256` at the end."""

    def blob_path(self, artifact: ArtifactJSON) -> Path | None:
        """Where the artifact's bytes already are on this machine (local mode), else None."""
        return None

    # ---- lifecycle: drafts, files, lock, delete ----------------------------------------------------

    @abc.abstractmethod
    def create_artifact(self, body: Mapping[str, Any]) -> ArtifactJSON:
        """A draft artifact (`name`, `type`, `labels`, `collection`, `policy`)."""

    @abc.abstractmethod
    def update_artifact(self, urn: str, changes: Mapping[str, Any]) -> ArtifactJSON:
        """Change `type` or `labels`."""

    @abc.abstractmethod
    def link_file(self, urn: str, file: Mapping[str, Any]) -> bool:
        """Add a file to a draft by its sha256 if the fabric holds those bytes already; False if it does not."""

    @abc.abstractmethod
    def artifact_action(self, urn: str, action: str, reason: str | None = None) -> dict[str, Any]:
        """`seal`, `lock` or `delete`."""

    @abc.abstractmethod
    def files(self, urn: str) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def file_chunks(
        self, urn: str, path: str, *, start: int = 0, expected_sha256: str | None = None
    ) -> Iterator[bytes]: ...

    # ---- repositories and versions ----------------------------------------------------------------

    @abc.abstractmethod
    def resolve(self, reference: str, at: datetime | str | None = None) -> dict[str, Any]: ...

    @abc.abstractmethod
    def list_repositories(self, project: str | None, limit: int | None) -> Iterator[dict[str, Any]]: ...

    @abc.abstractmethod
    def get_repository(self, repository: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def register_version(self, repository: str, body: Mapping[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    def list_versions(
        self, repository: str, *, stage: str | None, at: datetime | str | None, limit: int | None
    ) -> Iterator[dict[str, Any]]: ...

    @abc.abstractmethod
    def get_version(self, repository: str, ref: str, at: datetime | str | None = None) -> dict[str, Any]: ...

    @abc.abstractmethod
    def update_version(self, repository: str, ref: str, changes: Mapping[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    def set_alias(self, repository: str, alias: str, version: int) -> dict[str, Any]: ...

    @abc.abstractmethod
    def remove_alias(self, repository: str, alias: str) -> None: ...

    @abc.abstractmethod
    def set_stage(self, repository: str, ref: str, body: Mapping[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    def stage_history(self, repository: str, ref: str) -> list[dict[str, Any]]: ...

    # ---- aspects, schemas, lineage -----------------------------------------------------------------

    @abc.abstractmethod
    def assert_aspect(self, entity: str, schema: str, content: Any) -> AspectJSON: ...

    @abc.abstractmethod
    def get_aspect(self, urn: str) -> AspectJSON: ...

    @abc.abstractmethod
    def update_aspect(self, urn: str, content: Any) -> AspectJSON: ...

    @abc.abstractmethod
    def retract_aspect(self, urn: str) -> AspectJSON: ...

    @abc.abstractmethod
    def query_aspects(self, query: AspectQuery, limit: int | None) -> Iterator[AspectJSON]: ...

    @abc.abstractmethod
    def list_schemas(self) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def get_schema(self, schema_id: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def register_schema(self, schema: Mapping[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    def lineage(self, urn: str, *, direction: str, depth: int, at: datetime | str | None) -> dict[str, Any]: ...

    # ---- what only a server does -------------------------------------------------------------------

    def _needs_server(self, what: str) -> ConfigurationError:
        return ConfigurationError(f"{what} needs a server (set FABRIC_URL): local mode has one user and no sharing")

    def grant_access(self, urn: str, *, email: str | None, org: str | None) -> GrantJSON:
        raise self._needs_server("sharing")

    def list_access(self, urn: str, *, include_revoked: bool) -> list[GrantJSON]:
        raise self._needs_server("sharing")

    def revoke_access(self, urn: str, grant: str) -> GrantJSON:
        raise self._needs_server("sharing")

    def shared_artifacts(self, limit: int | None) -> Iterator[SharedArtifactJSON]:
        raise self._needs_server("sharing")

    def order_token(self, order: str, ttl: int | None = None) -> dict[str, Any]:
        raise self._needs_server("a compute token")

    def with_token(self, token: str) -> Transport:
        """Another transport to the same server, acting with `token`."""
        raise self._needs_server("a token")
