"""Helpers shared by the interop and fault tests: seeded source files, streamed digests, blob checks.

Nothing here holds a whole file in memory: sources are written and hashed in blocks, blobs are downloaded as
a stream.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}
ARTIFACT_URN = re.compile(r"urn:fabric:artifact:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
UPLOAD_PATH = re.compile(r"/v1/uploads/[0-9a-f]{32}")
BLOCK = 1 << 20
MiB = 1 << 20


def random_file(path: Path, size: int, seed: int) -> str:
    """Write `size` seeded random bytes to `path`; returns their sha256."""
    rng = random.Random(seed)
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        left = size
        while left:
            block = rng.randbytes(min(BLOCK, left))
            digest.update(block)
            out.write(block)
            left -= len(block)
    return digest.hexdigest()


def file_range(path: Path, start: int, end: int, block: int = 64 << 10) -> Iterator[bytes]:
    """Bytes [start, end) of `path`, in blocks."""
    with open(path, "rb") as source:
        source.seek(start)
        left = end - start
        while left > 0:
            data = source.read(min(block, left))
            if not data:
                raise EOFError(f"{path} ends before {end}")
            left -= len(data)
            yield data


def prefix_sha256(path: Path, length: int) -> str:
    digest = hashlib.sha256()
    for block in file_range(path, 0, length, BLOCK):
        digest.update(block)
    return digest.hexdigest()


def upload_path(url: str) -> str:
    """The path of an upload URL, checked to be `/v1/uploads/<32 hex>`."""
    path = urlsplit(url).path
    assert UPLOAD_PATH.fullmatch(path), f"not an upload URL: {url!r}"
    return path


def head(server_url: str, upload_url: str, timeout: float = 30.0) -> httpx.Response:
    """HEAD an upload directly on the server (not through any proxy)."""
    return httpx.head(server_url + upload_path(upload_url), headers=TUS, timeout=timeout)


def durable_offset(server_url: str, upload_url: str) -> int:
    r = head(server_url, upload_url)
    assert r.status_code == 200, f"HEAD {upload_url}: {r.status_code} {r.text}"
    return int(r.headers["Upload-Offset"])


def blob_sha256(server_url: str, urn: str) -> tuple[str, int]:
    """Stream the artifact's blob; returns (sha256, length)."""
    digest = hashlib.sha256()
    size = 0
    with httpx.stream("GET", f"{server_url}/v1/artifacts/{urn}/blob", timeout=60) as r:
        assert r.status_code == 200, f"GET blob of {urn}: {r.status_code} {r.read()!r}"
        for block in r.iter_bytes(BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def artifact_urn_of(server_url: str, upload_url: str) -> str:
    """The Artifact-Urn a HEAD of the finished upload answers."""
    r = head(server_url, upload_url)
    assert r.status_code == 200, f"HEAD {upload_url}: {r.status_code} {r.text}"
    urn = r.headers.get("Artifact-Urn", "")
    assert ARTIFACT_URN.fullmatch(urn), f"HEAD {upload_url} answered Artifact-Urn {urn!r}"
    return urn


def assert_blob_equals(server_url: str, urn: str, sha256: str, size: int) -> None:
    got_sha, got_size = blob_sha256(server_url, urn)
    assert (got_size, got_sha) == (size, sha256), f"blob of {urn} differs from the source"
