"""A tus-shaped HTTP server that discards every byte: the ceiling of the benchmark client on this machine.

It answers creation with 201 and a Location, and a PATCH, once its Content-Length bytes have arrived, with 204
and the new Upload-Offset. One blocking thread per connection reads with `recv_into` into one reused 8 MiB
buffer: no allocation, no event-loop wake-ups, few syscalls (an asyncio sink measured half as fast here,
which would have made it, not the client, the ceiling). Run as `python bench/_null_sink.py PORT`; loopback only.
"""

from __future__ import annotations

import itertools
import socket
import sys
import threading

BUFFER = 8 << 20
MAX_HEAD = 64 << 10
_ids = itertools.count(1)


def _answer(status: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"HTTP/1.1 {status}",
        "Tus-Resumable: 1.0.0",
        "Content-Length: 0",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _respond(port: int, head: bytes) -> tuple[bytes, int]:
    """The answer to a request head, and how many body bytes to discard before sending it."""
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if method == "POST":
        location = f"http://127.0.0.1:{port}{target.rstrip('/')}/{next(_ids)}"
        return _answer("201 Created", {"Location": location, "Upload-Offset": "0"}), length
    if method == "PATCH":
        return _answer(
            "204 No Content", {"Upload-Offset": str(int(headers.get("upload-offset", "0")) + length)}
        ), length
    if method in ("GET", "HEAD", "OPTIONS"):
        return _answer("200 OK", {}), length
    return _answer("405 Method Not Allowed", {}), length


def _serve_connection(conn: socket.socket, port: int) -> None:
    buffer = memoryview(bytearray(BUFFER))
    pending = bytearray()  # received bytes not yet consumed (a head, or the start of a body after one)
    with conn:
        while True:
            end = pending.find(b"\r\n\r\n")
            while end < 0:
                if len(pending) > MAX_HEAD:
                    return
                received = conn.recv_into(buffer, MAX_HEAD)
                if not received:
                    return
                pending += buffer[:received]
                end = pending.find(b"\r\n\r\n")
            answer, remaining = _respond(port, bytes(pending[:end]))
            del pending[: end + 4]
            already = min(remaining, len(pending))
            del pending[:already]
            remaining -= already
            while remaining:
                received = conn.recv_into(buffer, min(remaining, BUFFER))
                if not received:
                    return
                remaining -= received
            conn.sendall(answer)


def serve(port: int) -> None:
    with socket.create_server(("127.0.0.1", port)) as listener:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=_serve_connection, args=(conn, port), daemon=True).start()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
