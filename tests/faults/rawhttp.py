"""An HTTP/1.1 request over a raw socket whose body the test sends piece by piece.

httpx sends a body as fast as it can and owns the connection; fault tests need to stop mid-body, know how
many bytes the server's kernel has acknowledged, notice an early answer (a 409 or 507 sent before the body
ended) and keep a request open while something else happens. Nothing here buffers a whole body.
"""

from __future__ import annotations

import fcntl
import select
import socket
import struct
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.interop.support import file_range

PIECE = 64 << 10


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""


class ConnectionBroken(Exception):
    """The connection failed before a whole response could be read."""


class RawRequest:
    def __init__(
        self,
        port: int,
        method: str,
        path: str,
        headers: dict[str, str],
        content_length: int,
        timeout: float = 30.0,
        expect_continue: bool = False,
    ) -> None:
        self.port = port
        self.content_length = content_length
        self.sent = 0
        self.broken: BaseException | None = None
        self._received = b""  # read past the last response head (e.g. after a 100 Continue)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {content_length}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if expect_continue:
            lines.append("Expect: 100-continue")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    # ---- sending --------------------------------------------------------------------------------------

    def answered(self) -> bool:
        """The server has started answering (or closed): sending more is pointless."""
        if self._received:
            return True
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)

    def send(self, data: bytes) -> bool:
        """Send one piece; False (and `broken` set) if the connection is gone."""
        try:
            self.sock.sendall(data)
        except OSError as exc:  # reset, broken pipe, or a server that stopped reading (timeout)
            self.broken = exc
            return False
        self.sent += len(data)
        return True

    def send_file(
        self,
        path: Path,
        start: int,
        count: int,
        *,
        piece: int = PIECE,
        pause: float = 0.0,
        stop_when_answered: bool = True,
    ) -> int:
        """Send bytes [start, start+count) of `path`; stops early if the server answers or the connection breaks.

        Returns how many bytes were sent by this call. `pause` slows the stream down (seconds per piece).
        """
        before = self.sent
        for block in file_range(path, start, start + count, piece):
            if stop_when_answered and self.answered():
                break
            if not self.send(block):
                break
            if pause:
                time.sleep(pause)
        return self.sent - before

    def unacked(self) -> int:
        """Bytes sent but not yet acknowledged by the peer's kernel (Linux SIOCOUTQ)."""
        buf = fcntl.ioctl(self.sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
        return struct.unpack("i", buf)[0]

    def wait_acked(self, timeout: float = 30.0) -> bool:
        """Wait until the server's kernel has every byte sent so far; False if it did not within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.unacked() == 0:
                return True
            time.sleep(0.01)
        return False

    # ---- the answer -----------------------------------------------------------------------------------

    def await_continue(self, timeout: float = 30.0) -> RawResponse | None:
        """With `expect_continue`: None once the server says 100 Continue, else its final answer."""
        response = self.read_response(timeout)
        return None if response.status == 100 else response

    def read_response(self, timeout: float = 30.0) -> RawResponse:
        self.sock.settimeout(timeout)
        data, self._received = self._received, b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionBroken(f"connection closed after {len(data)} bytes of response")
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            status = int(status_line.split()[1])
            if 100 <= status < 200:  # interim: no body; keep what follows for the next read
                self._received = rest
                return RawResponse(status, headers)
            length = int(headers.get("content-length", "0"))
            while len(rest) < length:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
        except OSError as exc:
            raise ConnectionBroken(repr(exc)) from exc
        return RawResponse(status, headers, rest[:length])

    def try_response(self, timeout: float = 30.0) -> RawResponse | None:
        """The response, or None if the connection broke first (reset, closed or timed out)."""
        try:
            return self.read_response(timeout)
        except ConnectionBroken:
            return None

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> RawRequest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
