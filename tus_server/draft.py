"""Resumable Uploads for HTTP (the IETF draft), interop versions 3 to 8, beside tus 1.0 on the same endpoints.

A request carrying `Upload-Draft-Interop-Version` is answered here; every other request is tus. Both protocols
run on the same `TusServer`: its store, locks, durability, digests, access hook, expiry sweep and completion
hook, so a draft upload becomes an artifact exactly as a tus upload does (`Artifact-Urn` on its answers).

- Creation: `POST` to the collection with `Upload-Complete` (version 3: `Upload-Incomplete`). With `?1` the body
  is the whole representation; with `?0` more is appended later. The length comes from `Upload-Length` or from
  `Content-Length` of a completing request; an upload whose length is not known yet is length-deferred.
- Offset retrieval: `HEAD` (or `GET`) on the upload. Append: `PATCH` with `Upload-Offset` and `Upload-Complete`
  (and, from version 6, `Content-Type: application/partial-upload`). Cancellation: `DELETE`.
- Digests: `Content-Digest` (sha-256) must match the request content, or none of it is kept; `Repr-Digest`
  (sha-256) must match the whole upload, checked before the upload is handed on.
- `104 (Upload Resumption Supported)` with the upload's `Location` is sent before a creation request's content is
  read, where the HTTP server offers the ASGI extension `http.response.interim` (`fabric serve` does, over
  HTTP/1.1). A client that reads it can resume a creation cut off mid-body; one that does not (or a server
  without the extension) learns the location from the final answer only, and creates the upload anew.
- An upload created by one protocol is continued by that protocol only (`protocol` in its info): the two
  disagree on when an upload is complete, so crossing over is refused with a 400 rather than half-supported.
"""

from __future__ import annotations

from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import TYPE_CHECKING

import anyio
from starlette.requests import Request
from starlette.responses import Response

from tus_server import errors
from tus_server.checksums import ExpectedChecksum
from tus_server.draft_fields import (
    COMPLETED_UPLOAD,
    INCONSISTENT_LENGTH,
    PARTIAL_UPLOAD,
    VERSION_HEADER,
    Interop,
    parse_complete,
    parse_integer,
    parse_length,
    parse_sha256_digest,
    parse_version,
)
from tus_server.errors import ProtocolError
from tus_server.headers import parse_size
from tus_server.info import UploadInfo, utcnow
from tus_server.problems import TusError, problem

if TYPE_CHECKING:
    from tus_server.server import TusServer

MISSING_COMPLETE = ProtocolError(400, "Missing Upload-Complete")
INCONSISTENT = ProtocolError(400, "Inconsistent upload length", INCONSISTENT_LENGTH)
COMPLETED = ProtocolError(400, "Upload already complete", COMPLETED_UPLOAD)
WRONG_PROTOCOL = ProtocolError(400, "Upload of another protocol")


INTERIM_EXTENSION = "http.response.interim"  # an ASGI extension for 1xx answers (fabric.interim_responses)


def is_draft_request(request: Request) -> bool:
    return VERSION_HEADER in request.headers


