"""Every error the API answers is problem+json, whatever raised it."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from urllib.parse import unquote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from aspects import Conflict, InvalidUrn, NotFound, ValidationFailed
from fabric.auth.tokens import InvalidToken
from fabric.problems import problem
from tus_server import TusError

log = logging.getLogger("fabric")


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    title = _title(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    return problem(exc.status_code, title, detail, headers=dict(exc.headers) if exc.headers else None)


def _title(status: int) -> str:
    """The status's own phrase ("Forbidden"), like every other problem's title; the reason goes in `detail`."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


URN_TEXT = re.compile(r"urn:[^\s'\"]+")


def sent_by_caller(request: Request, text: str) -> bool:
    """Whether every URN `text` names is one the request itself named (in its path or query)."""
    sent = unquote(request.url.path) + " " + unquote(request.url.query)
    return all(urn.rstrip(".,;:)") in sent for urn in URN_TEXT.findall(text))


async def _not_found(request: Request, exc: Exception) -> Response:
    """A 404 says no more than the caller sent: a message naming anything else (say, the hidden artifact an
    aspect belongs to) is replaced by one that names only the request's path."""
    detail = str(exc)
    if not sent_by_caller(request, detail):
        detail = f"nothing at {unquote(request.url.path)} that you may see, or something it names does not exist"
    return problem(404, "Not found", detail)


async def _invalid_urn(request: Request, exc: Exception) -> Response:
    return problem(400, "Invalid URN", str(exc))


async def _validation_failed(request: Request, exc: Exception) -> Response:
    return problem(422, "Schema violation", str(exc), path=getattr(exc, "path", None))


async def _conflict(request: Request, exc: Exception) -> Response:
    return problem(409, "Conflict", str(exc))


async def _tus_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TusError)
    return exc.response()


async def _unauthorized(request: Request, exc: Exception) -> Response:
    return problem(401, "Unauthorized", str(exc), headers={"WWW-Authenticate": 'Bearer realm="datafabric"'})


async def _value_error(request: Request, exc: Exception) -> Response:
    return problem(400, "Bad request", str(exc))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "Internal server error", "the error was logged on the server")


exception_handlers = {
    HTTPException: _http_exception,
    NotFound: _not_found,
    InvalidUrn: _invalid_urn,
    ValidationFailed: _validation_failed,
    Conflict: _conflict,
    TusError: _tus_error,
    InvalidToken: _unauthorized,
    ValueError: _value_error,
    Exception: _unexpected,
}
