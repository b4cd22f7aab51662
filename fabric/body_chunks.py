"""Request bodies handed to the app chunk by chunk as httptools parsed them, without uvicorn's two copies.

uvicorn's httptools protocol appends every body chunk to a `bytearray` (`body += chunk`) and hands the app
`bytes(body)`: two copies of every byte of an upload, about 7 % of the server's CPU on a large PATCH (perf).
This protocol keeps the chunks httptools made (already `bytes`) in a queue and gives them to the app one per
`http.request` message, as they are. Flow control is uvicorn's: reading pauses while more than its high-water
mark of body bytes wait for the app, and resumes when the app asks for more and the queue is empty.

Everything else, including `100 Continue`, disconnects, pipelining and the interim responses of
`InterimHttpToolsProtocol`, is uvicorn's (0.54) code path; only `on_body` and the request's `receive` differ.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from fabric.interim_responses import InterimHttpToolsProtocol


class BodyQueue:
    """The body chunks of one request not yet received by the app."""

    __slots__ = ("chunks", "size")

    def __init__(self) -> None:
        self.chunks: deque[bytes] = deque()
        self.size = 0


class ServeProtocol(InterimHttpToolsProtocol):
    """The HTTP/1.1 protocol `fabric serve` runs: httptools, interim responses, body chunks without copies."""

    def on_headers_complete(self) -> None:
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is None or cycle is previous:
            return  # an upgrade: uvicorn's own handling
        queue = BodyQueue()
        cycle.body_queue = queue  # type: ignore[attr-defined]
        # The request's task has not run yet: the `receive` it will be given can still change.
        cycle.receive = _receive(cycle, queue)  # type: ignore[method-assign]

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        queue: BodyQueue | None = getattr(cycle, "body_queue", None)
        if queue is None:
            super().on_body(body)
            return
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return
        queue.chunks.append(body)
        queue.size += len(body)
        if queue.size > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        cycle.message_event.set()


def _receive(cycle: RequestResponseCycle, queue: BodyQueue) -> Any:
    async def receive() -> dict[str, Any]:
        if cycle.waiting_for_100_continue and not cycle.transport.is_closing():
            cycle.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False
        if not queue.chunks and not cycle.disconnected and not cycle.response_complete:
            cycle.flow.resume_reading()
            await cycle.message_event.wait()
            cycle.message_event.clear()
        if cycle.disconnected or cycle.response_complete:
            return {"type": "http.disconnect"}
        body = b""
        if queue.chunks:
            body = queue.chunks.popleft()
            queue.size -= len(body)
            if not queue.chunks:
                cycle.message_event.clear()  # everything signalled so far is read: the state below is current
        return {"type": "http.request", "body": body, "more_body": cycle.more_body or bool(queue.chunks)}

    return receive
