"""RFC 9457 problem details: every error the HTTP API answers is `application/problem+json`."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str | None = None, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    """A problem+json response; `extra` members are added to the body as they are."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)
