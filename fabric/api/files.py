"""An artifact's files: `GET /v1/artifacts/{urn}/files` (the manifest), `GET|HEAD …/files/{path}` (one file's
bytes, with Range and ETag as the blob route), `GET …/archive?format=tar|zip` (every file, streamed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from fabric import path_send
from fabric.api.blobs import blob_blocks, blob_response, bytes_operation, content_disposition
from fabric.archive import Entry, tar_length, tar_parts, tar_stream, zip_stream
from fabric.blobs import BlobStore
from fabric.openapi.spec import URN_PARAM, header_param, ok_json, operation, path_param, query_param
from fabric.permissions import readable_artifact
from fabric.state import app_state
from fabric.web import ORJSONResponse, query_time

ARCHIVES = {"tar": ("application/x-tar", tar_stream), "zip": ("application/zip", zip_stream)}


def manifest(request: Request, urn: str) -> tuple[Any, list[dict[str, Any]]]:
    """The readable, not deleted artifact and its files (blocking)."""
    artifact = readable_artifact(request, urn, aspects=False, deleted=False)
    return artifact, app_state(request).lifecycle.files(urn, at=query_time(request, "at"))


async def list_files(request: Request) -> Response:
    urn = request.path_params["urn"]
    artifact, files = await anyio.to_thread.run_sync(manifest, request, urn)
    return ORJSONResponse({"artifact": urn, "status": artifact.status, "items": files})


def etag_matches(request: Request, etag: str) -> bool:
    return etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]


def one_file(request: Request, urn: str, path: str) -> dict[str, Any] | None:
    """The readable, not deleted artifact's file at `path`, or None (blocking)."""
    readable_artifact(request, urn, aspects=False, deleted=False)
    return app_state(request).lifecycle.file(urn, path, at=query_time(request, "at"))


async def get_file(request: Request) -> Response:
    urn, path = request.path_params["urn"], request.path_params["path"]
    found = await anyio.to_thread.run_sync(one_file, request, urn, path)
    if found is None:
        raise HTTPException(404, f"{urn} has no file {path!r}")
    if not found["sha256"]:
        raise HTTPException(409, f"{path!r} of {urn} is still being uploaded")
    etag = f'"{found["sha256"]}"'
    if etag_matches(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    headers = {"ETag": etag, "Content-Disposition": content_disposition(path.rsplit("/", 1)[-1])}
    return await blob_response(request, found["sha256"], found.get("mime_type") or "application/octet-stream", headers)


async def get_archive(request: Request) -> Response:
    urn = request.path_params["urn"]
    kind = request.query_params.get("format", "tar")
    if kind not in ARCHIVES:
        raise HTTPException(400, "format must be tar or zip")
    artifact, files = await anyio.to_thread.run_sync(manifest, request, urn)
    unfinished = [item["path"] for item in files if not item["sha256"]]
    if unfinished or not files:
        raise HTTPException(
            409, f"{urn} has unfinished files: {', '.join(unfinished[:20])}" if files else f"{urn} has no files yet"
        )
    mtime = artifact.created.timestamp() if artifact.created else 0.0
    entries = [Entry(item["path"], int(item["size"] or 0), item["sha256"], mtime) for item in files]
    media_type, stream = ARCHIVES[kind]
    name = f"{artifact.name or urn.rsplit(':', 1)[-1]}.{kind}"

    headers = {"Content-Disposition": content_disposition(name)}
    blobs = app_state(request).blobs
    if kind == "tar":
        length = await anyio.to_thread.run_sync(tar_length, entries)  # 10,000 headers: 0.2 s, off the loop
        headers["Content-Length"] = str(length)  # a download's progress has its total
        if isinstance(blobs, BlobStore) and path_send.takes_pieces(request.scope):
            return TarOfFiles(entries, lambda sha256: str(blobs.path(sha256)), headers)

    def blocks(entry: Entry) -> AsyncIterator[bytes]:
        return blob_blocks(request, entry.sha256)

    return StreamingResponse(stream(entries, blocks), media_type=media_type, headers=headers)


class TarOfFiles(Response):
    """A tar of files on local disk, sent by `fabric serve` (`fabric.path_send`): its headers and padding as body
    messages, each file's bytes with `sendfile`, never read into the process."""

    media_type = "application/x-tar"

    def __init__(self, entries: list[Entry], path_of: Callable[[str], str], headers: dict[str, str]) -> None:
        """`path_of`: the file holding a sha256's bytes; `headers` hold the archive's Content-Length."""
        super().__init__(headers=headers)
        self.entries = entries
        self.path_of = path_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        pending = b""  # the archive's own bytes since the last file: one message for a padding and a header
        for part in tar_parts(self.entries):
            if not isinstance(part, Entry):
                pending += part
                continue
            if pending:
                await send({"type": "http.response.body", "body": pending, "more_body": True})
                pending = b""
            if part.size:
                piece = {"path": self.path_of(part.sha256), "count": part.size, "more_body": True}
                await send({"type": path_send.EXTENSION, **piece})
        await send({"type": "http.response.body", "body": pending, "more_body": False})


routes = [
    Route("/v1/artifacts/{urn}/files", list_files, methods=["GET"]),
    Route("/v1/artifacts/{urn}/files/{path:path}", get_file, methods=["GET", "HEAD"]),
    Route("/v1/artifacts/{urn}/archive", get_archive, methods=["GET"]),
]

AT = query_param("at", "The manifest as of this ISO 8601 time", {"type": "string", "format": "date-time"})
PATH = path_param("path", "The file's relative POSIX path in the artifact, e.g. `weights/model.safetensors`")
FILE_PARAMS = [
    URN_PARAM,
    PATH,
    header_param("Range", "One byte range, `bytes=<first>-<last>`"),
    header_param("If-None-Match", "An ETag seen before: 304 if the bytes are the same"),
]
MANIFEST = {
    "type": "object",
    "properties": {
        "artifact": {"type": "string"},
        "status": {"type": "string"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "path": {"type": "string"},
                    "size": {"type": ["integer", "null"]},
                    "sha256": {"type": ["string", "null"]},
                    "md5": {"type": ["string", "null"]},
                    "mime_type": {"type": ["string", "null"]},
                },
            },
        },
    },
}


def _file_operation(operation_id: str, summary: str) -> dict[str, object]:
    return bytes_operation(operation_id, summary, tag="files", parameters=FILE_PARAMS)


paths = {
    "/v1/artifacts/{urn}/files": {
        "get": operation(
            "listFiles",
            "The artifact's manifest: every file with its path, size, sha256, md5 and media type",
            access="read",
            tag="files",
            parameters=[URN_PARAM, AT],
            ok={200: ok_json(MANIFEST)},
            errors=(400, 404, 410),
        )
    },
    "/v1/artifacts/{urn}/files/{path}": {
        "get": _file_operation("getFile", "One file's bytes, streamed; Range and ETag supported"),
        "head": _file_operation("headFile", "The headers GET would answer, without the bytes"),
    },
    "/v1/artifacts/{urn}/archive": {
        "get": operation(
            "getArchive",
            "Every file of the artifact as one tar or zip, streamed as it is written (never built first)",
            access="read",
            tag="files",
            parameters=[URN_PARAM, query_param("format", "tar (default) or zip", {"enum": ["tar", "zip"]})],
            ok={200: {"description": "The archive", "content": {"application/x-tar": {}, "application/zip": {}}}},
            errors=(400, 404, 409, 410),
        )
    },
}
