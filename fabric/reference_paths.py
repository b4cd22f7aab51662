"""A `fabric://<project>/<name>[:<number|alias>]` reference in place of an artifact URN in a path.

`/v1/artifacts/{urn}/…` and `/v1/lineage/{urn}` take the reference URL-encoded into that one segment, e.g.
`/v1/artifacts/fabric%3A%2F%2Fvision%2Fresnet%3Achampion/blob`. The router matches decoded paths, where an
encoded `/` is a separator again, so this middleware reads the raw path, resolves the reference as
`GET /v1/resolve` does (a repository the caller may not read is a 404, as one that does not exist) and hands the
router the same path with the version's artifact URN in its place: every artifact route then answers for that
artifact under its own access rules. It sits inside authentication, since resolving needs the caller. The
lineage route resolves as of its `at`, if given; the others resolve now.
"""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from urllib.parse import quote, unquote, unquote_to_bytes

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from aspects import NotFound
from aspects.lifecycle import parse_reference
from fabric.permissions import readable_repository
from fabric.problems import problem
from fabric.state import app_state
from fabric.web import query_time

PREFIXES = (b"/v1/artifacts/", b"/v1/lineage/")


class ReferencePathMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = _reference_in(scope) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        prefix, reference, rest = found
        connection = HTTPConnection(scope)
        try:
            project, name, version = parse_reference(reference)
            at = query_time(connection, "at") if prefix == b"/v1/lineage/" else None  # type: ignore[arg-type]
            urn = await anyio.to_thread.run_sync(lambda: _resolve(connection, project, name, version, at))
        except ValueError as exc:
            await problem(400, "Bad Request", str(exc))(scope, receive, send)
            return
        except HTTPException as exc:
            await problem(exc.status_code, HTTPStatus(exc.status_code).phrase, exc.detail)(scope, receive, send)
            return
        except NotFound:
            shown = reference[:200]
            await problem(404, "Not Found", f"no version {shown!r} you may read")(scope, receive, send)
            return
        raw = prefix + quote(urn, safe=":").encode() + rest
        scope = {**scope, "path": unquote(raw.decode("latin-1")), "raw_path": raw}
        await self.app(scope, receive, send)


def _reference_in(scope: Scope) -> tuple[bytes, str, bytes] | None:
    """(route prefix, decoded reference, the raw rest of the path) if the path names an artifact by reference."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    raw = raw.split(b"?", 1)[0]
    for prefix in PREFIXES:
        if raw.startswith(prefix):
            segment, slash, rest = raw[len(prefix) :].partition(b"/")
            text = unquote_to_bytes(segment).decode("utf-8", "replace")
            if text.startswith("fabric:"):
                return prefix, text, slash + rest
    return None


def _resolve(connection: HTTPConnection, project: str, name: str, version: str, at: datetime | None) -> str:
    readable_repository(connection, project, name)
    return str(app_state(connection).lifecycle.get_version(project, name, version, at=at)["artifact"])
