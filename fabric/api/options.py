"""`OPTIONS` on any API route: 204 with `Allow`, no token needed.

A browser's CORS preflight carries no credentials, so OPTIONS must never need a token. When the server runs with
CORS origins, Starlette's CORSMiddleware (outside this one) answers preflights from allowed origins itself; every
other OPTIONS comes here. Routes that answer OPTIONS themselves (tus discovery on `/v1/uploads`) keep their answer.
The `Allow` list is the same for every value of a path parameter, so it reveals nothing about what exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> tuple[bool, set[str]]:
    """(whether a route itself answers OPTIONS at this path, every method some route answers at this path)."""
    methods: set[str] = set()
    handles_options = False
    probe = {**scope, "method": "OPTIONS"}
    for route in routes:
        match, _ = route.matches(probe)
        if match == Match.FULL:
            handles_options = True
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return handles_options, methods


class OptionsMiddleware:
    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            handles_options, methods = allowed_methods(self.routes, scope)
            if methods and not handles_options:
                allow = ", ".join(sorted({*methods, "OPTIONS"}))
                await Response(status_code=204, headers={"Allow": allow})(scope, receive, send)
                return
        await self.app(scope, receive, send)
