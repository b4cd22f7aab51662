"""An ASGI app served by uvicorn with `fabric serve`'s HTTP protocol, in a thread, on a free loopback port."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from fabric.body_chunks import ServeProtocol


@contextmanager
def serving(app: Any, log_level: str = "warning") -> Iterator[int]:
    """The port `app` answers on until the block ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=free, http=ServeProtocol, loop="uvloop", log_level=log_level)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.02)
    assert server.started
    try:
        yield free
    finally:
        server.should_exit = True
        thread.join(30)
