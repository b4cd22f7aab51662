"""Liveness, readiness and metrics."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

import anyio
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fabric.openapi.spec import ok_json, operation, ref
from fabric.s3_blobs import S3BlobStore
from fabric.state import app_state


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _disk_writable(directory: str) -> None:
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".readyz-") as probe:
        probe.write(b"ok")
        probe.flush()
        os.fsync(probe.fileno())


async def readyz(request: Request) -> Response:
    state = app_state(request)
    checks: dict[str, str] = {}
    storage: tuple[str, Callable[[], object]] = (
        ("s3", state.blobs.ping)
        if isinstance(state.blobs, S3BlobStore)
        else ("disk", lambda: _disk_writable(str(state.settings.uploads_dir)))
    )
    for name, check in (("graph", state.store.ping), storage):
        try:
            await anyio.to_thread.run_sync(check)
            checks[name] = "ok"
        except Exception as exc:  # readiness reports any failure rather than raising it
            checks[name] = f"failed: {exc}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]

paths = {
    "/healthz": {
        "get": operation("healthz", "Liveness", access="public", tag="operations", ok={200: ok_json(ref("Health"))})
    },
    "/readyz": {
        "get": operation(
            "readyz",
            "Readiness: the graph answers and the disk takes writes",
            access="public",
            tag="operations",
            ok={200: ok_json(ref("Health"))},
            errors=(503,),
        )
    },
    "/metrics": {
        "get": operation(
            "metrics",
            "Prometheus metrics",
            access="public",
            tag="operations",
            ok={
                200: {
                    "description": "Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        )
    },
}
