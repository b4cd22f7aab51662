"""The upload routes `tus_server` serves under `/v1/uploads`, described for the OpenAPI document.

The same routes also speak the IETF resumable-uploads draft when a request carries
`Upload-Draft-Interop-Version`; this description covers tus 1.0 and names the draft's extra method (GET).

`tus_server` knows nothing of `fabric`, so the product describes the protocol it mounts here.
"""

from __future__ import annotations

from typing import Any

from fabric.openapi.spec import header, header_param, ok_empty, operation, path_param

SIZE = {"type": "string", "pattern": "^[0-9]{1,19}$"}
TUS_RESUMABLE = header_param("Tus-Resumable", "The protocol version, 1.0.0", {"enum": ["1.0.0"]}, required=True)
METHOD_OVERRIDE = header_param("X-HTTP-Method-Override", "PATCH or DELETE sent as POST")
UPLOAD_ID = path_param("upload_id", "The upload id, the last part of the creation's Location")
TUS_ERRORS = (400, 403, 404, 409, 410, 412, 413, 415, 460, 507)
DISCOVERY_HEADERS = {
    name: header(text)
    for name, text in (
        ("Tus-Resumable", "1.0.0"),
        ("Tus-Version", "Versions the server speaks"),
        ("Tus-Extension", "The extensions the server supports"),
        ("Tus-Max-Size", "The largest upload accepted"),
        ("Tus-Checksum-Algorithm", "md5, sha1, sha256, crc32"),
    )
}


def _options(operation_id: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return operation(
        operation_id,
        "tus discovery: versions, extensions, limits (no token needed)",
        access="public",
        tag="uploads",
        parameters=parameters,
        ok={204: ok_empty("The server's tus capabilities", DISCOVERY_HEADERS)},
    )


paths: dict[str, dict[str, Any]] = {
    "/v1/uploads": {
        "options": _options("tusDiscovery", []),
        "post": operation(
            "createUpload",
            "Create an upload (tus creation, creation-with-upload, creation-defer-length, concatenation)",
            access="user",
            tag="uploads",
            description="Metadata keys the fabric reads: `filename` (or `name`), `content_type` (or `filetype`), "
            "`collection`, `policy`. A final concatenation may name only partial uploads the caller may write.",
            parameters=[
                TUS_RESUMABLE,
                header_param("Upload-Length", "The total size in bytes", SIZE),
                header_param("Upload-Defer-Length", "1: the size comes with a later PATCH", {"enum": ["1"]}),
                header_param("Upload-Metadata", "Comma-separated `key base64value` pairs"),
                header_param("Upload-Concat", "`partial`, or `final;<url> <url> ...`"),
                header_param("Upload-Checksum", "`<algorithm> <base64 digest>` of a body sent with the creation"),
            ],
            body={
                "required": False,
                "content": {"application/offset+octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            },
            ok={
                201: ok_empty(
                    "Created",
                    {
                        "Location": header("The upload's URL"),
                        "Upload-Offset": header("Bytes received so far"),
                        "Artifact-Urn": header(
                            "The artifact the upload becomes (not for partial uploads); listed as pending until "
                            "complete, except an upload of at most 64 KiB, which is unknown until its bytes come"
                        ),
                    },
                )
            },
            errors=TUS_ERRORS,
        ),
    },
    "/v1/uploads/{upload_id}": {
        "options": _options("tusUploadDiscovery", [UPLOAD_ID]),
        "get": operation(
            "draftUploadOffset",
            "Offset retrieval of the IETF resumable-uploads draft (with Upload-Draft-Interop-Version); tus 1.0 uses HEAD",
            access="upload-owner",
            tag="uploads",
            parameters=[
                UPLOAD_ID,
                header_param("Upload-Draft-Interop-Version", "The draft's interop version, 3 to 8", required=False),
            ],
            ok={204: ok_empty("The upload's state", {"Upload-Offset": header("Bytes received")})},
            errors=(400, 404, 405, 410, 412),
        ),
        "head": operation(
            "uploadOffset",
            "The offset, length and metadata of an upload",
            access="upload-owner",
            tag="uploads",
            parameters=[UPLOAD_ID, TUS_RESUMABLE],
            ok={
                200: ok_empty(
                    "The upload's state",
                    {"Upload-Offset": header("Bytes received"), "Upload-Length": header("The total size")},
                )
            },
            errors=(400, 404, 410, 412),
        ),
        "patch": operation(
            "uploadChunk",
            "Append bytes at the upload's offset",
            access="upload-owner",
            tag="uploads",
            parameters=[
                UPLOAD_ID,
                TUS_RESUMABLE,
                header_param("Upload-Offset", "Where these bytes start", SIZE, required=True),
                header_param("Upload-Length", "The size, if creation deferred it", SIZE),
                header_param("Upload-Checksum", "`<algorithm> <base64 digest>` of this body"),
            ],
            body={
                "required": True,
                "content": {"application/offset+octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            },
            ok={204: ok_empty("Saved", {"Upload-Offset": header("The new offset")})},
            errors=TUS_ERRORS,
        ),
        "delete": operation(
            "terminateUpload",
            "Terminate an unfinished upload",
            access="upload-owner",
            tag="uploads",
            parameters=[UPLOAD_ID, TUS_RESUMABLE],
            ok={204: ok_empty("Terminated")},
            errors=(400, 404, 409, 410, 412),
        ),
        "post": operation(
            "uploadMethodOverride",
            "PATCH or DELETE for clients that can only POST (`X-HTTP-Method-Override`)",
            access="upload-owner",
            tag="uploads",
            parameters=[
                UPLOAD_ID,
                TUS_RESUMABLE,
                {**METHOD_OVERRIDE, "required": True, "schema": {"enum": ["PATCH", "DELETE"]}},
                header_param("Upload-Offset", "Where these bytes start (PATCH)", SIZE),
            ],
            body={
                "required": False,
                "content": {"application/offset+octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            },
            ok={204: ok_empty("Saved or terminated", {"Upload-Offset": header("The new offset")})},
            errors=(*TUS_ERRORS, 405),
        ),
    },
}
