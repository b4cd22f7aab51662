"""Request bodies handed to the app chunk by chunk as httptools parsed them, without uvicorn's two copies.

uvicorn's httptools protocol appends every body chunk to a `bytearray` (`body += chunk`) and hands the app
`bytes(body)`: two copies of every byte of an upload, about 7 % of the server's CPU on a large PATCH (perf).
This protocol keeps the chunks httptools made (already `bytes`) in a queue and gives them to the app one per
`http.request` message, as they are. Reading pauses as soon as a chunk waits for the app (uvicorn waits for 64 KiB
more, so a connection whose app waits for the upload buffer budget held up to 320 KiB: 80 MB for 256 uploads)
and resumes when the app asks for more and the queue is empty; so a connection holds one socket read at most.

Everything else, including `100 Continue`, disconnects, pipelining and the interim responses of
`InterimHttpToolsProtocol`, is uvicorn's (0.54) code path; only `on_body` and the request's `receive` differ.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from fabric.interim_responses import InterimHttpToolsProtocol

READ_SIZE = 256 << 10  # bytes a socket read takes at most (uvloop's own read buffer is as large)
MIN_READ_SIZE = 64 << 10
READS_IN_ALL = 8 << 20  # what the reads of all connections may hold together, while that keeps reads >= 64 KiB


def read_size(connections: int) -> int:
    """How much one socket read takes with `connections` open: a connection holds up to two reads (one waiting
    for the app, one the app holds while it waits for the upload buffer budget), so reads shrink as connections
    grow (256 connections: 64 KiB each, 32 MB in all) while one large upload reads 256 KiB at a time."""
    return max(MIN_READ_SIZE, min(READ_SIZE, READS_IN_ALL // max(connections, 1)))


_reads = threading.local()  # the read buffer of each event loop's thread: parsed before the next read


class ServeProtocol(InterimHttpToolsProtocol, asyncio.BufferedProtocol):
    """The HTTP/1.1 protocol `fabric serve` runs: httptools, interim responses, body chunks without copies.

    It is a buffered protocol: the event loop reads the socket straight into one buffer per thread, which the
    parser reads before the next read (httptools hands out the body as new `bytes`), instead of making a `bytes`
    of every read first (uvloop's copy for `data_received`); and it picks the size of each read (`read_size`).
    """

    def get_buffer(self, sizehint: int) -> memoryview:
        buffer: memoryview | None = getattr(_reads, "buffer", None)
        if buffer is None:
            buffer = _reads.buffer = memoryview(bytearray(READ_SIZE))
        return buffer[: read_size(len(self.connections))]

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(_reads.buffer[:nbytes])  # httptools parses any buffer; what it keeps, it copies

    def on_headers_complete(self) -> None:
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is None or cycle is previous:
            return  # an upgrade: uvicorn's own handling
        queue: deque[bytes] = deque()  # chunks not yet received by the app
        cycle.body_queue = queue  # type: ignore[attr-defined]
        # The request's task has not run yet: the `receive` it will be given can still change.
        cycle.receive = _receive(cycle, queue)  # type: ignore[method-assign]

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        queue: deque[bytes] | None = getattr(cycle, "body_queue", None)
        if queue is None:
            super().on_body(body)
            return
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return
        queue.append(body)
        self.flow.pause_reading()  # until the app has taken it
        cycle.message_event.set()


def _receive(cycle: RequestResponseCycle, queue: deque[bytes]) -> Any:
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
        body = b""
        if queue:
            body = queue.popleft()
            if not queue:
                cycle.message_event.clear()  # everything signalled so far is read: the state below is current
        return {"type": "http.request", "body": body, "more_body": cycle.more_body or bool(queue)}

    return receive
