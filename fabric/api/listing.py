"""What the artifact listings share: the order (`sort`, `order`), the total (`count`) and `uploader=me`."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from fabric.auth.middleware import principal_of
from fabric.openapi.spec import query_param
from fabric.web import query_bool

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
    """`uploader=me`: the caller's user URN. Only `me` is accepted: readers who do not manage an artifact never
    see who uploaded it, so filtering by someone else's address would tell them."""
    value = request.query_params.get("uploader")
    if value is None:
        return None
    principal = principal_of(request)
    if value != "me" and value != principal.email:
        raise HTTPException(400, "uploader accepts only 'me' (the artifacts you uploaded)")
    return principal.user_urn


def wants_count(request: Request) -> bool:
    return query_bool(request, "count")


LISTING_PARAMS: list[dict[str, Any]] = [
    query_param("sort", "created (default), name or size (a size not known yet counts as -1)", {"enum": list(SORTS)}),
    query_param(
        "order", "asc or desc (default: created and size descending, name ascending)", {"enum": ["asc", "desc"]}
    ),
    query_param("count", "true: the answer's `total` counts every match over all pages", {"type": "boolean"}),
]
UPLOADER_PARAM = query_param("uploader", "me: only the artifacts the caller uploaded", {"enum": ["me"]})
