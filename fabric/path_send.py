"""`http.response.pathsend` for `fabric serve`: a whole file goes from the page cache to the socket in the kernel.

Without this ASGI extension Starlette's `FileResponse` (every blob download) reads the file 1 MiB at a time in a
worker thread and hands each block to the server, which copies it into the socket: every byte crosses Python
twice. uvicorn offers no such extension, so `fabric serve`'s protocol does, with `sendfile(2)`:

- the response head uvicorn wrote is flushed first (it is usually on the wire already);
- `sendfile` runs in a worker thread (a file not in the page cache is read from disk there, never on the
  event loop) on a duplicate of the socket's descriptor, which stays non-blocking. The thread goes on while the
  client keeps taking bytes (waiting up to `PATIENCE` for a full socket to drain, which a client reading at
  speed does within a millisecond) and hands back after `SEND_AT_MOST` bytes, so one download is a few thread
  calls and not one per socket buffer;
- a client slower than that waits on the event loop for its socket to become writable (the loop watches the
  duplicate; the transport's own descriptor is uvloop's), so no thread ever waits on a slow client for long;
- the response then ends as uvicorn ends any other (keep-alive, pipelining), after exactly the `Content-Length`
  the head announced; a file shorter than that closes the connection, as a short body does.

A client that goes away ends the response as a disconnect. Only plain-HTTP GETs on a socket are offered it: a
TLS transport encrypts in user space, and elsewhere Starlette's reads are used as before.

Beyond the ASGI extension, where the extension's dict holds `OFFSET` (`takes_pieces`), a message may carry
`offset` (the file's byte to start at), `count` (bytes to send; by default the rest of the response) and
`more_body` (true: the response goes on, with more body or pathsend messages). So a single range (a resumed
download, `fabric.api.blobs.BlobResponse`) and the files of a tar archive (`fabric.api.files`) go out the same
way, in a response that announced its `Content-Length`. Other servers offer no `OFFSET`, and get Starlette's reads.
"""

from __future__ import annotations

import asyncio
import errno
import os
import select
from typing import Any

import anyio

EXTENSION = "http.response.pathsend"
OFFSET = "datafabric.offset"  # in the extension's dict: a message may carry `offset`, `count` and `more_body`
SEND_AT_MOST = 64 << 20  # bytes one worker-thread call sends at most before handing back to the event loop
PATIENCE = 0.02  # seconds a worker thread waits for a full socket to take bytes before handing back
HEAD_FLUSH_WAIT = 0.001  # seconds given to uvloop to flush a response head once the socket takes bytes


def takes_pieces(scope: Any) -> bool:
    """Whether the server sends files with an `offset`, a `count` and `more_body` (see above) for this request."""
    return bool(scope.get("extensions", {}).get(EXTENSION, {}).get(OFFSET))


def offer(cycle: Any, scope: Any) -> None:
    """Offer `http.response.pathsend` to the request of `cycle` (uvicorn's `RequestResponseCycle`) if it can
    be served with `sendfile`: wraps the `send` its task will be given (the task has not run yet)."""
    transport = cycle.transport
    if scope.get("method") != "GET" or not hasattr(os, "sendfile") or transport.get_extra_info("sslcontext"):
        return
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    scope.setdefault("extensions", {})[EXTENSION] = {OFFSET: True}
    final_send = cycle.send

    async def send(message: Any) -> None:
        if message["type"] != EXTENSION:
            await final_send(message)
            return
        if not cycle.response_started or cycle.response_complete or cycle.chunked_encoding:
            raise RuntimeError(f"'{EXTENSION}' is the body, or a piece of it, of a started Content-Length response")
        if cycle.disconnected:
            return
        count = message.get("count", cycle.expected_content_length)
        if count > cycle.expected_content_length:
            raise RuntimeError(f"{count} bytes of a file where the response has {cycle.expected_content_length} left")
        sent = await _send_file(cycle, sock.fileno(), message["path"], message.get("offset", 0), count)
        if sent is None:  # the client went away
            cycle.disconnected = True
            cycle.transport.close()
            return
        cycle.expected_content_length -= sent
        if sent < count:  # uvicorn closes the connection: the response can no longer be what its head said
            raise RuntimeError(f"{message['path']} ended {count - sent} bytes before the response's length")
        if not message.get("more_body", False):
            await final_send({"type": "http.response.body", "body": b"", "more_body": False})

    cycle.send = send


async def _send_file(cycle: Any, socket_fd: int, path: str, offset: int, length: int) -> int | None:
    """Send `length` bytes of `path` from `offset` on the socket; the bytes sent (fewer if the file is shorter),
    or None if the client went away."""
    loop = asyncio.get_running_loop()
    fd = os.dup(socket_fd)
    try:
        while cycle.transport.get_write_buffer_size():  # the head is not on the wire yet: a full socket
            if not await _writable(loop, fd, cycle):
                return None
            await asyncio.sleep(HEAD_FLUSH_WAIT)  # uvloop writes its buffer on the same readiness
        if cycle.transport.is_closing():
            return None
        with open(path, "rb") as file:
            sent = 0
            while sent < length:
                try:
                    count, ended = await anyio.to_thread.run_sync(
                        _send_some, fd, file.fileno(), offset + sent, length - sent
                    )
                except OSError as exc:
                    if exc.errno in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN):
                        return None
                    raise
                sent += count
                if ended:  # the file ends before `length`
                    break
                if sent < length and not count and not await _writable(loop, fd, cycle):
                    return None
            return sent
    finally:
        os.close(fd)


def _send_some(socket_fd: int, file_fd: int, offset: int, count: int) -> tuple[int, bool]:
    """`sendfile` from `offset` while the socket takes bytes, up to `SEND_AT_MOST` of `count`: the bytes sent,
    and whether the file ended first. Fewer (none included) when the socket stayed full for `PATIENCE`."""
    count = min(count, SEND_AT_MOST)
    sent = 0
    poll = select.poll()
    poll.register(socket_fd, select.POLLOUT)
    while sent < count:
        try:
            n = os.sendfile(socket_fd, file_fd, offset + sent, count - sent)
        except BlockingIOError:
            if not poll.poll(PATIENCE * 1000):
                break
            continue
        if n == 0:
            return sent, True
        sent += n
    return sent, False


async def _writable(loop: asyncio.AbstractEventLoop, fd: int, cycle: Any) -> bool:
    """Wait until the socket takes bytes again; False if the client went away meanwhile."""
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_writer(fd, wake)
    try:
        while not ready.done():
            if cycle.disconnected or cycle.transport.is_closing():
                return False
            await asyncio.wait({ready}, timeout=1.0)  # a disconnect is seen without the socket turning writable
    finally:
        loop.remove_writer(fd)
    return True
