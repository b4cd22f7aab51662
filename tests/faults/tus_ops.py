"""tus operations the fault tests repeat: create, PATCH a range of a file (streamed), finish and verify."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx

from tests.faults.rawhttp import RawRequest
from tests.interop.support import (
    ARTIFACT_URN,
    OCTETS,
    TUS,
    artifact_urn_of,
    assert_blob_equals,
    durable_offset,
    file_range,
    prefix_sha256,
    upload_path,
)


def metadata(**values: str) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items())


def create(server_url: str, length: int, filename: str = "fault.bin") -> str:
    """POST a new upload; returns its absolute URL."""
    r = httpx.post(
        f"{server_url}/v1/uploads",
        headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata(filename=filename)},
        timeout=30,
    )
    assert r.status_code == 201, f"POST /v1/uploads: {r.status_code} {r.text}"
    assert ARTIFACT_URN.fullmatch(r.headers.get("Artifact-Urn", "")), r.headers
    upload_path(r.headers["Location"])
    return r.headers["Location"]


def patch_range(
    server_url: str, upload_url: str, source: Path, start: int, end: int, timeout: float = 120.0
) -> httpx.Response:
    """PATCH bytes [start, end) of `source` at offset `start`, streamed from the file."""
    return httpx.patch(
        server_url + upload_path(upload_url),
        headers={**OCTETS, "Upload-Offset": str(start), "Content-Length": str(end - start)},
        content=file_range(source, start, end),
        timeout=timeout,
    )


def open_patch(port: int, upload_url: str, offset: int, length: int, *, expect_continue: bool = False) -> RawRequest:
    """A PATCH at `offset` announcing `length` body bytes, none sent yet."""
    return RawRequest(
        port,
        "PATCH",
        upload_path(upload_url),
        {**OCTETS, "Upload-Offset": str(offset)},
        length,
        expect_continue=expect_continue,
    )


def finish_and_verify(server_url: str, upload_url: str, source: Path, sha256: str, size: int) -> int:
    """Resume from HEAD's offset to the end, then check the blob byte-exact; returns the offset resumed from."""
    offset = durable_offset(server_url, upload_url)
    assert 0 <= offset <= size
    if offset < size:
        r = patch_range(server_url, upload_url, source, offset, size)
        assert r.status_code == 204, f"PATCH from {offset}: {r.status_code} {r.text}"
        assert int(r.headers["Upload-Offset"]) == size
        urn = r.headers.get("Artifact-Urn", "")
        assert urn == artifact_urn_of(server_url, upload_url)
    else:
        urn = artifact_urn_of(server_url, upload_url)
    assert_blob_equals(server_url, urn, sha256, size)
    return offset


__all__ = ["PROBLEM_JSON", "create", "finish_and_verify", "metadata", "open_patch", "patch_range", "prefix_sha256"]

PROBLEM_JSON = "application/problem+json"
