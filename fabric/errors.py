"""Every error the API answers is problem+json, whatever raised it."""

from __future__ import annotations

import logging
from http import HTTPStatus

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
    return problem(exc.status_code, title, detail, headers=exc.headers)


def _title(status: int) -> str:
    """The status's own phrase ("Forbidden"), like every other problem's title; the reason goes in `detail`."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _not_found(request: Request, exc: Exception) -> Response:
    return problem(404, "Not found", str(exc))


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
