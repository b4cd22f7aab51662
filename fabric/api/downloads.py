"""`POST /v1/artifacts/{urn}/download-links` and `GET /v1/download?token=…`: downloads a browser streams to disk.

The API wants a bearer header, which a browser navigating to a URL cannot send. So the portal asks (with its
token) for a link to one artifact's blob, file or archive, and navigates to it: the answer is the same streamed
response the authenticated route gives (`Content-Disposition: attachment`, Range, ETag), saved by the browser
as it arrives. The token rides in the query as `token`, which the access log never writes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fabric.api.blobs import get_blob
from fabric.api.files import get_archive, get_file
from fabric.auth.middleware import principal_of
from fabric.download_links import ARCHIVE_FORMATS, LINK_TTL, InvalidLink, LinkTarget, mint_link, verify_link
from fabric.openapi.spec import URN_PARAM, json_body, ok_json, operation, query_param
from fabric.permissions import artifact_urn, readable_artifact
from fabric.problems import problem
from fabric.state import app_state
from fabric.web import ORJSONResponse, json_object

DOWNLOAD_PATH = "/v1/download"


def link_target(urn: str, body: dict[str, Any]) -> LinkTarget:
    """What the body asks for: nothing (the blob), `path` (one file) or `format` (tar or zip of every file)."""
    unknown = set(body) - {"path", "format"}
    if unknown:
        raise HTTPException(400, f"unknown field(s): {', '.join(sorted(unknown))}; send 'path' or 'format' or neither")
    if "path" in body and "format" in body:
        raise HTTPException(400, "send either 'path' (one file) or 'format' (an archive), not both")
    path, archive = body.get("path"), body.get("format")
    if path is not None and (not isinstance(path, str) or not path or len(path) > 4096):
        raise HTTPException(400, "'path' must be the relative path of one of the artifact's files")
    if archive is not None and archive not in ARCHIVE_FORMATS:
        raise HTTPException(400, "'format' must be tar or zip")
    return LinkTarget(urn, path, archive)


async def create_download_link(request: Request) -> Response:
    urn = artifact_urn(request.path_params["urn"])
    sends_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    body = await json_object(request) if sends_body else {}
    target = link_target(urn, body)
    await anyio.to_thread.run_sync(lambda: readable_artifact(request, urn, aspects=False, deleted=False))
    token, expires = mint_link(app_state(request).signing_key, principal_of(request), target)
    return ORJSONResponse(
        {
            "url": f"{DOWNLOAD_PATH}?{urlencode({'token': token})}",
            "artifact": urn,
            "path": target.path,
            "format": target.archive,
            "expires": datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z"),
        },
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


async def follow_download_link(request: Request) -> Response:
    """The bytes a link names, answered as the authenticated route answers its caller now."""
    token = request.query_params.get("token")
    if not token:
        raise HTTPException(400, "a download link carries its token: /v1/download?token=…")
    state = app_state(request)
    try:
        principal, target = verify_link(state.signing_key, token, state.settings.namespace)
    except InvalidLink as exc:
        return problem(403, "Forbidden", str(exc))
    scope = dict(request.scope)
    scope["state"] = {**request.scope.get("state", {}), "principal": principal}
    scope["path_params"] = {"urn": target.artifact}
    scope["query_string"] = b""
    if target.path is not None:
        scope["path_params"]["path"] = target.path
        handler = get_file
    elif target.archive is not None:
        scope["query_string"] = urlencode({"format": target.archive}).encode()
        handler = get_archive
    else:
        handler = get_blob
    response = await handler(Request(scope, request.receive))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


routes = [
    Route("/v1/artifacts/{urn}/download-links", create_download_link, methods=["POST"]),
    Route(DOWNLOAD_PATH, follow_download_link, methods=["GET"]),
]

LINK_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string", "description": "One file of the artifact"},
        "format": {"enum": list(ARCHIVE_FORMATS), "description": "Every file as one archive"},
    },
}
LINK = {
    "type": "object",
    "required": ["url", "artifact", "expires"],
    "properties": {
        "url": {"type": "string", "description": "GET it without a token before it expires"},
        "artifact": {"type": "string"},
        "path": {"type": ["string", "null"]},
        "format": {"type": ["string", "null"]},
        "expires": {"type": "string", "format": "date-time"},
    },
}
BYTES = {
    "description": "The bytes, as an attachment",
    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
}
paths = {
    "/v1/artifacts/{urn}/download-links": {
        "post": operation(
            "createDownloadLink",
            f"A link to download the artifact's blob, one file or an archive without a token, good for {LINK_TTL} s",
            access="read",
            tag="files",
            parameters=[URN_PARAM],
            body=json_body(LINK_REQUEST, "Nothing (the blob), `path` (one file) or `format` (tar or zip)"),
            ok={201: ok_json(LINK)},
            errors=(400, 404, 410, 413),
        )
    },
    DOWNLOAD_PATH: {
        "get": operation(
            "followDownloadLink",
            "The bytes a download link names, streamed as an attachment (its caller's access is checked again)",
            access="public",
            tag="files",
            parameters=[query_param("token", "The link's token, as `url` of the minted link carries it")],
            ok={200: BYTES, 206: {**BYTES, "description": "The range asked for"}, 304: {"description": "Not modified"}},
            errors=(400, 403, 404, 409, 410, 416),
        )
    },
}
