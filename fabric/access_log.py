"""One access-log line per request: method, path, status, bytes sent, duration, user, client address.

Never logged: headers (an `Authorization` token), request bodies, and the values of query parameters that
may carry a secret (`token`, `signature`, ...), which are replaced by `REDACTED`.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import suppress
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fabric.path_send import EXTENSION as PATH_SEND

log = logging.getLogger("fabric.access")

SECRET_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "id_token",
        "refresh_token",
        "code",
        "key",
        "api_key",
        "secret",
        "password",
        "signature",
        "sig",
    }
)


def safe_query(raw: bytes) -> str:
    """The query string with the values of secret-looking parameters replaced by REDACTED."""
    if not raw:
        return ""
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    return urlencode([(key, "REDACTED" if _is_secret(key) else value) for key, value in pairs])


def _is_secret(key: str) -> bool:
    lowered = key.lower().replace("-", "_")
    return lowered in SECRET_PARAMS or lowered.endswith(("_token", "_secret", "_key", "_signature"))


class AccessLogMiddleware:
    """Logs each HTTP request once it is answered (or fails), on the `fabric.access` logger."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        sent = 0

        async def counting_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            elif message["type"] == PATH_SEND:  # a whole file, sent by the server (`fabric.path_send`)
                with suppress(OSError):
                    sent += os.stat(message["path"]).st_size
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            if log.isEnabledFor(logging.INFO):
                log.info("%s", "", extra={"access": self._entry(scope, status or 500, sent, started)})

    @staticmethod
    def _entry(scope: Scope, status: int, sent: int, started: float) -> dict[str, Any]:
        principal = scope.get("state", {}).get("principal")
        client = scope.get("client")
        return {
            "remote": client[0] if client else None,
            "method": scope["method"],
            "path": scope["path"],
            "query": safe_query(scope.get("query_string", b"")),
            "status": status,
            "bytes": sent,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "user": principal.email if principal is not None else None,
        }


def format_access(entry: dict[str, Any]) -> str:
    """The text form: `127.0.0.1 GET /v1/artifacts?limit=5 200 1234B 3.1ms alice@acme.org`."""
    target = entry["path"] + (f"?{entry['query']}" if entry["query"] else "")
    return (
        f"{entry['remote'] or '-'} {entry['method']} {target} {entry['status']} {entry['bytes']}B "
        f"{entry['duration_ms']}ms {entry['user'] or '-'}"
    )