class DraftUploads:
    """The draft's answers, over the upload machinery of a `TusServer`."""

    def __init__(self, tus: TusServer) -> None:
        self.tus = tus

    # ---- endpoints ----------------------------------------------------------------------------------

    async def collection(self, request: Request, method: str) -> Response:
        interop = Interop(8)
        try:
            interop = parse_version(request.headers[VERSION_HEADER])
            if method == "OPTIONS":
                return Response(status_code=204, headers=self._limit(interop, None))
            if method == "POST":
                return await self._create(request, interop)
            raise errors.METHOD_NOT_ALLOWED(f"{method} is not allowed on {self.tus.config.base_path}")
        except TusError as error:
            return self._problem(error, interop)

    async def upload(self, request: Request, method: str, upload_id: str) -> Response:
        interop = Interop(8)
        try:
            interop = parse_version(request.headers[VERSION_HEADER])
            if method == "OPTIONS":
                return Response(status_code=204, headers=self._limit(interop, None))
            info = self.tus._load(upload_id)
            if self.tus.check_access is not None:
                await self.tus.check_access(request, info)  # before anything else is said about the upload
            info = self._load(upload_id)
            if method in ("HEAD", "GET"):
                if await self.tus.locks.settled(upload_id):
                    info = self._load(upload_id)
                return Response(status_code=204, headers={**self._state(info, interop), "Cache-Control": "no-store"})
            if method == "PATCH":
                return await self._append(request, info, interop)
            if method == "DELETE" and "termination" in self.tus.extensions:
                await self.tus._terminate(info)
                return Response(status_code=204)
            raise errors.METHOD_NOT_ALLOWED(f"{method} is not allowed on an upload")
        except TusError as error:
            return self._problem(error, interop)

    # ---- creation -----------------------------------------------------------------------------------

    async def _create(self, request: Request, interop: Interop) -> Response:
        headers = dict(request.headers)
        complete = parse_complete(interop, headers)
        if complete is None:
            raise MISSING_COMPLETE(f"a resumable upload is created by a request with {interop.complete_field}")
        content_length = parse_size(headers.get("content-length"), "Content-Length")
        length = self._length_of(None, 0, complete, content_length, parse_length(headers.get("upload-length")))
        self.tus._check_max_size(length)
        if length is None and "creation-defer-length" not in self.tus.extensions:
            raise errors.UNSUPPORTED_EXTENSION("this server's upload store needs the upload's length at creation")
        has_body = bool(content_length) or "transfer-encoding" in headers
        if complete and not has_body and length:
            raise INCONSISTENT(f"an upload completed with no content has length 0, not {length}")
        content_digest = self._content_digest(headers)
        repr_digest = parse_sha256_digest(headers.get("repr-digest"), "Repr-Digest")

        info = self.tus._new_info(request, length, concat=None)
        info.protocol = "ietf-draft"
        _representation_metadata(info.metadata, headers)
        if repr_digest is not None:
            info.expected_sha256 = repr_digest.hex()
        await self.tus._run_create_hook(info, request)
        await self.tus._store_new(info)
        location = self.tus._location(request, info.id)
        if has_body:
            await _announce_resumption(request, location, interop)
            async with self.tus.locks.hold(info.id) as lock:
                received = await self.tus._receive(request, info, lock, content_digest)
                if received.error is not None:
                    raise self._with_state(received.error, info, interop, location)
                await self._complete_if_asked(info, complete, received.whole_body, interop, location)
        elif complete:
            async with self.tus.locks.hold(info.id):
                await self._complete_if_asked(info, True, True, interop, location)
        return Response(status_code=201, headers={**self._state(info, interop), "Location": location})

    # ---- append -------------------------------------------------------------------------------------

    async def _append(self, request: Request, info: UploadInfo, interop: Interop) -> Response:
        headers = dict(request.headers)
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if interop.requires_partial_upload_type and media_type != PARTIAL_UPLOAD:
            raise errors.UNSUPPORTED_CONTENT_TYPE(f"appends are PATCH requests with Content-Type: {PARTIAL_UPLOAD}")
        offset = parse_integer(headers.get("upload-offset"), "Upload-Offset")
        if offset is None:
            raise errors.MISSING_UPLOAD_OFFSET("an append must say at which offset its bytes belong")
        complete = parse_complete(interop, headers)
        if complete is None:
            raise MISSING_COMPLETE(f"an append must say with {interop.complete_field} whether it ends the upload")
        content_length = parse_size(headers.get("content-length"), "Content-Length")
        announced = parse_length(headers.get("upload-length"))
        content_digest = self._content_digest(headers)
        repr_digest = parse_sha256_digest(headers.get("repr-digest"), "Repr-Digest")
        has_body = bool(content_length) or "transfer-encoding" in headers

        async with self.tus.locks.hold(info.id) as lock:
            info = self._load(info.id)  # what the previous holder left
            if info.finished:
                if offset == info.offset and not has_body and complete:
                    return Response(status_code=204, headers=self._state(info, interop))  # the final answer again
                if offset == info.offset:
                    raise COMPLETED("this upload is complete and takes no more bytes")
            if offset != info.offset:
                raise self._mismatch(info, offset, interop)
            length = self._length_of(info.length, info.offset, complete, content_length, announced)
            if length is not None and info.length is None:
                await self.tus._declare_length(info, length)
            if repr_digest is not None:
                info.expected_sha256 = repr_digest.hex()  # saved with the offset below
            if has_body:
                received = await self.tus._receive(request, info, lock, content_digest)
                if received.error is not None:
                    raise self._with_state(received.error, info, interop, None)
                await self._complete_if_asked(info, complete, received.whole_body, interop, None)
            elif complete:
                await self._complete_if_asked(info, True, True, interop, None)
            elif repr_digest is not None:
                await anyio.to_thread.run_sync(self.tus.store.save, info)
        return Response(status_code=204, headers=self._state(info, interop))

    # ---- completion ---------------------------------------------------------------------------------

    async def _complete_if_asked(
        self, info: UploadInfo, complete: bool, whole_body: bool, interop: Interop, location: str | None
    ) -> None:
        """A request that says it completes the upload and was read to its end completes it: its length is then
        the offset (if it was not known), and the upload is handed on (`TusServer._receive` already did that if
        the length was known and reached)."""
        if not complete or not whole_body or info.finished:
            return
        if info.length is None:
            await self.tus._declare_length(info, info.offset)
        if info.offset != info.length:
            raise self._with_state(
                INCONSISTENT(f"the upload was completed at {info.offset} bytes but its length is {info.length}"),
                info,
                interop,
                location,
            )
        await self.tus._finish(info, self.tus.digests.take(info.id, info.offset))

    # ---- helpers ------------------------------------------------------------------------------------

    def _load(self, upload_id: str) -> UploadInfo:
        info = self.tus._load(upload_id)
        if info.protocol != "ietf-draft":
            raise WRONG_PROTOCOL("this upload was created with tus 1.0; continue it with Tus-Resumable: 1.0.0")
        return info

    @staticmethod
    def _length_of(
        known: int | None, offset: int, complete: bool, content_length: int | None, announced: int | None
    ) -> int | None:
        """The upload's length from every indicator in the request, which must agree with each other and with
        the length already known."""
        indicated = {length for length in (known, announced) if length is not None}
        if complete and content_length is not None:
            indicated.add(offset + content_length)
        if len(indicated) > 1:
            raise INCONSISTENT(f"the request indicates lengths {sorted(indicated)} for one upload")
        return next(iter(indicated), None)

    @staticmethod
    def _content_digest(headers: dict[str, str]) -> ExpectedChecksum | None:
        digest = parse_sha256_digest(headers.get("content-digest"), "Content-Digest")
        return None if digest is None else ExpectedChecksum("sha256", digest, "Content-Digest")

    def _lifetime(self, info: UploadInfo | None) -> int:
        if info is None or info.expires_at is None:
            return int(self.tus.config.expiry.total_seconds())
        return int((info.expires_at - utcnow()).total_seconds())

    def _limit(self, interop: Interop, info: UploadInfo | None) -> dict[str, str]:
        return interop.limit_header(self.tus.config.max_size, self._lifetime(info))

    def _state(self, info: UploadInfo, interop: Interop) -> dict[str, str]:
        """The headers that tell a client where the upload stands."""
        headers = {
            **info.extra_headers,
            **interop.complete_header(info.finished),
            "Upload-Offset": str(info.offset),
            **self._limit(interop, info),
        }
        if info.length is not None:
            headers["Upload-Length"] = str(info.length)
        return headers

    def _with_state(self, error: TusError, info: UploadInfo, interop: Interop, location: str | None) -> TusError:
        error.headers.update(self._state(info, interop))
        if location is not None:
            error.headers["Location"] = location
        return error

    def _mismatch(self, info: UploadInfo, provided: int, interop: Interop) -> TusError:
        error = errors.MISMATCHED_OFFSET(
            f"Upload-Offset is {provided} but the upload is at {info.offset}; HEAD for the offset"
        )
        error.headers.update({**self._state(info, interop), **interop.complete_header(False)})
        error.members = {"expected-offset": info.offset, "provided-offset": provided}
        return error

    def _problem(self, error: TusError, interop: Interop) -> Response:
        typed = interop.knows_problem_type(error.problem_type)
        headers = dict(error.headers)
        if interop.complete_field not in headers:
            headers.update(interop.complete_header(False))
        return problem(
            error.status,
            error.title,
            error.detail,
            headers=headers,
            problem_type=error.problem_type if typed else "about:blank",
            **error.members,
        )


