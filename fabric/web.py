"""Request parsing and JSON answers shared by the API routes: strict, with clear 400s."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from aspects.schema_registry import MAX_JSON_DEPTH, json_depth_exceeds

MAX_JSON_BODY = 1 << 20


class ORJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; 413 past 1 MiB, 400 if it is not JSON or not an object."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BODY:
            raise HTTPException(413, f"JSON bodies are limited to {MAX_JSON_BODY} bytes")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, f"The body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise HTTPException(400, "The body must be a JSON object")
    if json_depth_exceeds(value):
        raise HTTPException(400, f"The body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels")
    return value


def required(body: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in body:
        raise HTTPException(400, f"The body needs {key!r}")
    if not isinstance(body[key], kind):
        raise HTTPException(400, f"{key!r} has the wrong type")
    return body[key]


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise HTTPException(400, f"{name} must be between {low} and {high}")
    return value


def query_time(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise HTTPException(400, f"{name} must be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def query_bool(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise HTTPException(400, f"{name} must be true or false")
    return raw in ("true", "1", "yes")


def next_link(request: Request, cursor: str | None) -> str | None:
    """The URL of the next page: this request's query with the new cursor."""
    if cursor is None:
        return None
    params = [(key, value) for key, value in request.query_params.multi_items() if key != "cursor"]
    return f"{request.url.path}?{urlencode([*params, ('cursor', cursor)])}"


def page(request: Request, items: list[Any], cursor: str | None, **extra: Any) -> ORJSONResponse:
    return ORJSONResponse({**extra, "items": items, "next": next_link(request, cursor)})
