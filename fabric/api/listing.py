"""What the artifact listings share: the order (`sort`, `order`), the total (`count`), `uploader` and `org`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from aspects import ArtifactRecord
from aspects.artifact_filter import ArtifactFilter
from aspects.errors import InvalidUrn
from aspects.urns import parse_urn
from fabric.api.lifecycle import with_lifecycle
from fabric.auth.middleware import principal_of
from fabric.openapi.spec import query_param
from fabric.state import app_state
from fabric.urns import fabric_urn
from fabric.web import page, query_bool, query_int

SORTS = ("created", "name", "size")
# The direction each order takes unless `order` says otherwise: newest, A to Z, largest first.
DEFAULT_DESCENDING = {"created": True, "name": False, "size": True}


def listing_order(request: Request) -> tuple[str, bool]:
    """`sort` (created, name or size) and whether it runs descending (`order=asc|desc`)."""
    sort = request.query_params.get("sort", "created")
    if sort not in SORTS:
        raise HTTPException(400, f"sort must be one of {', '.join(SORTS)}")
    order = request.query_params.get("order")
    if order is None:
        return sort, DEFAULT_DESCENDING[sort]
    if order not in ("asc", "desc"):
        raise HTTPException(400, "order must be asc or desc")
    return sort, order == "desc"


def uploader_filter(request: Request) -> str | None:
    """`uploader`: `me`, an email address or a user URN, as the user's URN. The store matches it only on artifacts
    whose uploader the caller sees anyway (its own, or those it manages): readers who do not manage an artifact
    never see who uploaded it, so an address that names no one, or someone whose uploads the caller cannot see,
    answers the same empty list."""
    value = request.query_params.get("uploader")
    if value is None:
        return None
    principal = principal_of(request)
    if value == "me":
        return principal.user_urn
    return _as_urn(
        request, value, "user", "uploader must be 'me', an email address or a user URN (urn:<ns>:user:<email>)"
    )


def org_filter(request: Request) -> str | None:
    """`org`: an organisation's id (`acme`) or URN, as its URN: what members of it uploaded. Every reader sees an
    artifact's organisation, so this only narrows what the caller reads; an unknown one answers an empty list."""
    value = request.query_params.get("org")
    if value is None:
        return None
    return _as_urn(request, value, "org", "org must be an organisation's id (acme) or URN (urn:<ns>:org:acme)")


def _as_urn(request: Request, value: str, kind: str, refusal: str) -> str:
    """`value` as a URN of `kind`: given as one, or as its bare id in the server's namespace; else a 400."""
    urn = value if value.startswith("urn:") else fabric_urn(kind, value, app_state(request).settings.namespace)
    try:
        parse_urn(urn, kind)
    except InvalidUrn:
        raise HTTPException(400, refusal) from None
    return urn


def wants_count(request: Request) -> bool:
    return query_bool(request, "count")


async def artifact_page(
    request: Request, where: ArtifactFilter, view: Callable[[ArtifactRecord], dict[str, Any]]
) -> Response:
    """One page of the artifacts `where` selects, in the order and from the cursor the query asks for, each as
    `view` shows it with its type, labels and state; and their `total` over all pages if the query asks."""
    store = app_state(request).store
    sort, descending = listing_order(request)
    limit, cursor = query_int(request, "limit", 100, 1, 1000), request.query_params.get("cursor")
    counted = wants_count(request)

    def read() -> tuple[list[dict[str, Any]], str | None, dict[str, int]]:
        result = store.list_artifacts(where, limit=limit, cursor=cursor, sort=sort, descending=descending)
        items = with_lifecycle(request, [view(item) for item in result.items])
        return items, result.next_cursor, ({"total": store.count_artifacts(where)} if counted else {})

    items, next_cursor, extra = await anyio.to_thread.run_sync(read)
    return page(request, items, next_cursor, **extra)


LISTING_PARAMS: list[dict[str, Any]] = [
    query_param("sort", "created (default), name or size (a size not known yet counts as -1)", {"enum": list(SORTS)}),
    query_param(
        "order", "asc or desc (default: created and size descending, name ascending)", {"enum": ["asc", "desc"]}
    ),
    query_param("count", "true: the answer's `total` counts every match over all pages", {"type": "boolean"}),
]
UPLOADER_PARAM = query_param(
    "uploader",
    "me, an email address or a user URN: what that user uploaded, among the artifacts whose uploader the caller sees"
    " (its own, and those it manages as its organisation's admin); anything else it reads is left out",
    {"type": "string"},
)
ORG_PARAM = query_param(
    "org", "an organisation's id or URN: what members of that organisation uploaded", {"type": "string"}
)
