"""Client exceptions. Server problems (problem+json) map onto these by status, with the server's detail."""

from __future__ import annotations

from typing import Any

import httpx


class FabricError(Exception):
    """Anything the client could not do. `status` is the HTTP status when a server said no."""

    status: int | None = None

    def __init__(self, message: str, *, status: int | None = None, problem: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.problem = problem or {}


class ConfigurationError(FabricError, ValueError):
    """The client was configured inconsistently (e.g. a token without a URL)."""


class BadRequest(FabricError):
    status = 400


class Unauthorized(FabricError):
    status = 401


class Forbidden(FabricError):
    status = 403


class NotFound(FabricError, LookupError):
    status = 404


class Gone(NotFound):
    """410: the artifact was deleted (it stays in lineage as a tombstone; its bytes are gone)."""


class Conflict(FabricError):
    status = 409


class ValidationFailed(FabricError):
    """The content does not satisfy its aspect schema (422)."""

    status = 422


class ServerError(FabricError):
    status = 500


class UploadFailed(FabricError):
    """An upload could not be finished within its retries."""


class IntegrityError(FabricError):
    """Bytes received or sent do not match their digest."""


_BY_STATUS: dict[int, type[FabricError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    410: Gone,
    409: Conflict,
    422: ValidationFailed,
}


def error_for(response: httpx.Response) -> FabricError:
    """The exception for an error response, carrying the problem's title and detail in its message."""
    problem: dict[str, Any] = {}
    try:
        body = response.json()
        if isinstance(body, dict):
            problem = body
    except ValueError:
        pass
    title = problem.get("title") or response.reason_phrase or "Error"
    detail = problem.get("detail")
    message = f"{title}: {detail}" if detail else str(title)
    if not problem and response.text and len(response.text) < 300 and "<" not in response.text:
        message = f"{message}: {response.text.strip()}"
    status = response.status_code
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else FabricError)
    return kind(
        f"{message} ({response.request.method} {response.request.url.path} -> {status})", status=status, problem=problem
    )


def raise_for_problem(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        if not response.is_closed:
            response.read()
        raise error_for(response)
    return response
