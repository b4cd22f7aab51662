"""A tus-shaped HTTP server that discards every byte: the ceiling of the benchmark client on this machine.

It answers creation with 201 and a Location, and a PATCH, once its Content-Length bytes have arrived, with 204
and the new Upload-Offset. Bodies land in one reused buffer (`asyncio.BufferedProtocol`), so the sink does no
allocation and no copying per read. Run as `python bench/_null_sink.py PORT`; loopback only.
"""

from __future__ import annotations

import asyncio
import itertools
import sys

MAX_HEAD = 64 << 10
_ids = itertools.count(1)


def _answer(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Tus-Resumable: 1.0.0", "Content-Length: 0", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class NullSink(asyncio.BufferedProtocol):
    def __init__(self, port: int) -> None:
        self.port = port
        self.buffer = memoryview(bytearray(1 << 20))
        self.head = bytearray()
        self.remaining = 0
        self.pending = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        data = self.buffer[:nbytes]
        while data:
            if self.remaining:
                taken = min(self.remaining, len(data))
                self.remaining -= taken
                data = data[taken:]
                if not self.remaining:
                    self._send(self.pending)
                continue
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > MAX_HEAD:
                    self._send(_answer("431 Request Header Fields Too Large", {"Connection": "close"}))
                    assert self.transport is not None
                    self.transport.close()
                return
            rest = memoryview(bytes(self.head[end + 4 :]))
            self.pending, self.remaining = self._handle(bytes(self.head[:end]))
            self.head = bytearray()
            if not self.remaining:
                self._send(self.pending)
            data = rest

    def _send(self, answer: bytes) -> None:
        assert self.transport is not None
        self.transport.write(answer)

    def _handle(self, head: bytes) -> tuple[bytes, int]:
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if method == "POST":
            location = f"http://127.0.0.1:{self.port}{target.rstrip('/')}/{next(_ids)}"
            return _answer("201 Created", {"Location": location, "Upload-Offset": "0"}), length
        if method == "PATCH":
            offset = int(headers.get("upload-offset", "0")) + length
            return _answer("204 No Content", {"Upload-Offset": str(offset)}), length
        if method in ("GET", "HEAD", "OPTIONS"):
            return _answer("200 OK", {}), length
        return _answer("405 Method Not Allowed", {}), length


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: NullSink(port), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
