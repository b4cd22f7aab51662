"""A tus-shaped ASGI app that reads every request body and drops it (for `asgi_servers.py`).

POST answers 201 with a Location; PATCH answers 204 with `Upload-Offset` (the request's offset plus the body's
length) and `X-Receive-Calls` (how many `receive()` calls the body took).
"""

from __future__ import annotations

from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    length = calls = 0
    while True:
        message = await receive()
        calls += 1
        length += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    if scope["method"] == "POST":
        headers = [(b"location", b"/files/null"), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
    else:
        offset = int(dict(scope["headers"]).get(b"upload-offset", b"0")) + length
        headers = [(b"upload-offset", str(offset).encode()), (b"x-receive-calls", str(calls).encode())]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
