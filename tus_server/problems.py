"""RFC 9457 problem details, the error body of every non-2xx answer."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem(
    status: int, title: str, detail: str | None = None, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    """A problem+json response; `extra` members are added to the body as they are."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


class TusError(Exception):
    """An answer other than success; raised anywhere below a handler and turned into problem+json there."""

    def __init__(
        self, status: int, title: str, detail: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}

    def response(self, headers: dict[str, str] | None = None) -> Response:
        return problem(self.status, self.title, self.detail, headers={**(headers or {}), **self.headers})
