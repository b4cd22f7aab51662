"""Small tus request helpers for protocol tests: raw HTTP, so every header is under the test's control."""

from __future__ import annotations

import base64
import hashlib

import httpx

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}


def metadata(**values: str) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items())


def create(client: httpx.Client, length: int | None, **headers: str) -> httpx.Response:
    sent = {**TUS, **headers}
    if length is not None:
        sent["Upload-Length"] = str(length)
    return client.post("/v1/uploads", headers=sent)


def patch(client: httpx.Client, location: str, offset: int, body: bytes, **headers: str) -> httpx.Response:
    return client.patch(location, headers={**OCTETS, "Upload-Offset": str(offset), **headers}, content=body)


def upload(client: httpx.Client, data: bytes, **meta: str) -> httpx.Response:
    """Create and finish an upload in one PATCH; returns the PATCH response (carrying Artifact-Urn)."""
    created = create(client, len(data), **({"Upload-Metadata": metadata(**meta)} if meta else {}))
    assert created.status_code == 201, created.text
    done = patch(client, created.headers["Location"], 0, data)
    assert done.status_code == 204, done.text
    return done


def blob(client: httpx.Client, urn: str, **headers: str) -> httpx.Response:
    return client.get(f"/v1/artifacts/{urn}/blob", headers=headers)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
