"""`GET|HEAD /v1/artifacts/{urn}/blob`: the bytes of an artifact, streamed, with Range and ETag."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote

import anyio
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from fabric import path_send
from fabric.blobs import BlobStore
from fabric.openapi.spec import URN_PARAM, header, header_param, ok_empty, operation
from fabric.permissions import readable_artifact
from fabric.problems import problem
from fabric.s3_blobs import S3BlobStore
from fabric.state import app_state


class BlobResponse(FileResponse):
    """A file, whole or one range of it, sent by the server with `sendfile` where it offers that
    (`fabric.path_send`), else read by Starlette."""

    chunk_size = 1 << 20  # larger reads than the default 64 KiB: fewer trips through the event loop
    _offsets = False  # the server takes `offset` in a pathsend message (set per request)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._offsets = path_send.takes_pieces(scope)
        await super().__call__(scope, receive, send)

    async def _handle_single_range(
        self, send: Send, start: int, end: int, file_size: int, send_header_only: bool
    ) -> None:
        if send_header_only or not self._offsets:
            await super()._handle_single_range(send, start, end, file_size, send_header_only)
            return
        headers = MutableHeaders(raw=list(self.raw_headers))
        headers["content-range"] = f"bytes {start}-{end - 1}/{file_size}"
        headers["content-length"] = str(end - start)
        await send({"type": "http.response.start", "status": 206, "headers": headers.raw})
        await send({"type": path_send.EXTENSION, "path": str(self.path), "offset": start})


def content_disposition(name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


async def get_blob(request: Request) -> Response:
    state = app_state(request)
    urn = request.path_params["urn"]
    artifact = await anyio.to_thread.run_sync(lambda: readable_artifact(request, urn, aspects=False, deleted=False))
    sha256, mime_type, name = artifact.sha256, artifact.mime_type, artifact.name or urn
    if artifact.status == "ready" and not sha256:  # made of files: the blob of a single one only
        files = await anyio.to_thread.run_sync(state.lifecycle.files, urn)
        if len(files) != 1:
            return problem(
                409,
                "Artifact of several files",
                f"{urn} holds {len(files)} files: read them at /v1/artifacts/{urn}/files (or /archive)",
            )
        sha256, mime_type, name = files[0]["sha256"], files[0]["mime_type"], files[0]["path"].rsplit("/", 1)[-1]
    if artifact.status != "ready" or not sha256:
        return problem(409, "Artifact not ready", f"{urn} has no bytes yet: its upload has not finished")
    etag = f'"{sha256}"'
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    headers = {"ETag": etag, "Content-Disposition": content_disposition(name)}
    return await blob_response(request, sha256, mime_type or "application/octet-stream", headers)


async def blob_response(request: Request, sha256: str, media_type: str, headers: dict[str, str]) -> Response:
    """The bytes with this sha256 from whichever blob storage the server uses, with Range."""
    blobs = app_state(request).blobs
    if isinstance(blobs, S3BlobStore):
        return await s3_blob_response(request, blobs, sha256, media_type, headers)
    assert isinstance(blobs, BlobStore)
    return BlobResponse(blobs.path(sha256), media_type=media_type, headers=headers)


async def blob_blocks(request: Request, sha256: str) -> AsyncIterator[bytes]:
    """The whole blob as it is read, a block at a time (for archives)."""
    blobs = app_state(request).blobs
    if isinstance(blobs, S3BlobStore):
        answer = await blobs.get(sha256, None)
        async for chunk in answer.body:
            yield chunk
        return
    assert isinstance(blobs, BlobStore)
    async with await anyio.open_file(blobs.path(sha256), "rb") as handle:
        while block := await handle.read(BlobResponse.chunk_size):
            yield block


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


async def s3_blob_response(
    request: Request, blobs: S3BlobStore, sha256: str, media_type: str, headers: dict[str, str]
) -> Response:
    """Stream the blob from S3 (one byte range if asked), or redirect to a presigned URL (--blob-redirect)."""
    settings = app_state(request).settings
    if settings.blob_redirect:
        url = await blobs.presigned_url(
            sha256,
            content_type=media_type,
            disposition=headers["Content-Disposition"],
            expires=settings.blob_redirect_ttl,
        )
        return RedirectResponse(url, status_code=307, headers={"ETag": headers["ETag"], "Cache-Control": "no-store"})
    if request.method == "HEAD":
        size = await blobs.size(sha256)
        return Response(
            status_code=200,
            media_type=media_type,
            headers={**headers, "Content-Length": str(size), "Accept-Ranges": "bytes"},
        )
    asked = request.headers.get("range", "").strip()
    match = _RANGE.fullmatch(asked)
    byte_range = asked if match and (match.group(1) or match.group(2)) else None  # anything else: the whole blob
    try:
        answer = await blobs.get(sha256, byte_range)
    except Exception as exc:
        if getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode") == 416:
            size = await blobs.size(sha256)
            return problem(
                416, "Range not satisfiable", f"the blob has {size} bytes", headers={"Content-Range": f"bytes */{size}"}
            )
        raise
    return StreamingResponse(
        answer.body, status_code=answer.status, media_type=media_type, headers={**headers, **answer.headers}
    )


routes = [Route("/v1/artifacts/{urn}/blob", get_blob, methods=["GET", "HEAD"])]

BYTES = {"description": "The bytes", "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}
BLOB_HEADERS = {
    "ETag": header("The sha256 of the bytes, quoted"),
    "Content-Length": header("Size", {"type": "integer"}),
}
BLOB_PARAMS = [
    URN_PARAM,
    header_param("Range", "One byte range, `bytes=<first>-<last>`"),
    header_param("If-None-Match", "An ETag seen before: 304 if the bytes are the same"),
]


def bytes_operation(
    operation_id: str, summary: str, *, tag: str, parameters: list[dict[str, object]]
) -> dict[str, object]:
    """The description of a route that serves stored bytes (whole, by Range, or not modified)."""
    return operation(
        operation_id,
        summary,
        access="read",
        tag=tag,
        parameters=parameters,
        ok={
            200: {**BYTES, "headers": BLOB_HEADERS},
            206: {**BYTES, "description": "The range asked for"},
            304: ok_empty("Not modified"),
        },
        errors=(400, 404, 409, 410, 416),
    )


def _blob_operation(operation_id: str, summary: str) -> dict[str, object]:
    return bytes_operation(operation_id, summary, tag="artifacts", parameters=BLOB_PARAMS)


paths = {
    "/v1/artifacts/{urn}/blob": {
        "get": _blob_operation("getBlob", "The artifact's bytes, streamed; Range and ETag supported"),
        "head": _blob_operation("headBlob", "The headers GET would answer, without the bytes"),
    }
}
