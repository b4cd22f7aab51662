"""Interim (1xx) responses from an ASGI app under uvicorn, for the resumable-upload draft's `104`.

uvicorn writes `100 Continue` itself and nothing else below 200; an app cannot send `104 (Upload Resumption
Supported)`, which tells a draft client where its upload lives before the creation request's body is sent. This
protocol adds that, as an ASGI extension in the style of `http.response.early_hint`:

- the scope of an HTTP/1.1 request carries `extensions["http.response.interim"]`;
- the app sends `{"type": "http.response.interim", "status": 104, "headers": [(name, value), ...]}` before it
  starts the final response; the server writes it at once. After the final response has started, or when the
  client is gone, the message is dropped.

HTTP/1.0 clients get no extension: a server must not send them a 1xx (RFC 9110, section 15.2).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

EXTENSION = "http.response.interim"

REASONS = {103: "Early Hints", 104: "Upload Resumption Supported"}


def interim_head(status: int, headers: list[tuple[bytes, bytes]]) -> bytes:
    """The bytes of one interim response; names and values must not contain line breaks."""
    if not 101 < status < 200:
        raise ValueError(f"an interim response has a 1xx status other than 100 and 101, not {status}")
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Informational')}".encode("ascii")]
    for name, value in headers:
        if any(separator in name + value for separator in (b"\r", b"\n")):
            raise ValueError("a header of an interim response contains a line break")
        lines.append(name + b": " + value)
    return b"\r\n".join(lines) + b"\r\n\r\n"


class InterimHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with `http.response.interim` on every HTTP/1.1 request."""

    def on_headers_complete(self) -> None:
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is None or cycle is previous or self.scope.get("http_version", "1.1") != "1.1":
            return  # an upgrade, or HTTP/1.0
        # The request's task has been created but has not run yet: the scope and `send` it will use can change.
        extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
        extensions[EXTENSION] = {}
        final_send = cycle.send

        async def send(message: Any) -> None:
            if message["type"] != EXTENSION:
                await final_send(message)
            elif not (cycle.response_started or cycle.disconnected or cycle.transport.is_closing()):
                cycle.transport.write(interim_head(message["status"], list(message.get("headers", []))))

        cycle.send = send  # type: ignore[method-assign]
