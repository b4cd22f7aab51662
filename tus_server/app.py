"""A standalone Starlette app serving only tus, for embedding or testing without the rest of datafabric."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from tus_server.server import TusServer


def create_tus_app(server: TusServer) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with server.running():
            yield

    return Starlette(routes=server.routes, lifespan=lifespan)
