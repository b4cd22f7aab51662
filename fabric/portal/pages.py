"""`/` (the portal's page) and `/portal/assets/*` (its built scripts and styles), public like any login page."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from fabric.openapi.spec import operation
from fabric.problems import problem

STATIC_DIR = Path(__file__).resolve().parent / "static"
ASSETS_PREFIX = "/portal/assets"

# The page loads only its own scripts and styles and talks only to this server.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def not_built() -> Response:
    return problem(
        503,
        "Portal not built",
        "the portal's static files are missing: run `make portal` (or `make serve`) in the checkout",
    )


async def index(request: Request) -> Response:
    page = STATIC_DIR / "index.html"
    if not page.is_file():
        return not_built()
    return FileResponse(page, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


class Assets(StaticFiles):
    """The built files; a missing build is a clear 503 rather than a 404 per file."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not STATIC_DIR.is_dir():
            await not_built()(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


routes = [
    Route("/", index, methods=["GET", "HEAD"]),
    Mount(ASSETS_PREFIX, app=Assets(directory=STATIC_DIR, check_dir=False), name="portal-assets"),
]

paths = {
    "/": {
        "get": operation(
            "portal",
            "The web portal (an HTML page; its scripts under /portal/assets/ call this API like any client)",
            access="public",
            tag="portal",
            ok={200: {"description": "The portal's page", "content": {"text/html": {"schema": {"type": "string"}}}}},
            errors=(503,),
        )
    }
}
