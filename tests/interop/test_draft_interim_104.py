"""`104 (Upload Resumption Supported)` from a real `fabric serve`, read off a raw socket.

The draft's point: a client learns where its upload lives before the creation request's content is sent, so a
creation cut off mid-body is resumed rather than started again. These tests speak HTTP/1.1 by hand, because the
interim response is exactly what HTTP client libraries hide.
"""

from __future__ import annotations

import hashlib
import os
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from fabric.interim_responses import interim_head
from tests.interop.support import MiB, assert_blob_equals, upload_path
from tests.server_process import FabricServer

PARTIAL = "application/partial-upload"


def read_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response head (status, lower-cased headers) and whatever arrived after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection after {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, rest


def request_head(server: FabricServer, length: int, version: str = "HTTP/1.1", **extra: str) -> bytes:
    headers = {
        "Host": f"127.0.0.1:{server.port}",
        "Upload-Draft-Interop-Version": "8",
        "Upload-Complete": "?1",
        "Content-Length": str(length),
        "Content-Type": "application/octet-stream",
        **{name.replace("_", "-"): value for name, value in extra.items()},
    }
    lines = [f"POST /v1/uploads {version}", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("size", [3 * MiB + 17])
def test_a_creation_cut_mid_body_is_resumed_at_the_location_the_104_gave(
    interop_server: FabricServer, size: int
) -> None:
    content = os.urandom(size)
    sent = MiB // 2
    with socket.create_connection(("127.0.0.1", interop_server.port), timeout=30) as sock:
        sock.sendall(request_head(interop_server, size))
        status, headers, _ = read_head(sock)  # before a byte of content was sent
        assert status == 104
        assert headers["upload-draft-interop-version"] == "8"
        location = headers["location"]
        upload_path(location)
        sock.sendall(content[:sent])
    # the connection is gone mid-body: the client asks where the upload stands, and sends the rest
    url = interop_server.url + urlsplit(location).path
    draft = {"Upload-Draft-Interop-Version": "8"}
    head = httpx.head(url, headers=draft, timeout=30)
    assert head.status_code == 204
    assert head.headers["Upload-Complete"] == "?0"
    offset = int(head.headers["Upload-Offset"])
    assert 0 <= offset <= sent
    done = httpx.patch(
        url,
        headers={**draft, "Upload-Offset": str(offset), "Upload-Complete": "?1", "Content-Type": PARTIAL},
        content=content[offset:],
        timeout=60,
    )
    assert done.status_code == 204, done.text
    assert done.headers["Upload-Complete"] == "?1"
    assert_blob_equals(interop_server.url, done.headers["Artifact-Urn"], hashlib.sha256(content).hexdigest(), size)


def test_104_comes_before_100_continue_and_the_creation_finishes(interop_server: FabricServer) -> None:
    content = b"interim answers in order\n"
    with socket.create_connection(("127.0.0.1", interop_server.port), timeout=30) as sock:
        sock.sendall(request_head(interop_server, len(content), Expect="100-continue"))
        first, headers, rest = read_head(sock)
        assert first == 104 and "location" in headers
        if not rest:
            rest = sock.recv(65536)
        assert rest.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), rest
        sock.sendall(content)
        final, final_headers, _ = read_head(sock)
    assert final == 201
    assert final_headers["location"] == headers["location"]
    assert final_headers["upload-complete"] == "?1"
    assert final_headers["artifact-urn"].startswith("urn:")


@pytest.mark.parametrize(
    ("version", "draft"),
    [("HTTP/1.0", True), ("HTTP/1.1", False)],
    ids=["http-1.0-client", "tus-1.0-request"],
)
def test_no_104_to_http_10_clients_nor_for_tus(interop_server: FabricServer, version: str, draft: bool) -> None:
    """RFC 9110 forbids a 1xx to an HTTP/1.0 client; a tus 1.0 client never asked for one."""
    content = b"no interim answer\n"
    if draft:
        head = request_head(interop_server, len(content), version)
    else:
        head = (
            f"POST /v1/uploads {version}\r\nHost: 127.0.0.1:{interop_server.port}\r\nTus-Resumable: 1.0.0\r\n"
            f"Upload-Length: {len(content)}\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {len(content)}\r\n\r\n"
        ).encode()
    with socket.create_connection(("127.0.0.1", interop_server.port), timeout=30) as sock:
        sock.sendall(head + content)
        status, headers, _ = read_head(sock)
    assert status == 201
    assert "location" in headers


def test_interim_heads_refuse_line_breaks_and_final_statuses() -> None:
    assert interim_head(104, [(b"location", b"/v1/uploads/x")]) == (
        b"HTTP/1.1 104 Upload Resumption Supported\r\nlocation: /v1/uploads/x\r\n\r\n"
    )
    with pytest.raises(ValueError, match="line break"):
        interim_head(104, [(b"location", b"/x\r\nset-cookie: a=b")])
    for status in (100, 101, 200):
        with pytest.raises(ValueError, match="1xx"):
            interim_head(status, [])
