"""A small tus 1.0 client on httpx: streamed chunks, resume by HEAD, retries with backoff.

Each PATCH streams its chunk from the source block by block (never the whole chunk in memory). A PATCH that
fails on the connection, or answers 5xx, 409, 423 or 429, is followed by a HEAD for the offset the server holds,
and the upload goes on from there: after a cut connection or a server restart it resumes, never restarts.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import httpx

from fabric.client.errors import NotFound, UploadFailed, error_for
from fabric.client.retry import RETRY_STATUSES, Backoff
from fabric.client.sources import Chunk, Source

TUS_HEADERS = {"Tus-Resumable": "1.0.0"}
ARTIFACT_URN = "Artifact-Urn"
Progress = Callable[[int, int | None], None]
SETTLE_SECONDS = 0.15


def encode_metadata(metadata: Mapping[str, str | None]) -> str:
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in metadata.items() if value is not None
    )


@dataclass(slots=True)
class UploadState:
    url: str
    artifact_urn: str | None
    offset: int
    length: int | None


class _Retry(Exception):
    """An attempt failed in a way worth retrying after a HEAD."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class TusClient:
    def __init__(
        self,
        http: httpx.Client,
        endpoint: str = "/v1/uploads",
        *,
        chunk_size: int = 128 << 20,
        retries: int = 10,
        retry_delay: float = 0.5,
        progress: Progress | None = None,
    ) -> None:
        self.http = http
        self.endpoint = endpoint
        self.chunk_size = max(1, chunk_size)
        self.backoff = Backoff(retries=retries, delay=retry_delay)
        self.progress = progress

    # ---- single requests ----------------------------------------------------------------------------

    def _send(self, request: Callable[[], httpx.Response]) -> httpx.Response:
        """One request, retried on connection errors and retryable statuses; other errors raised."""
        while True:
            try:
                response = request()
            except httpx.TransportError as exc:
                self.backoff.wait(exc)
                continue
            if response.status_code in RETRY_STATUSES and response.status_code != 409:
                self.backoff.wait(error_for(response))
                continue
            if response.status_code >= 400:
                raise error_for(response)
            self.backoff.progressed()
            return response

    def create(self, length: int | None, metadata: Mapping[str, str | None]) -> UploadState:
        headers = {**TUS_HEADERS, "Upload-Metadata": encode_metadata(metadata)}
        if length is None:
            headers["Upload-Defer-Length"] = "1"
        else:
            headers["Upload-Length"] = str(length)
        response = self._send(lambda: self.http.post(self.endpoint, headers=headers))
        location = response.headers.get("Location")
        if not location:
            raise UploadFailed("the server created an upload but sent no Location")
        return UploadState(
            str(self.http.base_url.join(location)) if not location.startswith("http") else location,
            response.headers.get(ARTIFACT_URN),
            0,
            length,
        )

    def head(self, url: str) -> UploadState:
        """The server's view of an upload; NotFound if it is gone (terminated, expired, swept)."""
        response = self._send(lambda: self.http.head(url, headers=TUS_HEADERS))
        length = response.headers.get("Upload-Length")
        return UploadState(
            url,
            response.headers.get(ARTIFACT_URN),
            int(response.headers["Upload-Offset"]),
            int(length) if length else None,
        )

    # ---- the transfer -------------------------------------------------------------------------------

    def upload(self, source: Source, state: UploadState) -> UploadState:
        """Send `source` from `state.offset` until the server holds all of it; returns the final state."""
        while state.length is None or state.offset < state.length:
            chunk = source.chunk(state.offset, self.chunk_size)
            try:
                state = self._patch(state, chunk)
                self.backoff.progressed()
            except _Retry as retry:
                self.backoff.wait(retry.cause)
                state = self._resume(state)
        return state

    def _resume(self, state: UploadState) -> UploadState:
        """The offset to go on from after a failed PATCH.

        The server may still be saving what the cut request sent when the HEAD arrives; a PATCH from that
        stale offset would be refused with 409 only after its whole body was sent. So HEAD until the offset
        holds still for a moment.
        """
        fresh = self.head(state.url)
        for _ in range(20):
            time.sleep(SETTLE_SECONDS)
            again = self.head(state.url)
            if again.offset == fresh.offset:
                break
            fresh = again
        return UploadState(
            state.url,
            fresh.artifact_urn or state.artifact_urn,
            fresh.offset,
            fresh.length if fresh.length is not None else state.length,
        )

    def _patch(self, state: UploadState, chunk: Chunk) -> UploadState:
        offset = state.offset
        remaining = chunk.start + chunk.length - offset
        headers = {
            **TUS_HEADERS,
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(offset),
            "Content-Length": str(remaining),
        }
        length = state.length
        if length is None and chunk.last:
            length = chunk.start + chunk.length
            headers["Upload-Length"] = str(length)
        try:
            response = self.http.patch(state.url, headers=headers, content=self._body(chunk, offset, length))
        except httpx.TransportError as exc:
            raise _Retry(exc) from exc
        if response.status_code in RETRY_STATUSES:
            raise _Retry(error_for(response))
        if response.status_code in (404, 410):
            raise NotFound(
                f"the upload {state.url} is gone ({response.status_code}); start again", status=response.status_code
            )
        if response.status_code >= 400:
            raise error_for(response)
        new_offset = int(response.headers.get("Upload-Offset", offset + remaining))
        return UploadState(state.url, response.headers.get(ARTIFACT_URN) or state.artifact_urn, new_offset, length)

    def _body(self, chunk: Chunk, offset: int, total: int | None) -> Iterator[bytes]:
        position = offset
        for block in chunk.blocks(offset):
            yield block
            position += len(block)
            if self.progress is not None:
                self.progress(position, total)
