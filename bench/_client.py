"""The one tus client every server in the benchmark is measured with.

Headers go through `http.client`; the body goes out with `socket.sendfile` straight from the page cache, so
the client spends almost no CPU of its own and is the same for every server. One keep-alive connection
carries the creation and every PATCH of an upload.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

TUS_VERSION = "1.0.0"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"


class UploadError(RuntimeError):
    """A server answered an upload request with something other than what tus 1.0.0 promises."""


@dataclass(frozen=True, slots=True)
class UploadResult:
    seconds: float  # from the creation request to the answer to the last PATCH
    location: str
    final_headers: dict[str, str]  # of the last PATCH answer, names lower-cased


def _connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
        raise ValueError(f"the benchmark only talks plain HTTP over loopback, not {url}")
    return http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=900)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _headers(response: http.client.HTTPResponse) -> dict[str, str]:
    return {name.lower(): value for name, value in response.getheaders()}


def _metadata(filename: str) -> str:
    return "filename " + base64.b64encode(filename.encode()).decode()


def upload(create_url: str, payload: Path, size: int, chunk: int | None) -> UploadResult:
    """Create an upload of `size` bytes of `payload` and send it in one PATCH (`chunk` None) or in chunks."""
    conn = _connect(create_url)
    try:
        with open(payload, "rb") as source:
            started = time.perf_counter()
            conn.request(
                "POST",
                _path(create_url),
                headers={
                    "Tus-Resumable": TUS_VERSION,
                    "Upload-Length": str(size),
                    "Upload-Metadata": _metadata(payload.name),
                    "Content-Length": "0",
                },
            )
            created = conn.getresponse()
            created.read()
            if created.status != 201 or not created.getheader("Location"):
                raise UploadError(
                    f"creation answered {created.status} {created.reason}, Location={created.getheader('Location')}"
                )
            location = urljoin(create_url, created.getheader("Location", ""))
            if urlsplit(location).netloc != urlsplit(create_url).netloc:
                raise UploadError(f"the upload URL {location} is not on the server {create_url}")
            offset = 0
            final: dict[str, str] = {}
            step = chunk or size
            while offset < size:
                count = min(step, size - offset)
                final = _patch(conn, _path(location), source, offset, count)
                offset += count
            seconds = time.perf_counter() - started
    finally:
        conn.close()
    return UploadResult(seconds, location, final)


def _patch(conn: http.client.HTTPConnection, path: str, source, offset: int, count: int) -> dict[str, str]:
    conn.putrequest("PATCH", path, skip_accept_encoding=True)
    conn.putheader("Tus-Resumable", TUS_VERSION)
    conn.putheader("Content-Type", OFFSET_CONTENT_TYPE)
    conn.putheader("Upload-Offset", str(offset))
    conn.putheader("Content-Length", str(count))
    conn.endheaders()
    sock = conn.sock
    assert sock is not None
    timeout = sock.gettimeout()
    sock.settimeout(
        None
    )  # blocking: one sendfile(2) call moves the whole body; with a timeout Python loops on select()
    try:
        sent = sock.sendfile(source, offset, count)
    except (BrokenPipeError, ConnectionResetError) as exc:  # the server refused early: show its answer
        answer = conn.getresponse()
        raise UploadError(f"PATCH at {offset} cut off by {answer.status} {answer.read()[:300]!r}") from exc
    finally:
        sock.settimeout(timeout)
    if sent != count:
        raise UploadError(f"sent {sent} of {count} bytes at offset {offset}")
    answer = conn.getresponse()
    body = answer.read()
    headers = _headers(answer)
    if answer.status != 204:
        raise UploadError(f"PATCH at {offset} answered {answer.status} {answer.reason}: {body[:300]!r}")
    if headers.get("upload-offset") != str(offset + count):
        raise UploadError(f"PATCH at {offset}+{count} answered Upload-Offset {headers.get('upload-offset')}")
    return headers


def sha256_of_download(url: str, block: int = 4 << 20) -> tuple[str, int]:
    """The sha256 and length of a GET of `url`, streamed (never held in memory)."""
    conn = _connect(url)
    try:
        conn.request("GET", _path(url))
        response = conn.getresponse()
        if response.status != 200:
            raise UploadError(f"GET {url} answered {response.status} {response.read()[:300]!r}")
        digest = hashlib.sha256()
        length = 0
        while data := response.read(block):
            digest.update(data)
            length += len(data)
        return digest.hexdigest(), length
    finally:
        conn.close()


def wait_http(url: str, ok: tuple[int, ...], method: str = "GET", alive=lambda: True, timeout: float = 120) -> None:
    """Poll `url` until it answers one of the `ok` statuses; fail early when `alive()` turns false."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"the server behind {url} exited before it was ready")
        try:
            conn = _connect(url)
            conn.timeout = 2
            conn.request(method, _path(url), headers={"Tus-Resumable": TUS_VERSION})
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status in ok:
                return
            last = response.status
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout}s (last: {last})")


T = TypeVar("T")


def at_once(calls: Sequence[Callable[[], T]]) -> tuple[float, list[T | BaseException]]:
    """Run every call in a thread of its own, all started together behind a barrier; the seconds from the start
    to the last one's end, and each call's result or exception, in order."""
    barrier = threading.Barrier(len(calls) + 1)
    results: list[T | BaseException] = [RuntimeError("not run")] * len(calls)

    def one(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except BaseException as exc:  # reported by the caller
            results[index] = exc

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, results