async def _announce_resumption(request: Request, location: str, interop: Interop) -> None:
    """`104 (Upload Resumption Supported)`: where the upload lives, before its first bytes are read."""
    if INTERIM_EXTENSION not in request.scope.get("extensions", {}):
        return
    headers = [
        (b"location", location.encode("latin-1")),
        (b"upload-draft-interop-version", str(interop.version).encode()),
    ]
    await request._send({"type": INTERIM_EXTENSION, "status": 104, "headers": headers})


def _representation_metadata(metadata: dict[str, str | None], headers: dict[str, str]) -> None:
    """The draft carries a file's name in `Content-Disposition` and its type in `Content-Type` of the creation
    request; they become the `filename` and `filetype` metadata a tus client would send, unless it sent those."""
    disposition = headers.get("content-disposition")
    if disposition and "filename" not in metadata:
        message = Message()
        message["Content-Disposition"] = disposition
        names = [
            value for key, value in (message.get_params(header="content-disposition") or [])[1:] if key == "filename"
        ]
        extended = [value for value in names if isinstance(value, tuple)]  # filename* (RFC 8187) wins
        chosen = extended[0] if extended else (names[0] if names else None)
        filename = collapse_rfc2231_value(chosen).strip() if chosen else ""
        if filename:
            metadata["filename"] = filename
    media_type = headers.get("content-type", "").strip()
    if media_type and media_type.split(";")[0].strip().lower() != PARTIAL_UPLOAD and "filetype" not in metadata:
        metadata["filetype"] = media_type
