"""`fabric serve` sends whole files with `sendfile` (`http.response.pathsend`): the bytes arrive exact, whatever
the client's pace; keep-alive and pipelining go on after them; a client that leaves, or a file shorter than the
length its head announced, ends that response and nothing else."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import socket
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.responses import FileResponse

from fabric import path_send
from fabric.api.blobs import BlobResponse
from fabric.api.files import TarOfFiles
from fabric.archive import Entry, tar_length
from tests.api.serve_protocol import serving
from tests.interop.test_draft_interim_104 import read_head

SEEN: dict[str, Any] = {}
TAR = ["small", "big", "small"]
SIZE = 24 * 1024 * 1024 + 13  # far more than a loopback socket's buffer: the sender meets a full socket


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("files")
    big = root / "big.bin"
    big.write_bytes(os.urandom(SIZE))
    small = root / "small.txt"
    small.write_bytes(b"hello, sendfile\n")
    return {"big": big, "small": small}


def make_app(files: dict[str, Path]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        SEEN["offered"] = path_send.EXTENSION in scope.get("extensions", {})
        name = scope["path"].strip("/")
        if name == "short":  # a head announcing more bytes than the file holds
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
            await send({"type": path_send.EXTENSION, "path": str(files["small"])})
            return
        try:
            sent_types = SEEN.setdefault("types", [])

            async def recording_send(message: dict[str, Any]) -> None:
                sent_types.append(message["type"])
                await send(message)

            if name.startswith("blob/"):  # the API's blob response, its messages recorded
                await BlobResponse(files[name.removeprefix("blob/")])(scope, receive, recording_send)
            elif name == "tar":  # the API's tar of files: the small file, the big one, the small one again
                entries = [Entry(f"{n}-{i}", files[n].stat().st_size, n, 0) for i, n in enumerate(TAR)]
                headers = {"Content-Length": str(tar_length(entries))}
                response = TarOfFiles(entries, lambda key: str(files[key]), headers)
                await response(scope, receive, recording_send)
            else:
                await FileResponse(files[name])(scope, receive, send)
        finally:
            SEEN.setdefault("finished", []).append(name)

    return app


@pytest.fixture(scope="module")
def port(files: dict[str, Path]) -> Iterator[int]:
    with serving(make_app(files), log_level="critical") as free:
        yield free


def get(path: str, **headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: test", *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_body(sock: socket.socket, rest: bytes, length: int, pace: float = 0.0) -> tuple[bytes, bytes]:
    """`length` body bytes after `rest`; with `pace`, a pause after every 256 KiB (a slow client)."""
    data = bytearray(rest)
    while len(data) < length:
        chunk = sock.recv(256 * 1024)
        if not chunk:
            break
        data += chunk
        if pace:
            time.sleep(pace)
    return bytes(data[:length]), bytes(data[length:])


def test_a_whole_file_arrives_exact_and_the_connection_serves_the_next_request(
    port: int, files: dict[str, Path]
) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        for _ in range(2):
            sock.sendall(get("/big"))
            status, headers, rest = read_head(sock)
            assert status == 200 and int(headers["content-length"]) == SIZE
            body, rest = read_body(sock, rest, SIZE)
            assert hashlib.sha256(body).digest() == hashlib.sha256(files["big"].read_bytes()).digest()
            assert rest == b""
    assert SEEN["offered"]


def test_a_slow_client_gets_every_byte(port: int, files: dict[str, Path]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(get("/big") + get("/big"))  # the second head is written while the socket is full
        rest = b""
        for _ in range(2):
            status, _, rest = _head_from(sock, rest)
            time.sleep(0.3)  # the server fills the socket and waits for it
            body, rest = read_body(sock, rest, SIZE, pace=0.001)
            assert status == 200
            assert body == files["big"].read_bytes()


def test_pipelined_requests_are_answered_in_order(port: int, files: dict[str, Path]) -> None:
    small = files["small"].read_bytes()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(get("/small") + get("/big") + get("/small"))
        rest = b""
        for name, expected in (("small", small), ("big", None), ("small", small)):
            status, headers, rest = _head_from(sock, rest)
            assert status == 200
            body, rest = read_body(sock, rest, int(headers["content-length"]))
            assert body == (expected if expected is not None else files["big"].read_bytes()), name


def test_a_client_that_leaves_mid_file_ends_only_its_own_response(port: int, files: dict[str, Path]) -> None:
    SEEN["finished"] = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(get("/big"))
        read_head(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # reset on close
    for _ in range(500):
        if "big" in SEEN["finished"]:
            break
        time.sleep(0.02)
    assert "big" in SEEN["finished"]  # the response gave up instead of waiting for a socket nobody reads
    test_a_whole_file_arrives_exact_and_the_connection_serves_the_next_request(port, files)


def test_a_file_shorter_than_its_announced_length_closes_the_connection(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(get("/short"))
        status, _, rest = read_head(sock)
        body, _ = read_body(sock, rest, 100)
    assert status == 200
    assert body == b"hello, sendfile\n"  # what the file holds, then the end of the connection


@pytest.mark.parametrize(
    ("asked", "first", "last"),
    [("bytes=1000000-", 1_000_000, SIZE - 1), ("bytes=7-7", 7, 7), ("bytes=-5000", SIZE - 5000, SIZE - 1)],
)
def test_a_single_range_of_a_blob_is_sent_from_its_offset(
    port: int, files: dict[str, Path], asked: str, first: int, last: int
) -> None:
    SEEN["types"] = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        for _ in range(2):  # and the connection goes on
            sock.sendall(get("/blob/big", Range=asked))
            status, headers, rest = read_head(sock)
            body, rest = read_body(sock, rest, int(headers["content-length"]))
            assert (status, headers["content-range"]) == (206, f"bytes {first}-{last}/{SIZE}")
            assert body == files["big"].read_bytes()[first : last + 1] and rest == b""
    assert SEEN["types"] == ["http.response.start", path_send.EXTENSION] * 2  # not read by Starlette


def test_a_tar_sends_its_files_as_pieces_between_its_own_bytes(port: int, files: dict[str, Path]) -> None:
    SEEN["types"] = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(get("/tar") + get("/small"))
        status, headers, rest = read_head(sock)
        body, rest = read_body(sock, rest, int(headers["content-length"]))
        with tarfile.open(fileobj=io.BytesIO(body)) as archive:
            names = [member.name for member in archive.getmembers()]
            assert [archive.extractfile(name).read() for name in names] == [  # type: ignore[union-attr]
                files[name].read_bytes() for name in TAR
            ]
        status_after, headers_after, rest = _head_from(sock, rest)  # the connection goes on
        assert read_body(sock, rest, int(headers_after["content-length"]))[0] == files["small"].read_bytes()
    assert (status, status_after, names) == (200, 200, ["small-0", "big-1", "small-2"])
    pieces = [kind for kind in SEEN["types"] if kind == path_send.EXTENSION]
    assert len(pieces) == 3  # each file sent by the server, none read by the app


def test_range_and_head_requests_are_served_as_before(port: int, files: dict[str, Path]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(get("/big", Range="bytes=5-9"))
        status, headers, rest = read_head(sock)
        body, _ = read_body(sock, rest, int(headers["content-length"]))
        assert (status, body) == (206, files["big"].read_bytes()[5:10])
        sock.sendall(b"HEAD /big HTTP/1.1\r\nHost: test\r\n\r\n")
        status, headers, rest = read_head(sock)
        assert (status, int(headers["content-length"]), rest) == (200, SIZE, b"")


def _head_from(sock: socket.socket, data: bytes) -> tuple[int, dict[str, str], bytes]:
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        assert more, "the connection ended before a head"
        data += more
    head_bytes, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, rest


class _HeadStillBuffered:
    """A transport whose buffer holds the response head for the first few looks (as uvloop's does when the
    socket was full as the head was written)."""

    def __init__(self, looks: int) -> None:
        self.looks = looks
        self.asked = 0

    def get_write_buffer_size(self) -> int:
        self.asked += 1
        return 200 if self.asked <= self.looks else 0

    def is_closing(self) -> bool:
        return False


def test_the_file_waits_for_a_head_still_in_the_transports_buffer(files: dict[str, Path]) -> None:
    transport = _HeadStillBuffered(looks=3)
    cycle = SimpleNamespace(transport=transport, disconnected=False)
    sender, receiver = socket.socketpair()
    received = bytearray()

    def read_all() -> None:
        while chunk := receiver.recv(1 << 20):
            received.extend(chunk)

    reader = threading.Thread(target=read_all)
    reader.start()
    try:
        sender.setblocking(False)
        sent = asyncio.run(path_send._send_file(cycle, sender.fileno(), str(files["big"]), 0, SIZE))
    finally:
        sender.close()
        reader.join(30)
        receiver.close()
    assert sent == SIZE and transport.asked > 3  # waited until the buffer was empty, then sent it all
    assert bytes(received) == files["big"].read_bytes()
