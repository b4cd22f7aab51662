"""Request bodies handed to the app chunk by chunk as httptools parsed them, without uvicorn's two copies.

uvicorn's httptools protocol appends every body chunk to a `bytearray` (`body += chunk`) and hands the app
`bytes(body)`: two copies of every byte of an upload, about 7 % of the server's CPU on a large PATCH (perf).
This protocol keeps the chunks httptools made (already `bytes`) in a queue and gives them to the app one per
`http.request` message, as they are. Reading pauses as soon as a chunk waits for the app (uvicorn waits for 64 KiB
more, so a connection whose app waits for the upload buffer budget held up to 320 KiB: 80 MB for 256 uploads)
and resumes when the app asks for more and the queue is empty; so a connection holds one socket read at most.

A request with a `Content-Length` body also offers `tus_server.blocks.BODY_INTO` in its scope's extensions: an app
that calls it (the upload append path) has the rest of the body read from the socket straight into its own
page-aligned blocks, with neither httptools' copy nor any other (see `_BodyInto`). The parser is not fed those
bytes: each read is capped at what is left of the body, so it never takes a byte of the next request, and when
the body is complete the message is completed as the parser would and a fresh parser reads the next request.

Whole files are sent with `sendfile` (`fabric.path_send`: the `http.response.pathsend` extension).

Everything else, including `100 Continue`, disconnects, pipelining and the interim responses of
`InterimHttpToolsProtocol`, is uvicorn's (0.54) code path; only `on_body` and the request's `receive` differ.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from fabric import path_send
from fabric.interim_responses import InterimHttpToolsProtocol
from tus_server.blocks import BODY_INTO, Block

READ_SIZE = 256 << 10  # bytes a socket read takes at most (uvloop's own read buffer is as large)
MIN_READ_SIZE = 64 << 10
RAW_READ_SIZE = 1 << 20  # at most per read into a block: its sha256 runs on the loop right after (see receiver)
READS_IN_ALL = 8 << 20  # what the reads of all connections may hold together, while that keeps reads >= 64 KiB
HEAD_READ_SIZE = 16 << 10  # at most per read while a request's head is awaited (see `HttpProtocol.get_buffer`)


def read_size(connections: int) -> int:
    """How much one socket read takes with `connections` open: a connection holds up to two reads (one waiting
    for the app, one the app holds while it waits for the upload buffer budget), so reads shrink as connections
    grow (256 connections: 64 KiB each, 32 MB in all) while one large upload reads 256 KiB at a time."""
    return max(MIN_READ_SIZE, min(READ_SIZE, READS_IN_ALL // max(connections, 1)))


_reads = threading.local()  # the read buffer of each event loop's thread: parsed before the next read


class ServeProtocol(asyncio.BufferedProtocol):
    """The HTTP/1.1 protocol `fabric serve` runs: httptools, interim responses, body chunks without copies.

    It is a buffered protocol: the event loop reads the socket straight into one buffer per thread, which the
    parser reads before the next read (httptools hands out the body as new `bytes`), instead of making a `bytes`
    of every read first (uvloop's copy for `data_received`); and it picks the size of each read (`read_size`).
    uvloop reads into a buffer only for a protocol that is not an `asyncio.Protocol`, which uvicorn's are: so this
    class is a `BufferedProtocol` only and hands everything to the uvicorn-based `HttpProtocol` it holds.
    """

    def __init__(
        self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        self.http = HttpProtocol(config, server_state, app_state, _loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.http.connection_made(transport)  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        self.http.connection_lost(exc)

    def eof_received(self) -> None:
        self.http.eof_received()

    def pause_writing(self) -> None:
        self.http.pause_writing()

    def resume_writing(self) -> None:
        self.http.resume_writing()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.http.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self.http.buffer_updated(nbytes)


class HttpProtocol(InterimHttpToolsProtocol):
    """uvicorn's httptools protocol with interim responses, fed by `ServeProtocol`'s reads, handing bodies over
    chunk by chunk (and, to an app that asks, straight into its blocks)."""

    _body_left: int | None = None  # bytes of the current request's Content-Length body not yet read
    _raw: bool = False  # the rest of the current body is read past the parser (see `_BodyInto`)
    _into: _BodyInto | None = None  # the body being read into an app's block, while it waits for it
    _reading_into: Block | None = None  # where the read `get_buffer` handed out goes (None: the thread's buffer)
    _head_pending: bool = True  # no request's head has been parsed since the last message ended

    def get_buffer(self, sizehint: int) -> memoryview:
        """Where the next socket read goes. While a request's head is awaited a read takes `HEAD_READ_SIZE` at
        most: the body bytes that come with the head are parsed into a chunk that waits for the app (which may
        wait for the upload buffer budget), while the rest of an upload's body is read straight into its blocks;
        so 64 uploads starting together hold 1 MB of such chunks instead of 8."""
        buffer: memoryview | None = getattr(_reads, "buffer", None)
        if buffer is None:
            buffer = _reads.buffer = memoryview(bytearray(READ_SIZE))
        size = read_size(len(self.connections))
        if self._head_pending:
            size = min(size, HEAD_READ_SIZE)
        self._reading_into = None
        if self._raw:
            assert self._body_left is not None
            into = self._into
            if into is not None and into.block.filled < len(into.block.view):
                self._reading_into = into.block
                return into.block.view[into.block.filled :][: min(RAW_READ_SIZE, self._body_left)]
            size = min(size, self._body_left)
        return buffer[:size]

    def buffer_updated(self, nbytes: int) -> None:
        if not self._raw:
            self.data_received(_reads.buffer[:nbytes])  # httptools parses any buffer; what it keeps, it copies
            return
        self._unset_keepalive_if_required()
        assert self._body_left is not None
        self._body_left -= nbytes
        block, self._reading_into = self._reading_into, None
        if block is not None:
            block.received(nbytes)
        else:  # read while no block waits (the app reads with `receive`, or has answered already)
            self._queue_chunk(bytes(_reads.buffer[:nbytes]))
        if not self._body_left:
            self._end_raw_body()
        elif self._into is not None and self._into.block.filled == len(self._into.block.view):
            self.flow.pause_reading()
            self._into.wake()

    def _end_raw_body(self) -> None:
        """The body read past the parser is complete: complete the message as the parser would have, and give
        the next request on this connection a fresh parser."""
        self._raw = False
        self._body_left = None
        self._head_pending = True
        self.parser = httptools.HttpRequestParser(self)
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)  # as uvicorn's own parser
        cycle = self.cycle
        if not cycle.response_complete:
            cycle.more_body = False
            cycle.message_event.set()
        if self._into is not None:
            self._into.wake()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._into is not None:
            self._into.wake()

    def on_headers_complete(self) -> None:
        self._head_pending = False
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is None or cycle is previous:
            return  # an upgrade: uvicorn's own handling
        queue: deque[bytes | memoryview] = deque()  # chunks not yet received by the app
        cycle.body_queue = queue  # type: ignore[attr-defined]
        # The request's task has not run yet: the `receive` it will be given can still change.
        cycle.receive = _receive(cycle, queue)  # type: ignore[method-assign]
        path_send.offer(cycle, self.scope)
        self._body_left = _content_length(self.headers)
        if self._body_left:
            extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
            extensions[BODY_INTO] = _BodyInto(self, cycle, queue).fill

    def on_message_complete(self) -> None:
        self._head_pending = True
        super().on_message_complete()

    def on_body(self, body: bytes) -> None:
        if self._body_left is not None:
            self._body_left -= len(body)
        cycle = self.cycle
        queue: deque[bytes] | None = getattr(cycle, "body_queue", None)
        if queue is None:
            super().on_body(body)
            return
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return
        self._queue_chunk(body)

    def _queue_chunk(self, body: bytes) -> None:
        cycle = self.cycle
        if cycle.response_complete:
            return  # the app answered without reading the rest: dropped, as uvicorn does
        cycle.body_queue.append(body)  # type: ignore[attr-defined]
        self.flow.pause_reading()  # until the app has taken it
        cycle.message_event.set()


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The body length a request announces, or None if it has none or is chunked (llhttp has checked it)."""
    length = None
    for name, value in headers:
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return None
    return length


class _BodyInto:
    """`BODY_INTO` of one request: fills an app's block with the next body bytes, returns once it is full
    (True), or the body ended or the client left (False: `receive` then tells which). Bytes the parser already
    handed out (those of the read that brought the headers) are copied in first; after that the protocol reads
    the socket straight into the block (`get_buffer`), past the parser. A cancelled call stops at once, with
    `block.filled` exact, and the rest of the body is then read as chunks for `receive`."""

    def __init__(self, protocol: HttpProtocol, cycle: RequestResponseCycle, queue: deque[bytes | memoryview]):
        self.protocol = protocol
        self.cycle = cycle
        self.queue = queue
        self.block = Block(memoryview(b""), None)
        self._waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _more(self) -> bool:
        cycle = self.cycle
        return bool(self.queue) or (cycle.more_body and not cycle.disconnected and not cycle.response_complete)

    async def fill(self, block: Block) -> bool:
        cycle, protocol, queue = self.cycle, self.protocol, self.queue
        if cycle.waiting_for_100_continue and not cycle.transport.is_closing():
            cycle.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False
        view = block.view
        while queue and block.filled < len(view):
            chunk = queue[0]
            count = min(len(chunk), len(view) - block.filled)
            view[block.filled : block.filled + count] = chunk[:count]
            block.received(count)
            if count == len(chunk):
                queue.popleft()
            else:
                queue[0] = memoryview(chunk)[count:]
        if block.filled == len(view) or not self._more() or protocol.cycle is not cycle:
            return self._more()
        protocol._raw = True
        self.block = block
        protocol._into = self
        self._waiter = asyncio.get_running_loop().create_future()
        cycle.flow.resume_reading()
        try:
            await self._waiter
        finally:
            self._waiter = None
            protocol._into = None
            if protocol._reading_into is block:
                protocol._reading_into = None  # never happens between get_buffer and buffer_updated; kept safe
            self.block = Block(memoryview(b""), None)
            if protocol._raw:
                cycle.flow.pause_reading()  # the next read waits for the next block (or `receive`)
        return self._more()


def _receive(cycle: RequestResponseCycle, queue: deque[bytes | memoryview]) -> Any:
    async def receive() -> dict[str, Any]:
        if cycle.waiting_for_100_continue and not cycle.transport.is_closing():
            cycle.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False
        if not queue and not cycle.disconnected and not cycle.response_complete:
            cycle.flow.resume_reading()
            await cycle.message_event.wait()
            cycle.message_event.clear()
        if cycle.disconnected or cycle.response_complete:
            return {"type": "http.disconnect"}
        body: bytes = b""
        if queue:
            chunk = queue.popleft()
            body = chunk if isinstance(chunk, bytes) else bytes(chunk)  # a rest left by `BODY_INTO`
            if not queue:
                cycle.message_event.clear()  # everything signalled so far is read: the state below is current
        return {"type": "http.request", "body": body, "more_body": cycle.more_body or bool(queue)}

    return receive
