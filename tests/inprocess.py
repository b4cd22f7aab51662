"""The fabric app in this process, reached through httpx's ASGI transport: no server process, no socket.

httpx's `ASGITransport` is asynchronous; the API tests are synchronous, so `SyncASGITransport` runs it in an
anyio blocking portal (an event loop on a thread of its own), which also runs the app's lifespan (recovery,
the sweeper, maintenance) for as long as the `InProcessServer` is open. Tests that kill, fault or interoperate
with real clients keep a real `fabric serve` (tests/server_process.py).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.applications import Starlette

from fabric.app import create_app
from fabric.settings import Settings

BASE_URL = "http://testserver"


class SyncASGITransport(httpx.BaseTransport):
    """A synchronous httpx transport that hands each request to `httpx.ASGITransport` on the portal's loop."""

    def __init__(self, portal: BlockingPortal, app: Starlette) -> None:
        self.portal = portal
        self.transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def call() -> tuple[int, list[tuple[bytes, bytes]], bytes, dict[str, Any]]:
            async_request = httpx.Request(
                request.method, request.url, headers=request.headers, content=body, extensions=request.extensions
            )
            response = await self.transport.handle_async_request(async_request)
            content = await response.aread()
            return response.status_code, response.headers.raw, content, response.extensions

        status, headers, content, extensions = self.portal.call(call)
        return httpx.Response(status, headers=headers, content=content, extensions=extensions)


class InProcessServer:
    """`create_app(settings)` with its lifespan running; `client()` gives an httpx.Client bound to it."""

    def __init__(self, data_dir: Path, *, graph_url: str | None = None, **settings: Any) -> None:
        self.settings = Settings(data_dir=data_dir, graph_url=graph_url, **settings)
        self.url = BASE_URL
        self._stack = contextlib.ExitStack()
        self.app: Starlette | None = None
        self.portal: BlockingPortal | None = None

    def __enter__(self) -> InProcessServer:
        try:
            self.portal = self._stack.enter_context(start_blocking_portal())
            self.app = create_app(self.settings)
            self._stack.enter_context(
                self.portal.wrap_async_context_manager(self.app.router.lifespan_context(self.app))
            )
        except BaseException:
            self._stack.close()
            raise
        return self

    def client(self, **kwargs: Any) -> httpx.Client:
        assert self.portal is not None and self.app is not None, "enter the server first"
        client = httpx.Client(transport=SyncASGITransport(self.portal, self.app), base_url=self.url, **kwargs)
        self._stack.callback(client.close)
        return client

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()
