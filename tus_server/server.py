"""The tus 1.0.0 protocol over an `UploadStore`: request handling, completion and expiry.

`TusServer` knows uploads and nothing else. What an upload means is up to the hooks it is given:
`on_create` may veto a creation or return headers that are stored with the upload and sent on every answer
about it; `on_complete` runs once the bytes of a non-partial upload are durable and complete; `on_abandon`
runs when an unfinished upload is terminated or expires.
"""

from __future__ import annotations

import errno
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from tus_server import errors
from tus_server.blocks import BODY_INTO, Block
from tus_server.budget import BufferBudget
from tus_server.checksums import ALGORITHMS, ExpectedChecksum, parse_checksum
from tus_server.config import OFFSET_CONTENT_TYPE, TUS_VERSION, TusConfig
from tus_server.draft import DraftUploads, is_draft_request
from tus_server.errors import is_disk_full, storage_error
from tus_server.hashing import DigestCache, UploadDigests
from tus_server.headers import check_duplicates, encode_metadata, parse_metadata, parse_size
from tus_server.info import ConcatKind, UploadInfo, utcnow
from tus_server.lane import CompletionLane
from tus_server.locks import HeldLock, UploadLocker, UploadLocks
from tus_server.problems import TusError
from tus_server.receiver import BodyInto, BodyWriter, DiskFull, prefix
from tus_server.upload_store import (
    BatchCreator,
    CompletionRecorder,
    Concatenator,
    FinishMarker,
    LengthDeferrer,
    Terminator,
    UnreadableUntilFinished,
    UploadStore,
    is_valid_upload_id,
)

log = logging.getLogger("tus_server")
MD5_METADATA_KEY = "md5"  # in Upload-Metadata: compute this upload's md5 too
ROOM_FOR_INFO = 1 << 20  # bytes of a just-written tail given back when a full disk leaves no room to record the offset
SMALL_BODY = 64 << 10  # a body of known length up to this is received whole, then appended in one worker call


@dataclass(frozen=True, slots=True)
class CompletedUpload:
    """A finished upload handed to `on_complete`: its info (with sha256 and md5) and the store holding its bytes.

    The hook takes the bytes over through the store: `read()` streams them; `release()` drops them from the
    upload store once they are kept elsewhere; a store that is a `DataMover` can move them to a local file.
    """

    info: UploadInfo
    store: UploadStore

    def read(self, block_size: int = 8 << 20) -> Iterator[bytes]:
        """The upload's bytes in blocks (blocking)."""
        return self.store.read(self.info.id, self.info.length or 0, block_size)

    def release(self) -> None:
        """Drop the bytes from the upload store; its info stays so HEAD still answers (blocking)."""
        self.store.release(self.info.id)


CreateHook = Callable[[UploadInfo, Request], Awaitable[Mapping[str, str] | None]]
CompleteHook = Callable[[CompletedUpload], Awaitable[None]]


class BlockingCompletion:
    """An `on_complete` hook whose work blocks (files, a database), given as the blocking function itself.

    Awaited, it runs in a worker thread like any blocking call. The server can do better for a small upload
    whose last bytes it stores in a worker call of its own: it runs the hook and the finish mark in that same
    call, so the whole completion costs one thread hop. A thread hop wakes two threads and hands the GIL over
    twice, which for a 4 KiB upload costs as much as the work it carries."""

    def __init__(
        self,
        complete: Callable[[CompletedUpload], None],
        complete_many: Callable[[list[CompletedUpload]], list[Exception | None]] | None = None,
    ) -> None:
        """`complete_many`, if given, completes a batch of uploads at once and returns what each failed with (or
        None): the server then stores small creations-with-upload in batches too (see `CompletionLane`)."""
        self.complete = complete
        self.complete_many = complete_many

    async def __call__(self, upload: CompletedUpload) -> None:
        await anyio.to_thread.run_sync(self.complete, upload)


AbandonHook = Callable[[UploadInfo], Awaitable[None]]
AccessHook = Callable[[Request, UploadInfo], Awaitable[None]]


@dataclass(slots=True)
class Received:
    """What became of a request body: the error to answer with when not all of it was kept, and whether it was
    read to its end (not cut off, taken over or refused part way)."""

    error: TusError | None
    whole_body: bool


@dataclass(frozen=True, slots=True)
class _HandedOn:
    """A completed upload handed to a `BlockingCompletion` in a worker call: what failed, if anything, and
    whether the upload was marked finished."""

    error: Exception | None
    finished: bool


@dataclass(frozen=True, slots=True)
class _Created:
    """A small creation-with-upload after its batch in the lane: the store's error, or the hand-on."""

    stored: OSError | None
    handed_on: _HandedOn | None


def _adopt(info: UploadInfo, done: UploadInfo) -> None:
    """`info` takes what the store recorded in `done`: the offset, the expiry and the digests."""
    info.offset, info.expires_at, info.sha256, info.md5 = done.offset, done.expires_at, done.sha256, done.md5


def _completion_failed(info: UploadInfo, exc: Exception) -> Exception:
    """The answer to a completion hook's failure: its own `TusError`, else a 500 saying the bytes are kept."""
    if isinstance(exc, TusError):
        return exc
    if isinstance(exc, OSError) and info.finished:  # the hook ran; only the finish mark failed
        return storage_error(exc)
    log.error("completion of upload %s failed", info.id, exc_info=exc)
    return errors.COMPLETION_FAILED(
        f"the bytes are stored but registering them failed ({exc}); it is retried at the next start",
    )


_KEPT_WHAT_FITTED = "the server ran out of disk space; the bytes that fitted were kept, resume later"


