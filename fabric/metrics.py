"""Prometheus metrics of the server (served at /metrics)."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter("fabric_http_requests_total", "HTTP requests answered", ["method", "resource", "status"])
HTTP_SECONDS = Histogram("fabric_http_request_seconds", "Time to answer HTTP requests", ["method", "resource"])
UPLOADS_CREATED = Counter("fabric_uploads_created_total", "tus uploads created")
UPLOADS_COMPLETED = Counter("fabric_uploads_completed_total", "tus uploads completed and registered as artifacts")
UPLOAD_BYTES_COMPLETED = Counter("fabric_upload_bytes_completed_total", "Bytes of completed uploads")
MAINTENANCE_RUNS = Counter(
    "fabric_maintenance_runs_total", "Maintenance rounds (reconciliation and blob collection) this process completed"
)
BLOBS_COLLECTED = Counter("fabric_blobs_collected_total", "Blobs removed because no artifact names them")
BLOBS_DEDUPLICATED = Counter("fabric_blobs_deduplicated_total", "Completed uploads whose bytes were already stored")


def resource_of(path: str) -> str:
    """The API resource a path belongs to (`/v1/uploads`, `/v1/artifacts`, ...), keeping label cardinality low."""
    parts = path.split("/")
    if len(parts) > 2 and parts[1] == "v1":
        resource = "/v1/" + parts[2]
        if parts[2] == "artifacts" and parts[-1] == "blob":
            resource += "/blob"
        return resource
    return path if path in ("/healthz", "/readyz", "/metrics") else "other"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            resource = resource_of(scope["path"])
            HTTP_REQUESTS.labels(scope["method"], resource, str(status)).inc()
            HTTP_SECONDS.labels(scope["method"], resource).observe(time.perf_counter() - started)
