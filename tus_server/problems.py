"""RFC 9457 problem details, the error body of every non-2xx answer."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    *,
    problem_type: str = "about:blank",
    **extra: Any,
) -> Response:
    """A problem+json response; `extra` members are added to the body as they are."""
    body: dict[str, Any] = {"type": problem_type, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


class TusError(Exception):
    """An answer other than success; raised anywhere below a handler and turned into problem+json there.

    The protocol's own errors are named in `tus_server.errors`; hooks may raise their own.
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        *,
        problem_type: str = "about:blank",
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.problem_type = problem_type
        self.members: dict[str, Any] = {}  # extension members of the problem body (e.g. the draft's offsets)

    def response(self, headers: dict[str, str] | None = None, *, typed: bool = False) -> Response:
        """The problem+json answer; its `type` is the registered problem type only when `typed` (the IETF
        draft's answers), so tus 1.0 answers stay `about:blank` as they always were."""
        return problem(
            self.status,
            self.title,
            self.detail,
            headers={**(headers or {}), **self.headers},
            problem_type=self.problem_type if typed else "about:blank",
            **self.members,
        )
