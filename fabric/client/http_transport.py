"""Platform mode: a datafabric server over its HTTP API."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from fabric.client.errors import IntegrityError, NotFound, ServerError, error_for, raise_for_problem
from fabric.client.retry import Backoff, is_retryable
from fabric.client.sources import Source
from fabric.client.transport import AspectQuery, Transport, UploadMetadata, UploadOptions
from fabric.client.tus import TusClient, UploadState
from fabric.urns import DEFAULT_NAMESPACE
from fabric.wire import ArtifactJSON, AspectJSON, GrantJSON, SharedArtifactJSON

DOWNLOAD_BLOCK = 1 << 20


def _segment(urn: str) -> str:
    return quote(urn, safe=":@")


def _time(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


class HttpTransport(Transport):
    """Platform mode: a datafabric server over its HTTP API (tus for uploads, Range for downloads)."""

    mode = "platform"

    def __init__(
        self, url: str, token: str | None = None, *, timeout: float = 60.0, retries: int = 5, retry_delay: float = 0.5
    ) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._namespace: str | None = None
        self.timeout = timeout
        headers = {"User-Agent": "datafabric-client/0.1"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=httpx.Timeout(timeout, connect=10.0))
        self.retries = retries
        self.retry_delay = retry_delay

    @property
    def destination(self) -> str:
        return self.url

    @property
    def namespace(self) -> str:
        """The server's namespace word, read once from the `$id` of its built-in `artifact.1` schema."""
        if self._namespace is None:
            schema_id = str(self.get_schema("artifact.1").get("$id") or "")
            parts = schema_id.split(":")
            self._namespace = parts[1] if len(parts) >= 4 and parts[0] == "urn" else DEFAULT_NAMESPACE
        return self._namespace

    @property
    def token(self) -> str | None:
        return self._token

    def with_token(self, token: str) -> HttpTransport:
        return HttpTransport(self.url, token, timeout=self.timeout, retries=self.retries, retry_delay=self.retry_delay)

    def close(self) -> None:
        self.http.close()

    # ---- plumbing -----------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request; reads (and PUT/DELETE, idempotent here) are retried on connection errors and 5xx."""
        backoff = Backoff(self.retries, self.retry_delay)
        idempotent = method in ("GET", "HEAD", "PUT", "DELETE")
        while True:
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if not idempotent:
                    raise
                backoff.wait(exc)
                continue
            if idempotent and response.status_code in (502, 503, 504):
                backoff.wait(error_for(response))
                continue
            return raise_for_problem(response)

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The JSON object the server answered with (anything else is an `UnexpectedResponse`)."""
        response = self._request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ServerError(f"{method} {path}: the server answered {response.status_code} without a JSON object")
        return body

    def _pages(self, path: str, params: Mapping[str, Any], limit: int | None) -> Iterator[dict[str, Any]]:
        """Items across pages, following `next` links, stopping after `limit` items."""
        query = {key: value for key, value in params.items() if value is not None}
        if limit is not None:
            query["limit"] = min(limit, 1000)
        page = self._json("GET", path, params=query)
        count = 0
        while True:
            for item in page.get("items", []):
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
            link = page.get("next")
            if not link:
                return
            page = self._json("GET", link)

    # ---- artifacts ----------------------------------------------------------------------------------

    def get_artifact(self, urn: str) -> ArtifactJSON:
        return ArtifactJSON.from_json(self._json("GET", f"/v1/artifacts/{_segment(urn)}"))

    def list_artifacts(self, filters: Mapping[str, Any], limit: int | None) -> Iterator[ArtifactJSON]:
        params: dict[str, Any] = {k: _time(v) if isinstance(v, datetime) else v for k, v in filters.items()}
        labels = params.pop("labels", None) or {}
        if labels:
            params["label"] = [f"{key}:{value}" for key, value in labels.items()]
        return map(ArtifactJSON.from_json, self._pages("/v1/artifacts", params, limit))

    def collection_members(self, urn: str, limit: int | None) -> Iterator[ArtifactJSON]:
        return map(ArtifactJSON.from_json, self._pages(f"/v1/collections/{_segment(urn)}", {}, limit))

    def upload(
        self,
        source: Source,
        metadata: UploadMetadata,
        *,
        resume_url: str | None,
        on_created: Callable[[UploadState], None],
        options: UploadOptions,
    ) -> UploadState:
        """Send `source` over tus, resuming `resume_url` if the server still has it; returns the final state."""
        progress = options.progress
        tus = TusClient(
            self.http,
            "/v1/uploads",
            chunk_size=options.chunk_size,
            retries=options.retries,
            retry_delay=options.retry_delay,
            progress=progress,
        )
        state: UploadState | None = None
        if resume_url:
            try:
                state = tus.head(resume_url)
            except NotFound:
                state = None
        if state is None:
            state = tus.create(source.size, metadata)
        on_created(state)
        if progress is not None:
            progress(state.offset, source.size)
        return tus.upload(source, state)

    def blob_chunks(self, urn: str, *, start: int = 0, expected_sha256: str | None = None) -> Iterator[bytes]:
        """The artifact's bytes, resumed with Range after a cut and checked against the ETag (sha256) at the end."""
        return self._download(f"/v1/artifacts/{_segment(urn)}/blob", urn, start, expected_sha256)

    def _download(self, path: str, urn: str, start: int, expected_sha256: str | None) -> Iterator[bytes]:
        backoff = Backoff(self.retries, self.retry_delay)
        position = start
        etag: str | None = None
        digest = hashlib.sha256() if start == 0 else None
        while True:
            headers = {"Accept-Encoding": "identity"}  # byte ranges of the stored bytes, never of an encoding
            if position:
                headers["Range"] = f"bytes={position}-"
                if etag:
                    headers["If-Range"] = etag
            try:
                with self.http.stream("GET", path, headers=headers) as response:
                    if response.status_code == 416 and position:
                        break  # asked past the end: everything was received
                    if response.status_code >= 400:
                        if (
                            is_retryable(httpx.HTTPStatusError("", request=response.request, response=response))
                            and response.status_code != 409
                        ):
                            response.read()
                            backoff.wait(error_for(response))
                            continue
                        raise_for_problem(response)
                    new_etag = response.headers.get("ETag")
                    if position and response.status_code == 200:
                        raise IntegrityError(
                            f"{urn} changed while it was being downloaded (the server ignored the range)"
                        )
                    etag = etag or new_etag
                    for block in response.iter_bytes():  # as received: a cut loses nothing already read
                        if digest is not None:
                            digest.update(block)
                        position += len(block)
                        backoff.progressed()
                        yield block
                break
            except httpx.TransportError as exc:
                backoff.wait(exc)
        want = (expected_sha256 or (etag or "").strip('"')).lower()
        if digest is not None and want and digest.hexdigest() != want:
            raise IntegrityError(f"{urn}: received bytes have sha256 {digest.hexdigest()}, the server said {want}")

    # ---- aspects, schemas, lineage -----------------------------------------------------------------

    def assert_aspect(self, entity: str, schema: str, content: Any) -> AspectJSON:
        body = {"entity": entity, "schema": schema, "content": content}
        return AspectJSON.from_json(self._json("POST", "/v1/aspects", json=body))

    def get_aspect(self, urn: str) -> AspectJSON:
        return AspectJSON.from_json(self._json("GET", f"/v1/aspects/{_segment(urn)}"))

    def update_aspect(self, urn: str, content: Any) -> AspectJSON:
        return AspectJSON.from_json(self._json("PUT", f"/v1/aspects/{_segment(urn)}", json={"content": content}))

    def retract_aspect(self, urn: str) -> AspectJSON:
        return AspectJSON.from_json(self._json("DELETE", f"/v1/aspects/{_segment(urn)}"))

    def query_aspects(self, query: AspectQuery, limit: int | None) -> Iterator[AspectJSON]:
        params = {
            "entity": query.entity,
            "schema": query.schema,
            "at": _time(query.at),
            "include_retracted": "true" if query.include_retracted else None,
        }
        return map(AspectJSON.from_json, self._pages("/v1/aspects", params, limit))

    def list_schemas(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/v1/schemas").get("items", []))

    def get_schema(self, schema_id: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/schemas/{_segment(schema_id)}")

    def register_schema(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/v1/schemas", json=dict(schema))

    # ---- access ------------------------------------------------------------------------------------

    def grant_access(self, urn: str, *, email: str | None, org: str | None) -> GrantJSON:
        body = {"email": email} if email is not None else {"org": org}
        return GrantJSON.from_json(self._json("POST", f"/v1/artifacts/{_segment(urn)}/access", json=body))

    def list_access(self, urn: str, *, include_revoked: bool) -> list[GrantJSON]:
        params = {"include_revoked": "true"} if include_revoked else {}
        items = self._json("GET", f"/v1/artifacts/{_segment(urn)}/access", params=params).get("items", [])
        return [GrantJSON.from_json(item) for item in items]

    def revoke_access(self, urn: str, grant: str) -> GrantJSON:
        return GrantJSON.from_json(self._json("DELETE", f"/v1/artifacts/{_segment(urn)}/access/{_segment(grant)}"))

    def shared_artifacts(self, limit: int | None) -> Iterator[SharedArtifactJSON]:
        return map(SharedArtifactJSON.from_json, self._pages("/v1/shared/artifacts", {}, limit))

    def order_token(self, order: str, ttl: int | None = None) -> dict[str, Any]:
        return self._json("POST", f"/v1/orders/{_segment(order)}/token", json={"ttl": ttl} if ttl else {})

    def lineage(self, urn: str, *, direction: str, depth: int, at: datetime | str | None) -> dict[str, Any]:
        params = {"direction": direction, "depth": depth, "at": _time(at)}
        return self._json(
            "GET", f"/v1/lineage/{_segment(urn)}", params={k: v for k, v in params.items() if v is not None}
        )

    # ---- lifecycle: drafts, files, lock, delete ----------------------------------------------------

    def create_artifact(self, body: Mapping[str, Any]) -> ArtifactJSON:
        sent = {k: v for k, v in body.items() if v is not None}
        return ArtifactJSON.from_json(self._json("POST", "/v1/artifacts", json=sent))

    def update_artifact(self, urn: str, changes: Mapping[str, Any]) -> ArtifactJSON:
        return ArtifactJSON.from_json(self._json("PATCH", f"/v1/artifacts/{_segment(urn)}", json=dict(changes)))

    def link_file(self, urn: str, file: Mapping[str, Any]) -> bool:
        return bool(self._json("POST", f"/v1/artifacts/{_segment(urn)}/files", json=dict(file))["linked"])

    def artifact_action(self, urn: str, action: str, reason: str | None = None) -> dict[str, Any]:
        """seal, lock (POST) or delete (DELETE)."""
        body = {"reason": reason} if reason else None
        if action == "delete":
            return self._json("DELETE", f"/v1/artifacts/{_segment(urn)}", json=body)
        return self._json("POST", f"/v1/artifacts/{_segment(urn)}/{action}", json=body)

    def files(self, urn: str) -> list[dict[str, Any]]:
        return list(self._json("GET", f"/v1/artifacts/{_segment(urn)}/files")["items"])

    def file_chunks(
        self, urn: str, path: str, *, start: int = 0, expected_sha256: str | None = None
    ) -> Iterator[bytes]:
        return self._download(f"/v1/artifacts/{_segment(urn)}/files/{quote(path)}", urn, start, expected_sha256)

    # ---- repositories ------------------------------------------------------------------------------

    @staticmethod
    def _repo(repository: str) -> str:
        project, _, name = repository.partition("/")
        return f"/v1/repositories/{quote(project, safe='')}/{quote(name, safe='')}"

    def resolve(self, reference: str, at: datetime | str | None = None) -> dict[str, Any]:
        params = {"ref": reference, **({"at": _time(at)} if at else {})}
        return self._json("GET", "/v1/resolve", params=params)

    def list_repositories(self, project: str | None, limit: int | None) -> Iterator[dict[str, Any]]:
        return self._pages("/v1/repositories", {"project": project}, limit)

    def get_repository(self, repository: str) -> dict[str, Any]:
        return self._json("GET", self._repo(repository))

    def register_version(self, repository: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._json("POST", self._repo(repository) + "/versions", json=dict(body))

    def list_versions(
        self, repository: str, *, stage: str | None, at: datetime | str | None, limit: int | None
    ) -> Iterator[dict[str, Any]]:
        return self._pages(self._repo(repository) + "/versions", {"stage": stage, "at": _time(at)}, limit)

    def get_version(self, repository: str, ref: str, at: datetime | str | None = None) -> dict[str, Any]:
        params = {"at": _time(at)} if at else {}
        return self._json("GET", f"{self._repo(repository)}/versions/{quote(ref, safe='')}", params=params)

    def update_version(self, repository: str, ref: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        return self._json("PATCH", f"{self._repo(repository)}/versions/{quote(ref, safe='')}", json=dict(changes))

    def set_alias(self, repository: str, alias: str, version: int) -> dict[str, Any]:
        return self._json("PUT", f"{self._repo(repository)}/aliases/{quote(alias, safe='')}", json={"version": version})

    def remove_alias(self, repository: str, alias: str) -> None:
        self._request("DELETE", f"{self._repo(repository)}/aliases/{quote(alias, safe='')}")

    def set_stage(self, repository: str, ref: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._json("POST", f"{self._repo(repository)}/versions/{quote(ref, safe='')}/stage", json=dict(body))

    def stage_history(self, repository: str, ref: str) -> list[dict[str, Any]]:
        return list(self._json("GET", f"{self._repo(repository)}/versions/{quote(ref, safe='')}/stages")["items"])