class TusServer:
    def __init__(
        self,
        store: UploadStore,
        config: TusConfig | None = None,
        *,
        on_create: CreateHook | None = None,
        on_complete: CompleteHook | None = None,
        on_abandon: AbandonHook | None = None,
        check_access: AccessHook | None = None,
        locker: UploadLocker | None = None,
        sweep_lease: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        # Whether this process sweeps now (blocking): replicas sharing a store sweep it one at a time.
        self.sweep_lease = sweep_lease
        self.config = config or TusConfig()
        self.on_create = on_create
        self.on_complete = on_complete
        self.on_abandon = on_abandon
        self.check_access = check_access
        self.locks = locker or UploadLocks(self.config.takeover_timeout)
        self.digests = DigestCache()
        self.budget = BufferBudget(self.config.upload_buffer_budget)  # upload bytes in memory, all requests together
        self.extensions = _extensions(store)
        self.draft = DraftUploads(self)  # Resumable Uploads for HTTP, on the same endpoints
        # Lanes (`tus_server.lane`) where the store makes batches durable together: new uploads; small
        # creations-with-upload, stored and handed on whole; small PATCHes that complete an upload, appended and
        # handed on together. The last two need a hook that completes batches.
        self._new_lane: CompletionLane[UploadInfo, OSError | None] | None = None
        self._whole_lane: CompletionLane[tuple[UploadInfo, list[bytes]], _Created] | None = None
        self._last_lane: CompletionLane[tuple[UploadInfo, int, list[bytes]], _Created] | None = None
        if isinstance(store, BatchCreator) and store.can_create_many():
            self._new_lane = CompletionLane(self._create_new_many, "upload creations")
            if isinstance(on_complete, BlockingCompletion) and on_complete.complete_many is not None:
                self._whole_lane = CompletionLane(self._create_many, "small uploads")
                self._last_lane = CompletionLane(self._append_last_many, "small last appends")

    # ---- wiring -------------------------------------------------------------------------------------

    @property
    def routes(self) -> list[Route]:
        base = self.config.base_path.rstrip("/")
        return [
            Route(base, self._collection_endpoint, methods=["OPTIONS", "POST"]),
            Route(
                base + "/{upload_id}",
                self._upload_endpoint,
                methods=["OPTIONS", "HEAD", "GET", "PATCH", "DELETE", "POST"],
            ),
        ]

    @asynccontextmanager
    async def running(self, *, recover: bool = True) -> AsyncIterator[None]:
        """Recover uploads left by a crash, then sweep expired ones in the background while the app runs.

        `recover=False` for processes that serve beside others on the same store (workers), where recovery ran
        once before they started: a recovery must not cut back an upload another process is writing."""
        if recover:
            await self.recover()
        async with self.locks.running(), anyio.create_task_group() as tasks:
            tasks.start_soon(self._sweep_forever)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
                for lane in (self._whole_lane, self._last_lane, self._new_lane):
                    if lane is not None:
                        with anyio.CancelScope(shield=True):
                            await anyio.to_thread.run_sync(lane.stop)

    # ---- endpoints ----------------------------------------------------------------------------------

    async def _collection_endpoint(self, request: Request) -> Response:
        method = _effective_method(request)
        if is_draft_request(request):
            return await self.draft.collection(request, method)
        try:
            check_duplicates(request.headers)
            if method == "OPTIONS":
                return self._options()
            _check_version(request)
            if method == "POST":
                return await self._create(request)
            raise errors.METHOD_NOT_ALLOWED(f"{method} is not allowed on {self.config.base_path}")
        except TusError as error:
            return error.response(self._base_headers())

    async def _upload_endpoint(self, request: Request) -> Response:
        method = _effective_method(request)
        upload_id = request.path_params["upload_id"]
        if is_draft_request(request):
            return await self.draft.upload(request, method, upload_id)
        try:
            check_duplicates(request.headers)
            if method == "OPTIONS":
                return self._options()
            _check_version(request)
            info = self._load(upload_id)
            if self.check_access is not None:
                await self.check_access(request, info)  # before anything else is said about the upload
            if info.protocol != "tus":
                raise errors.WRONG_PROTOCOL(
                    "this upload was created with the resumable-upload draft; continue it with that protocol"
                )
            if method == "HEAD":
                return self._head(self._load(upload_id) if await self.locks.settled(upload_id) else info)
            if method == "PATCH":
                return await self._patch(request, info)
            if method == "DELETE" and "termination" in self.extensions:
                return await self._terminate(info)
            raise errors.METHOD_NOT_ALLOWED(f"{method} is not allowed on an upload")
        except TusError as error:
            return error.response(self._base_headers())

    # ---- OPTIONS, HEAD ------------------------------------------------------------------------------

    def _base_headers(self) -> dict[str, str]:
        return {"Tus-Resumable": TUS_VERSION}

    def _options(self) -> Response:
        return Response(
            status_code=204,
            headers={
                "Tus-Resumable": TUS_VERSION,
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": ",".join(self.extensions),
                "Tus-Max-Size": str(self.config.max_size),
                "Tus-Checksum-Algorithm": ",".join(ALGORITHMS),
            },
        )

    def _load(self, upload_id: str) -> UploadInfo:
        info = self.store.load(upload_id) if is_valid_upload_id(upload_id) else None
        if info is None:
            raise errors.NOT_FOUND("no upload has this id (it may have been terminated or swept after expiry)")
        if not info.finished and info.is_expired():
            raise errors.EXPIRED(f"this upload expired at {info.expires_at:%Y-%m-%dT%H:%M:%SZ} and will be removed")
        return info

    def _upload_headers(self, info: UploadInfo) -> dict[str, str]:
        headers = {**self._base_headers(), **info.extra_headers, "Upload-Offset": str(info.offset)}
        if info.expires_at is not None and not info.finished:
            headers["Upload-Expires"] = format_datetime(info.expires_at, usegmt=True)
        return headers

    def _head(self, info: UploadInfo) -> Response:
        headers = self._upload_headers(info)
        headers["Cache-Control"] = "no-store"
        if info.length is None:
            headers["Upload-Defer-Length"] = "1"
        else:
            headers["Upload-Length"] = str(info.length)
        if info.metadata:
            headers["Upload-Metadata"] = encode_metadata(info.metadata)
        if info.concat == "partial":
            headers["Upload-Concat"] = "partial"
        elif info.concat == "final":
            headers["Upload-Concat"] = "final;" + " ".join(f"{self.config.base_path}/{part}" for part in info.parts)
        return Response(status_code=200, headers=headers)

    # ---- creation -----------------------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        concat = request.headers.get("upload-concat")
        if concat is not None and "concatenation" not in self.extensions:
            raise errors.UNSUPPORTED_EXTENSION("this server's upload store cannot concatenate uploads")
        if concat is not None and concat.strip().startswith("final"):
            return await self._create_final(request, concat)
        if concat is not None and concat.strip() != "partial":
            raise errors.INVALID_CONCAT("expected 'partial' or 'final;<url> <url> ...'")

        length = parse_size(request.headers.get("upload-length"), "Upload-Length")
        defer = request.headers.get("upload-defer-length")
        if defer is not None and defer.strip() != "1":
            raise errors.invalid_header("Upload-Defer-Length", "Upload-Defer-Length must be 1")
        if defer is not None and "creation-defer-length" not in self.extensions:
            raise errors.UNSUPPORTED_EXTENSION("this server's upload store needs Upload-Length at creation")
        if length is None and defer is None:
            raise errors.MISSING_UPLOAD_LENGTH("send Upload-Length, or Upload-Defer-Length: 1 to give it later")
        if length is not None and defer is not None:
            raise errors.CONFLICTING_HEADERS("send either Upload-Length or Upload-Defer-Length, not both")
        self._check_max_size(length)

        info = self._new_info(request, length, concat="partial" if concat is not None else None)
        has_body = request.headers.get("content-type", "").split(";")[0].strip().lower() == OFFSET_CONTENT_TYPE
        content_length = parse_size(request.headers.get("content-length"), "Content-Length")
        if has_body and content_length and length is not None and content_length > length:
            raise errors.BODY_EXCEEDS_LENGTH(f"the body has {content_length} bytes but Upload-Length is {length}")
        await self._run_create_hook(info, request)
        location = self._location(request, info.id)
        recorder = self.store if isinstance(self.store, CompletionRecorder) else None
        if has_body and recorder is not None and length and content_length == length <= SMALL_BODY:
            if not info.is_partial:
                return await self._create_small(request, info, recorder, location)
        await self._store_new(info)

        if not has_body:
            if info.is_complete and not info.is_partial:  # an empty file is complete at creation
                await self._finish(info, UploadDigests(with_md5=self.wants_md5(info)))
            return Response(status_code=201, headers={**self._upload_headers(info), "Location": location})
        async with self.locks.hold(info.id) as lock:
            outcome = await self._receive(request, info, lock, parse_checksum(request.headers.get("upload-checksum")))
        headers = {**self._upload_headers(info), "Location": location}
        if outcome.error is not None:
            return outcome.error.response(headers)
        return Response(status_code=201, headers=headers)

    async def _create_small(
        self, request: Request, info: UploadInfo, recorder: CompletionRecorder, location: str
    ) -> Response:
        """A creation-with-upload whose small body is the whole upload: received whole, then data and info (with
        the digests) written in one worker call, each once (`create_completed`). A body that does not arrive
        whole or does not match its checksum is handled as any creation with a body: the upload is created and
        the body appended (or refused) through the streaming path."""
        assert info.length is not None
        expected = parse_checksum(request.headers.get("upload-checksum"))
        async with self.locks.hold(info.id) as lock:
            await self.budget.take(info.length)
            try:
                small = await _read_small(request, lock, info.length)
                if small.whole and (expected is None or _matches(expected, small.chunks)):
                    await self._store_completed(info, small.chunks, recorder)
                    return Response(status_code=201, headers={**self._upload_headers(info), "Location": location})
            finally:
                self.budget.give(info.length, gathered=True)
            await self._store_new(info)
            digests = UploadDigests(with_md5=self.wants_md5(info))
            body = _replay(small.chunks, small.disconnected)
            outcome = await self._append_stream(
                body, small.taken_over, info, lock, expected, digests, info.length, info.length
            )
        headers = {**self._upload_headers(info), "Location": location}
        if outcome.error is not None:
            return outcome.error.response(headers)
        return Response(status_code=201, headers=headers)

    async def _store_completed(self, info: UploadInfo, parts: list[bytes], recorder: CompletionRecorder) -> None:
        """Store a new upload with all its bytes and digests, then hand it on (`_finish`): in a batch through the
        lane where the store and the hook can (`_create_many`), else in a worker call of its own. The digests of
        at most 64 KiB are computed here, on the event loop, once for either way."""
        digests = UploadDigests(with_md5=self.wants_md5(info))
        digests.update_now(parts)
        done = replace(info, offset=info.length or 0, expires_at=utcnow() + self.config.expiry)
        done.sha256, done.md5 = digests.sha256.hexdigest(), digests.md5.hexdigest() if digests.md5 else None
        if self._whole_lane is not None and info.expected_sha256 in (None, done.sha256):
            await self._create_in_lane(info, parts, done)  # a mismatch goes below, refused by `_finish` as ever
            return

        def store() -> _HandedOn | None:
            recorder.create_completed(done, parts)
            return self._hand_on_here(done)

        try:
            handed_on = await anyio.to_thread.run_sync(store)
        except OSError as exc:
            await self._remove(info.id)
            await self._abandon_quietly(info)
            raise storage_error(exc) from exc
        _adopt(info, done)
        if handed_on is None:
            await self._finish(info, digests)
        else:
            self._handed_on(info, handed_on)

    async def _create_in_lane(self, info: UploadInfo, parts: list[bytes], done: UploadInfo) -> None:
        assert self._whole_lane is not None
        created = await self._whole_lane.run((done, parts))
        if created.stored is not None:
            self.digests.discard(info.id)  # the lane removed what it had written
            await self._abandon_quietly(info)
            raise storage_error(created.stored)
        self._handed_on_from_lane(info, done, created)

    def _create_many(self, batch: list[tuple[UploadInfo, list[bytes]]]) -> list[_Created]:
        """The lane's work (blocking): store every small creation-with-upload of the batch (two syncs for all),
        hand the stored ones to the hook at once (`BlockingCompletion.complete_many`), mark each finished."""
        assert isinstance(self.store, BatchCreator) and isinstance(self.on_complete, BlockingCompletion)
        assert self.on_complete.complete_many is not None
        return self._hand_on_stored([info for info, _ in batch], self.store.create_completed_many(batch))

    def _append_last_many(self, batch: list[tuple[UploadInfo, int, list[bytes]]]) -> list[_Created]:
        """The lane's work (blocking): append the last bytes of every upload of the batch and record it complete
        (two syncs for all), hand the stored ones to the hook at once, mark each finished."""
        assert isinstance(self.store, BatchCreator)
        return self._hand_on_stored([info for info, _, _ in batch], self.store.append_completed_many(batch))

    def _hand_on_stored(self, infos: list[UploadInfo], stored: list[OSError | None]) -> list[_Created]:
        """The uploads of a lane's batch that the store kept, handed on together; each upload's outcome."""
        kept = iter(self._hand_on_many([info for info, error in zip(infos, stored, strict=True) if error is None]))
        return [_Created(error, None if error is not None else next(kept)) for error in stored]

    def _handed_on_from_lane(self, info: UploadInfo, done: UploadInfo, outcome: _Created) -> None:
        """On the event loop, after a lane stored and handed on `done`: `info` becomes it, a failure is answered."""
        _adopt(info, done)
        assert outcome.handed_on is not None
        self._handed_on(info, outcome.handed_on)

    def _create_new_many(self, infos: list[UploadInfo]) -> list[OSError | None]:
        """The creation lane's work (blocking): new uploads stored together (`BatchCreator.create_many`)."""
        assert isinstance(self.store, BatchCreator)
        return self.store.create_many(infos)

    def _hand_on_many(self, infos: list[UploadInfo]) -> list[_HandedOn]:
        """The hand-on lane's work (blocking): completed uploads handed to the hook at once
        (`BlockingCompletion.complete_many`), then each marked finished."""
        assert isinstance(self.on_complete, BlockingCompletion) and self.on_complete.complete_many is not None
        failures = self.on_complete.complete_many([CompletedUpload(info, self.store) for info in infos])
        return [
            _HandedOn(failed, False) if failed is not None else self._marked(info)
            for info, failed in zip(infos, failures, strict=True)
        ]

    def _check_max_size(self, length: int | None) -> None:
        if length is not None and length > self.config.max_size:
            raise errors.TOO_LARGE(f"Upload-Length {length} exceeds Tus-Max-Size {self.config.max_size}")

    def _new_info(
        self, request: Request, length: int | None, *, concat: ConcatKind | None, parts: list[str] | None = None
    ) -> UploadInfo:
        return UploadInfo(
            id=uuid.uuid4().hex,
            length=length,
            metadata=parse_metadata(request.headers.get("upload-metadata")),
            expires_at=utcnow() + self.config.expiry,
            concat=concat,
            parts=parts or [],
        )

    async def _store_new(self, info: UploadInfo) -> None:
        """Create the upload in the store: with the others created at the same time where the store can make
        them durable together (a lane), else in a worker call of its own."""
        try:
            if self._new_lane is not None:
                error = await self._new_lane.run(info)
                if error is not None:
                    raise error
            else:
                await anyio.to_thread.run_sync(self.store.create, info)
        except OSError as exc:
            await self._remove(info.id)
            await self._abandon_quietly(info)
            raise storage_error(exc) from exc

    async def _abandon_quietly(self, info: UploadInfo) -> None:
        """Run `on_abandon` where its failure must not change the answer (a full disk fails it too): the
        hook's owner repairs what it could not record (fabric's reconcile abandons artifacts without upload)."""
        if self.on_abandon is None:
            return
        try:
            await self.on_abandon(info)
        except Exception:
            log.exception("abandon hook failed for upload %s", info.id)

    async def _remove(self, upload_id: str) -> None:
        """Remove an upload, where the store can; a store that cannot leaves it to its own expiry."""
        if isinstance(self.store, Terminator):
            await anyio.to_thread.run_sync(self.store.terminate, upload_id)
        self.digests.discard(upload_id)

    async def _run_create_hook(self, info: UploadInfo, request: Request) -> None:
        if self.on_create is not None:
            info.extra_headers = dict(await self.on_create(info, request) or {})

    def _location(self, request: Request, upload_id: str) -> str:
        return str(request.base_url).rstrip("/") + f"{self.config.base_path}/{upload_id}"

    async def _create_final(self, request: Request, concat: str) -> Response:
        if request.headers.get("upload-length") is not None or request.headers.get("upload-defer-length") is not None:
            raise errors.UPLOAD_LENGTH_NOT_ALLOWED("a final upload's length is the sum of its partial uploads")
        urls = concat.strip()[len("final") :].lstrip(";").split()
        if not urls:
            raise errors.INVALID_CONCAT("a final upload names at least one partial upload")
        parts = [await self._partial_for_concat(request, url) for url in urls]
        length = sum(part.length or 0 for part in parts)
        if length > self.config.max_size:
            raise errors.TOO_LARGE(f"the partial uploads add up to {length} bytes, over Tus-Max-Size")
        info = self._new_info(request, length, concat="final", parts=[part.id for part in parts])
        await self._run_create_hook(info, request)
        await self._store_new(info)
        assert isinstance(self.store, Concatenator)  # checked before: "concatenation" is in the extensions
        async with self.locks.hold(info.id):
            try:
                await anyio.to_thread.run_sync(self.store.concatenate, info, parts)
            except OSError as exc:
                await self._remove(info.id)
                raise storage_error(exc) from exc
            info.offset = length
            await self._finish(info, None)
        return Response(
            status_code=201, headers={**self._upload_headers(info), "Location": self._location(request, info.id)}
        )

    async def _partial_for_concat(self, request: Request, url: str) -> UploadInfo:
        """A partial upload named by a final one: only one the caller may write, else the answer HEAD would give."""
        path = urlsplit(url).path.rstrip("/")
        prefix = self.config.base_path.rstrip("/") + "/"
        info = self._load(path[len(prefix) :] if path.startswith(prefix) else "")
        if self.check_access is not None:
            await self.check_access(request, info)
        if not info.is_partial:
            raise errors.NOT_PARTIAL(f"{url!r} was not created with Upload-Concat: partial")
        if not info.is_complete:
            raise errors.PARTIAL_UNFINISHED(f"{url!r} has {info.offset} of {info.length} bytes; finish it first")
        return info

    # ---- PATCH --------------------------------------------------------------------------------------

    async def _patch(self, request: Request, info: UploadInfo) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != OFFSET_CONTENT_TYPE:
            raise errors.UNSUPPORTED_CONTENT_TYPE(f"PATCH bodies must be {OFFSET_CONTENT_TYPE}")
        offset = parse_size(request.headers.get("upload-offset"), "Upload-Offset")
        if offset is None:
            raise errors.MISSING_UPLOAD_OFFSET("a PATCH must say at which offset its bytes belong")
        new_length = parse_size(request.headers.get("upload-length"), "Upload-Length")
        parse_checksum(request.headers.get("upload-checksum"))  # a bad header is a 400 before anything is read

        async with self.locks.hold(info.id) as lock:
            info = self._load(info.id)  # what the previous holder left
            if info.concat == "final":
                raise errors.FINAL_UPLOAD("a final upload is assembled from its partial uploads and takes no PATCH")
            if offset != info.offset:
                raise errors.MISMATCHED_OFFSET(
                    f"Upload-Offset is {offset} but the upload is at {info.offset}; HEAD for the offset",
                    headers=self._upload_headers(info),
                )
            if new_length is not None:
                await self._declare_length(info, new_length)
            if info.is_complete and info.finished:
                if parse_size(request.headers.get("content-length"), "Content-Length"):
                    raise errors.ALREADY_COMPLETE("this upload has all its bytes")
                return Response(status_code=204, headers=self._upload_headers(info))
            outcome = await self._receive(request, info, lock, parse_checksum(request.headers.get("upload-checksum")))
            if outcome.error is not None:
                outcome.error.headers.update(self._upload_headers(info))
                raise outcome.error
            return Response(status_code=204, headers=self._upload_headers(info))

    async def _declare_length(self, info: UploadInfo, length: int) -> None:
        """Set the length of an upload created with a deferred one (the same length again is fine)."""
        if info.length is not None:
            if length != info.length:
                raise errors.LENGTH_ALREADY_SET(f"this upload's length is {info.length}")
            return
        self._check_max_size(length)
        if length < info.offset:
            raise errors.LENGTH_TOO_SMALL(f"{info.offset} bytes were already received")
        assert isinstance(self.store, LengthDeferrer)  # an upload without a length exists only on such a store
        try:
            await anyio.to_thread.run_sync(self.store.declare_length, info, length)
        except OSError as exc:
            info.length = None
            raise storage_error(exc) from exc

    async def _receive(
        self, request: Request, info: UploadInfo, lock: HeldLock, expected: ExpectedChecksum | None
    ) -> Received:
        """Append the request body at `info.offset`, make it durable, update `info`, and complete the upload
        once it has all its bytes. `expected` is the checksum the whole body must have (else none is kept).
        Shared by both protocols."""
        limit = (info.length if info.length is not None else self.config.max_size) - info.offset
        content_length = parse_size(request.headers.get("content-length"), "Content-Length")
        if content_length is not None and content_length > limit:
            what = "Upload-Length" if info.length is not None else "Tus-Max-Size"
            raise errors.BODY_TOO_LARGE(f"{content_length} bytes at offset {info.offset} would pass {what}")
        digests = None if info.is_partial else await self._digests_at(info)
        body: AsyncIterator[bytes] = request.stream()
        taken_over = False
        into: BodyInto | None = None
        fill = request.scope.get("extensions", {}).get(BODY_INTO)
        if content_length is not None and content_length > SMALL_BODY and fill is not None:
            into = BodyInto(fill, request.receive, content_length)  # read straight into blocks by the server
        if content_length is not None and 0 < content_length <= SMALL_BODY:
            await self.budget.take(content_length)
            try:
                small = await _read_small(request, lock, content_length)
                if small.whole:
                    return await self._append_small(info, small.chunks, digests, expected)
            finally:
                self.budget.give(content_length, gathered=True)
            body, taken_over = _replay(small.chunks, small.disconnected), small.taken_over
        return await self._append_stream(body, taken_over, info, lock, expected, digests, limit, content_length, into)

    async def _append_small(
        self, info: UploadInfo, parts: list[bytes], digests: UploadDigests | None, expected: ExpectedChecksum | None
    ) -> Received:
        """Append a whole small body in one worker call: write, fdatasync, record the offset (and, when this
        completes the upload on a `CompletionRecorder`, its digests in the same write), instead of a hop per
        step through the lanes. The durability order is the streaming path's: bytes synced before the offset
        that covers them is recorded. A failed write or sync keeps none of the body (the offset stays)."""
        if digests is not None:
            await digests.settle()
        start, size = info.offset, sum(len(part) for part in parts)
        if digests is not None and self._last_lane is not None and info.length == start + size and not info.is_partial:
            completing = await self._append_last_in_lane(info, parts, digests, expected)
            if completing is not None:
                return completing
        recorder = self.store if isinstance(self.store, CompletionRecorder) else None

        def append() -> tuple[UploadInfo | None, TusError | None, _HandedOn | None]:
            if expected is not None and not _matches(expected, parts):
                return None, _checksum_mismatch(expected), None
            writer = self.store.writer(info.id, start)
            try:
                try:
                    writer.write(parts)
                    writer.sync()
                except OSError as exc:
                    with suppress(OSError):
                        writer.truncate(start)
                    return None, storage_error(exc), None
                if digests is not None:
                    digests.update_now(parts)
                done = replace(info, offset=start + size, expires_at=utcnow() + self.config.expiry)
                completes = done.is_complete and not done.is_partial and digests is not None
                if completes and recorder is not None:
                    assert digests is not None
                    sha256 = digests.sha256.hexdigest()
                    if done.expected_sha256 in (None, sha256):  # a mismatch is refused by `_finish`, unrecorded
                        done.sha256, done.md5 = sha256, digests.md5.hexdigest() if digests.md5 else None
                try:
                    if done.sha256 is not None and recorder is not None:
                        recorder.record_completion(done)
                    else:
                        self.store.save(done)
                        if done.is_complete and done.is_partial:
                            self.store.finish(done)
                except OSError as exc:
                    with suppress(OSError):
                        writer.truncate(start)
                    return None, storage_error(exc, f"could not record the offset: {exc}"), None
            finally:
                writer.close()
            if done.sha256 is None:
                return done, None, None
            return done, None, self._hand_on_here(done)

        try:
            done, error, handed_on = await anyio.to_thread.run_sync(append)
        except OSError as exc:
            raise storage_error(exc) from exc
        if done is None:
            if digests is not None and digests.offset == start:
                self.digests.put(info.id, digests)  # untouched: still the upload's digests
            return Received(error, False)
        _adopt(info, done)
        if handed_on is not None:
            self._handed_on(info, handed_on)
        elif info.is_complete and not info.is_partial:
            if digests is not None:
                self.digests.put(info.id, digests)
            await self._finish(info, digests)
        elif digests is not None:
            self.digests.put(info.id, digests)
        return Received(None, True)

    async def _append_last_in_lane(
        self, info: UploadInfo, parts: list[bytes], digests: UploadDigests, expected: ExpectedChecksum | None
    ) -> Received | None:
        """The body that completes a small upload, appended, recorded and handed on in a batch through the lane
        (as a small creation-with-upload is): its checksum and digests computed here, on the event loop (at most
        64 KiB), so that only bytes to keep enter the batch. None (nothing done) for bytes whose sha-256 is not
        the one the client gave: the worker call refuses those as ever."""
        assert self._last_lane is not None
        if expected is not None and not _matches(expected, parts):
            self.digests.put(info.id, digests)  # untouched: still the upload's digests
            return Received(_checksum_mismatch(expected), False)
        if info.expected_sha256 is not None:
            sha256 = digests.sha256.copy()
            for part in parts:
                sha256.update(part)
            if sha256.hexdigest() != info.expected_sha256:
                return None
        start = info.offset
        digests.update_now(parts)
        done = replace(info, offset=info.length or 0, expires_at=utcnow() + self.config.expiry)
        done.sha256, done.md5 = digests.sha256.hexdigest(), digests.md5.hexdigest() if digests.md5 else None
        appended = await self._last_lane.run((done, start, parts))
        if appended.stored is not None:  # the upload is as it was; its digests are recomputed when next needed
            return Received(storage_error(appended.stored), False)
        self._handed_on_from_lane(info, done, appended)
        return Received(None, True)

    async def _append_stream(
        self,
        body: AsyncIterator[bytes],
        taken_over: bool,
        info: UploadInfo,
        lock: HeldLock,
        expected: ExpectedChecksum | None,
        digests: UploadDigests | None,
        limit: int,
        content_length: int | None,
        into: BodyInto | None = None,
    ) -> Received:
        """Append a body of any size as it arrives: blocks written on a lane, hashed on others, checkpointed.
        `content_length` (when the request has one) lets a streaming store size its objects. With `into` the
        server reads the body straight into the writer's blocks instead of `body`."""
        before = await digests.snapshot() if (digests is not None and expected is not None) else None
        checksum = expected.new_digest() if expected is not None else None
        try:
            target = await anyio.to_thread.run_sync(self.store.writer, info.id, info.offset)
        except OSError as exc:
            raise storage_error(exc) from exc
        writer = BodyWriter(target, info.offset, digests, checksum, self.budget, content_length)

        outcome: TusError | None = None
        next_checkpoint = self.config.checkpoint_bytes
        received = 0
        cut_short = False
        try:
            chunks: AsyncIterator[bytes | Block] = body if into is None else writer.blocks(into)
            with lock.receiving() as scope:
                async for chunk in chunks:
                    if received + len(chunk) > limit:
                        await writer.feed(prefix(chunk, limit - received))
                        received = limit
                        outcome = errors.BODY_TOO_LARGE(
                            f"the body goes past the upload's length {info.length}; the bytes up to it were kept"
                        )
                        break
                    received += len(chunk)
                    await writer.feed(chunk)
                    if expected is None and writer.dispatched >= next_checkpoint and not writer.checkpoint_running():
                        next_checkpoint = writer.dispatched + self.config.checkpoint_bytes
                        writer.start_checkpoint(lambda offset: self.store.save(replace(info, offset=offset)))
            if scope.cancelled_caught or taken_over:
                cut_short = True
                outcome = errors.TAKEN_OVER("a newer request for this upload stopped this one; HEAD for the offset")
        except ClientDisconnect:
            cut_short = True
        except DiskFull:
            pass  # reported below, once what was written is accounted for
        try:
            await writer.finish()
        except OSError as exc:
            outcome = storage_error(exc, _KEPT_WHAT_FITTED if is_disk_full(exc) else None)
        if writer.failed:
            digests = None
        info.offset = writer.durable  # what checkpoints recorded

        try:
            try:
                if (
                    expected is not None
                    and checksum is not None
                    and (cut_short or outcome is not None or checksum.digest() != expected.digest)
                ):
                    # The checksum covers the whole body: without all of it, or with a mismatch, nothing is kept.
                    await writer.truncate(writer.start)
                    if before is not None:
                        self.digests.put(info.id, before)
                    if not cut_short and outcome is None:
                        outcome = _checksum_mismatch(expected)
                    return Received(outcome, False)
                kept = await writer.sync()
            except OSError as exc:
                await writer.truncate(info.offset)
                self.digests.discard(info.id)
                return Received(storage_error(exc), False)

            try:
                await self._record_offset(info, writer, kept, info.offset)
            except OSError as exc:
                self.digests.discard(info.id)
                return Received(storage_error(exc, f"could not record the offset: {exc}"), False)
        finally:
            writer.close()
        if kept != writer.start + writer.written:
            digests = None  # they covered bytes of an object cut short that the store dropped
        elif info.offset != kept:
            digests = None  # the tail given up to make room is no longer covered
            outcome = errors.INSUFFICIENT_STORAGE(_KEPT_WHAT_FITTED)
        if digests is not None:
            self.digests.put(info.id, digests)
        if info.is_complete and info.is_partial:
            await anyio.to_thread.run_sync(self.store.finish, info)
        elif info.is_complete:
            await self._finish(info, digests)
        return Received(outcome, outcome is None and not cut_short)

    async def _record_offset(self, info: UploadInfo, writer: BodyWriter, offset: int, previous: int) -> None:
        """Save `offset` (already durable) in the info file, or leave `info` at `previous` if that fails.

        On a full disk the info file may have no room to be rewritten; a little of the tail just written is
        then given back to make room, so a full disk costs the client at most that tail, never the request.
        """
        info.expires_at = utcnow() + self.config.expiry
        for attempt in (offset, max(previous, offset - ROOM_FOR_INFO)):
            info.offset = attempt
            try:
                if attempt != offset:
                    await writer.truncate(attempt)
                await anyio.to_thread.run_sync(self.store.save, info)
                return
            except OSError as exc:
                info.offset = previous
                if not is_disk_full(exc) or attempt == previous:
                    raise
        raise OSError(errno.ENOSPC, "No space left on device")

    async def _digests_at(self, info: UploadInfo) -> UploadDigests | None:
        """The running digests at the upload's offset; None if this process cannot rebuild them (a store whose
        unfinished bytes cannot be read back, such as S3): completion then hashes the finished bytes once."""
        digests = self.digests.take(info.id, info.offset)
        if digests is None and info.offset == 0:
            return UploadDigests(with_md5=self.wants_md5(info))  # nothing to read back
        if digests is None:
            try:
                digests = await self._read_digests(info)
            except TusError as error:
                if isinstance(error.__cause__, UnreadableUntilFinished):
                    return None
                raise
        return digests

    async def _read_digests(self, info: UploadInfo) -> UploadDigests:
        """The digests of the upload's recorded bytes, read back from the store."""

        def read() -> UploadDigests:
            return UploadDigests.of_blocks(self.store.read(info.id, info.offset), self.wants_md5(info))

        try:
            return await anyio.to_thread.run_sync(read)
        except OSError as exc:
            raise storage_error(exc) from exc

    def wants_md5(self, info: UploadInfo) -> bool:
        """Whether the upload's md5 is computed: for every upload with `TusConfig.md5`, else only when the
        client asked for it with the metadata key `md5` (any value, or none)."""
        return self.config.md5 or MD5_METADATA_KEY in info.metadata

    # ---- completion ---------------------------------------------------------------------------------

    async def _finish(self, info: UploadInfo, digests: UploadDigests | None) -> None:
        """Let the store finish the bytes, record the digests, then hand the upload to `on_complete`.
        Safe to repeat after a crash."""
        if info.sha256 is None:
            await anyio.to_thread.run_sync(self.store.finish, info)
            if digests is None or digests.offset != info.offset:
                digests = await self._read_digests(info)
            info.sha256, info.md5 = await digests.hexdigests()
            await self._check_expected_digest(info)
            await anyio.to_thread.run_sync(self.store.save, info)
        self.digests.discard(info.id)
        if isinstance(self.on_complete, BlockingCompletion):
            self._handed_on(info, await anyio.to_thread.run_sync(self._hand_on_blocking, info))
            return
        if self.on_complete is not None:
            try:
                await self.on_complete(CompletedUpload(info, self.store))
            except Exception as exc:
                raise _completion_failed(info, exc) from exc
        await anyio.to_thread.run_sync(self._mark_finished, info)

    def _mark_finished(self, info: UploadInfo) -> None:
        """Record that the hook has run (blocking)."""
        info.finished = True
        if isinstance(self.store, FinishMarker):  # a mark the hook's repeat makes up for if a crash loses it
            self.store.mark_finished(info)
            return
        info.expires_at = utcnow() + self.config.expiry  # how long the finished upload stays answerable to HEAD
        self.store.save(info)

    def _hand_on_here(self, done: UploadInfo) -> _HandedOn | None:
        """In the worker call that just recorded a completed upload's digests: run a `BlockingCompletion` hook
        and the finish mark right there (blocking). None where the upload goes through `_finish` instead: a
        hook that must be awaited, a partial upload, or bytes whose sha-256 is not the one the client gave."""
        if not isinstance(self.on_complete, BlockingCompletion) or done.is_partial or done.sha256 is None:
            return None
        if done.expected_sha256 not in (None, done.sha256):
            return None
        return self._hand_on_blocking(done)

    def _hand_on_blocking(self, info: UploadInfo) -> _HandedOn:
        """The blocking hook, then the finish mark; what failed is returned, for the event loop to answer."""
        assert isinstance(self.on_complete, BlockingCompletion)
        try:
            self.on_complete.complete(CompletedUpload(info, self.store))
        except Exception as exc:
            return _HandedOn(exc, False)
        return self._marked(info)

    def _marked(self, info: UploadInfo) -> _HandedOn:
        """The finish mark after a hook that ran (blocking)."""
        try:
            self._mark_finished(info)
        except OSError as exc:
            return _HandedOn(exc, True)
        return _HandedOn(None, True)

    def _handed_on(self, info: UploadInfo, outcome: _HandedOn) -> None:
        """On the event loop, after `_hand_on_blocking`: the upload's digests forgotten, a failure answered."""
        info.finished = outcome.finished
        self.digests.discard(info.id)
        if outcome.error is not None:
            raise _completion_failed(info, outcome.error) from outcome.error

    async def _check_expected_digest(self, info: UploadInfo) -> None:
        """An upload whose bytes are not what the client said they are (a Repr-Digest) is removed, not handed on."""
        if info.expected_sha256 is None or info.expected_sha256 == info.sha256:
            return
        await self._remove(info.id)
        await self._abandon_quietly(info)
        raise errors.DIGEST_MISMATCH("the upload's sha-256 is not the one the client gave; the upload was removed")

    # ---- termination, expiry, recovery --------------------------------------------------------------

    async def _terminate(self, info: UploadInfo) -> Response:
        async with self.locks.hold(info.id):
            await self._remove(info.id)
        if not info.finished and self.on_abandon is not None:
            await self.on_abandon(info)
        return Response(status_code=204, headers=self._base_headers())

    async def sweep(self, now: datetime | None = None) -> int:
        """Remove every expired upload not in use; returns how many were removed (none if the store cannot
        remove uploads: then it keeps to an expiry of its own)."""
        removed = 0
        if not isinstance(self.store, Terminator):
            return removed
        for upload_id in await anyio.to_thread.run_sync(lambda: list(self.store.ids())):
            info = self.store.load(upload_id)
            if info is None or not info.is_expired(now) or await self.locks.is_busy(upload_id):
                continue
            await self._remove(upload_id)
            removed += 1
            if not info.finished:
                await self._abandon_quietly(info)
        return removed

    async def _sweep_forever(self) -> None:
        while True:
            await anyio.sleep(self.config.sweep_interval)
            try:
                if self.sweep_lease is not None and not await anyio.to_thread.run_sync(self.sweep_lease):
                    continue  # another process sharing the store sweeps it
                removed = await self.sweep()
                if removed:
                    log.info("swept %d expired uploads", removed)
            except Exception:
                log.exception("upload sweep failed")

    async def recover(self) -> None:
        """After a crash: cut every upload back to its durable offset and complete those that had all their bytes."""
        for info in await anyio.to_thread.run_sync(self.store.recover):
            if info.is_complete and not info.is_partial and not info.finished:
                try:
                    await self._finish(info, None)
                    log.info("completed upload %s at start-up", info.id)
                except Exception:
                    log.exception("could not complete upload %s at start-up", info.id)


@dataclass(slots=True)
class _SmallBody:
    chunks: list[bytes]
    whole: bool  # every announced byte arrived, the request was neither cut off nor taken over
    disconnected: bool
    taken_over: bool


async def _read_small(request: Request, lock: HeldLock, size: int) -> _SmallBody:
    """Receive a body of `size` bytes (at most `SMALL_BODY`) into memory, within the lock's receiving scope."""
    chunks: list[bytes] = []
    received = 0
    disconnected = False
    with lock.receiving() as scope:
        try:
            async for chunk in request.stream():
                if chunk:
                    chunks.append(chunk)
                    received += len(chunk)
        except ClientDisconnect:
            disconnected = True
    taken_over = scope.cancelled_caught
    return _SmallBody(chunks, received == size and not disconnected and not taken_over, disconnected, taken_over)


def _checksum_mismatch(expected: ExpectedChecksum) -> TusError:
    return errors.CHECKSUM_MISMATCH(
        f"the body's {expected.algorithm} does not match {expected.field}; it was discarded"
    )


def _matches(expected: ExpectedChecksum, parts: list[bytes]) -> bool:
    checksum = expected.new_digest()
    for part in parts:
        checksum.update(part)
    return checksum.digest() == expected.digest


async def _replay(chunks: list[bytes], disconnected: bool) -> AsyncIterator[bytes]:
    """A small body that did not arrive whole, fed to the streaming path as it came (then the disconnect)."""
    for chunk in chunks:
        yield chunk
    if disconnected:
        raise ClientDisconnect()


def completes_at_creation(request: Request, info: UploadInfo) -> bool:
    """Whether a tus creation request carries every byte of its new upload (creation-with-upload with a body as
    long as `Upload-Length`, or an empty upload): `on_complete` then runs within this request unless the body is
    cut short or refused, so a creation hook may leave work to it (fabric writes its artifact once, not twice).
    The hooks must still cope with an upload whose completion comes later, by PATCH, or never (abandoned)."""
    if is_draft_request(request) or info.length is None or info.is_partial:
        return False
    if info.length == 0:
        return True
    has_body = request.headers.get("content-type", "").split(";")[0].strip().lower() == OFFSET_CONTENT_TYPE
    return has_body and request.headers.get("content-length") == str(info.length)


def _effective_method(request: Request) -> str:
    """`X-HTTP-Method-Override` on a POST stands for the method a restrictive environment cannot send."""
    override = request.headers.get("x-http-method-override")
    if request.method == "POST" and override:
        return override.strip().upper()
    return request.method


def _check_version(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise errors.UNSUPPORTED_VERSION(f"send Tus-Resumable: {TUS_VERSION}", headers={"Tus-Version": TUS_VERSION})


def _extensions(store: UploadStore) -> list[str]:
    """The tus extensions this server offers over `store`: those the store's capabilities allow."""
    needs: dict[str, type | None] = {
        "creation": None,
        "creation-with-upload": None,
        "creation-defer-length": LengthDeferrer,
        "expiration": Terminator,
        "checksum": None,
        "termination": Terminator,
        "concatenation": Concatenator,
    }
    return [name for name, capability in needs.items() if capability is None or isinstance(store, capability)]
