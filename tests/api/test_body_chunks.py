"""`fabric serve`'s HTTP protocol hands request bodies over chunk by chunk without copies: the app still gets
exactly the bytes sent, whatever their framing (Content-Length, chunked, pipelined requests, 100-continue), and a
disconnect after the body is still reported (no busy loop of empty messages)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.serve_protocol import serving
from tests.interop.test_draft_interim_104 import read_head
from tus_server.blocks import BODY_INTO, Block

RECORDED: dict[str, Any] = {}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers the sha256 and length of the body; `/listen` then waits for the client to go away."""
    if scope["type"] != "http":
        return
    digest, length, messages = hashlib.sha256(), 0, 0
    if scope["path"] == "/into":  # the body read straight into blocks of an odd size
        while True:
            block = Block(memoryview(bytearray(100_003)), None)
            more = await scope["extensions"][BODY_INTO](block)
            digest.update(block.body)
            length += block.filled
            messages += 1
            if not more:
                break
        assert (await receive()) == {"type": "http.request", "body": b"", "more_body": False}
    if scope["path"] == "/late":  # the app takes its time (as one waiting for the upload buffer budget)
        await asyncio.sleep(0.3)
    while scope["path"] != "/into":
        message = await receive()
        RECORDED.setdefault("first_message", len(message["body"]))
        assert message["type"] == "http.request"
        assert type(message["body"]) is bytes  # an app that does not ask for blocks gets bytes
        messages += 1
        digest.update(message["body"])
        length += len(message["body"])
        if not message["more_body"]:
            break
    answer = f"{digest.hexdigest()} {length}".encode()
    headers = [(b"content-length", str(len(answer)).encode())]
    if scope["path"] == "/listen":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        extra = 0
        while (await receive())["type"] != "http.disconnect":
            extra += 1
        RECORDED["extra_messages_before_disconnect"] = extra
        return
    RECORDED["messages"] = messages
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with serving(app) as free:
        yield free


def head(path: str, length: int | None = None, **extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer_of(sock: socket.socket, rest: bytes = b"") -> tuple[str, bytes]:
    status, headers, rest = read_head(sock) if not rest else _head_from(sock, rest)
    assert status == 200
    size = int(headers["content-length"])
    while len(rest) < size:
        rest += sock.recv(65536)
    return rest[:size].decode(), rest[size:]


def _head_from(sock: socket.socket, data: bytes) -> tuple[int, dict[str, str], bytes]:
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head_bytes, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, rest


def expected(body: bytes) -> str:
    return f"{hashlib.sha256(body).hexdigest()} {len(body)}"


def test_a_large_body_sent_in_pieces_arrives_whole_in_many_messages(port: int) -> None:
    body = os.urandom(5 * 1024 * 1024 + 7)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head("/", len(body)))
        for start in range(0, len(body), 100_000):
            sock.sendall(body[start : start + 100_000])
        assert answer_of(sock)[0] == expected(body)
    assert RECORDED["messages"] > 1  # handed over as it came, not gathered


def test_pipelined_requests_and_chunked_bodies_keep_their_own_bytes(port: int) -> None:
    first, second = os.urandom(300_000), os.urandom(70_001)
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(piece), piece) for piece in (second[:1], second[1:50_000], second[50_000:])
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            head("/", len(first)) + first + head("/", None, Transfer_Encoding="chunked") + chunked + b"0\r\n\r\n"
        )
        text, rest = answer_of(sock)
        assert text == expected(first)
        assert answer_of(sock, rest)[0] == expected(second)


def test_requests_pipelined_after_bodies_read_into_blocks_keep_their_own_bytes(port: int) -> None:
    bodies = [os.urandom(2 * 1024 * 1024 + 1), os.urandom(300_001), os.urandom(100_003), os.urandom(5)]
    paths = ["/into", "/", "/into", "/into"]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"".join(head(path, len(body)) + body for path, body in zip(paths, bodies)))
        rest = b""
        for body in bodies:
            text, rest = answer_of(sock, rest)
            assert text == expected(body)


def test_a_request_whose_app_waits_holds_only_the_body_bytes_of_its_head_read(port: int) -> None:
    from fabric.body_chunks import HEAD_READ_SIZE

    body = os.urandom(1024 * 1024)
    RECORDED.pop("first_message", None)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head("/late", len(body)) + body)  # all of it waits in the socket before the app reads
        assert answer_of(sock)[0] == expected(body)
    assert 0 < RECORDED["first_message"] <= HEAD_READ_SIZE  # not a whole read of 256 KiB


def test_100_continue_is_sent_when_the_app_asks_for_the_body(port: int) -> None:
    body = os.urandom(200_000)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head("/", len(body), Expect="100-continue"))
        status, _, rest = read_head(sock)
        assert status == 100
        sock.sendall(body)
        assert answer_of(sock, rest)[0] == expected(body)


def test_a_disconnect_after_the_body_is_reported_without_a_stream_of_empty_messages(port: int) -> None:
    RECORDED.pop("extra_messages_before_disconnect", None)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head("/listen", 5) + b"hello")
        status, _, _ = read_head(sock)
        assert status == 200
    for _ in range(1000):
        if "extra_messages_before_disconnect" in RECORDED:
            break
        threading.Event().wait(0.01)
    assert RECORDED["extra_messages_before_disconnect"] <= 1


def test_reads_shrink_as_connections_grow_so_the_bytes_they_hold_stay_bounded() -> None:
    from fabric.body_chunks import MIN_READ_SIZE, READ_SIZE, read_size

    assert read_size(1) == READ_SIZE  # one large upload reads the most at a time
    assert read_size(64) * 64 <= 8 << 20
    assert read_size(256) == MIN_READ_SIZE
    assert read_size(10_000) == MIN_READ_SIZE  # never below a useful read
