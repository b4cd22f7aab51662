"""Sharing: grants on an artifact, what others shared with you, and compute tokens for orders.

A grant is a `grant.1` aspect on the artifact naming a user (`urn:<ns>:user:<email>`) or an organisation
(`urn:<ns>:org:<id>`); its aspect URN is the grant id and revoking it is its retraction, so the history stays.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aspects import ArtifactRecord, Aspect, NotFound, parse_urn
from aspects.artifact_filter import ArtifactFilter
from fabric.api.listing import LISTING_PARAMS, ORG_PARAM, artifact_page, listing_order, org_filter, wants_count
from fabric.auth.middleware import principal_of
from fabric.auth.tokens import mint_token
from fabric.openapi.spec import (
    CURSOR,
    LIMIT,
    NAMESPACE_NOTE,
    URN_PARAM,
    json_body,
    ok_json,
    operation,
    path_param,
    query_param,
    ref,
)
from fabric.permissions import (
    claim_order,
    current_user,
    manageable_artifact,
    reader_of,
    require_user_token,
    server_secret,
)
from fabric.state import app_state
from fabric.urns import fabric_urn
from fabric.web import ORJSONResponse, json_object, page, query_bool
from fabric.wire import ArtifactJSON, AspectJSON, CreatorJSON, GrantJSON, SharedArtifactJSON

GRANT_SCHEMA = "grant.1"
ORDER_TOKEN_TTL = 24 * 3600
MAX_ORDER_TOKEN_TTL = 7 * 24 * 3600


def grant_json(aspect: Aspect) -> dict[str, Any]:
    grantee = str(aspect.content["grantee"])
    parsed = parse_urn(grantee)
    shown = AspectJSON.from_record(aspect)
    return GrantJSON(
        id=aspect.urn,
        artifact=aspect.entity,
        grantee=grantee,
        email=parsed.id if parsed.kind == "user" else None,
        org=parsed.id if parsed.kind != "user" else None,
        granted_by=aspect.asserter,
        granted_at=shown.valid_from,
        revoked_at=shown.valid_to,
        revoked_by=aspect.retracted_by,
    ).to_json()


def _grantee(body: dict[str, Any], namespace: str) -> str:
    """The grantee's URN, spelt as `Principal.user_urn` / `org_urn` spell the caller's."""
    given = [key for key in ("email", "org") if body.get(key) is not None]
    if len(given) != 1 or not isinstance(body[given[0]], str) or not body[given[0]].strip():
        raise HTTPException(400, "The body needs exactly one of 'email' (a user) or 'org' (an organisation id)")
    value = body[given[0]].strip()
    if given[0] == "email" and ("@" not in value or value.startswith("@") or value.endswith("@")):
        raise HTTPException(400, f"{value!r} is not an email address")
    urn = fabric_urn("user" if given[0] == "email" else "org", value, namespace)
    parse_urn(urn)  # characters a URN cannot hold are a 400
    return urn


def _grants(request: Request, urn: str, include_revoked: bool) -> list[Aspect]:
    store = app_state(request).store
    grants: list[Aspect] = []
    cursor = None
    while True:
        found = store.query_aspects(
            entity=urn, schema=GRANT_SCHEMA, include_retracted=include_revoked, limit=1000, cursor=cursor
        )
        grants.extend(found.items)
        if found.next_cursor is None:
            return grants
        cursor = found.next_cursor


async def create_grant(request: Request) -> Response:
    urn = request.path_params["urn"]
    await anyio.to_thread.run_sync(manageable_artifact, request, urn)
    body = await json_object(request)
    state = app_state(request)
    grantee = _grantee(body, state.settings.namespace)

    def grant() -> tuple[Aspect, bool]:
        for existing in _grants(request, urn, include_revoked=False):
            if existing.content.get("grantee") == grantee:
                return existing, False
        return state.store.assert_aspect(urn, GRANT_SCHEMA, {"grantee": grantee}, asserter=current_user(request)), True

    aspect, created = await anyio.to_thread.run_sync(grant)
    location = f"/v1/artifacts/{urn}/access/{aspect.urn}"
    return ORJSONResponse(grant_json(aspect), status_code=201 if created else 200, headers={"Location": location})


async def list_grants(request: Request) -> Response:
    urn = request.path_params["urn"]
    await anyio.to_thread.run_sync(manageable_artifact, request, urn)
    include_revoked = query_bool(request, "include_revoked")
    grants = await anyio.to_thread.run_sync(_grants, request, urn, include_revoked)
    return ORJSONResponse({"artifact": urn, "items": [grant_json(aspect) for aspect in grants]})


async def revoke_grant(request: Request) -> Response:
    urn, grant = request.path_params["urn"], request.path_params["grant"]
    await anyio.to_thread.run_sync(manageable_artifact, request, urn)
    store = app_state(request).store

    def revoke() -> Aspect:
        parse_urn(grant, "aspect")
        aspect = store.get_aspect(grant)
        if aspect.entity != urn or store.registry.name_of(aspect.schema) != GRANT_SCHEMA:
            raise NotFound(f"no grant {grant!r} on {urn}")
        if aspect.valid_to is not None:
            return aspect  # revoked already: revoking is idempotent
        return store.retract_aspect(grant, asserter=current_user(request))

    return ORJSONResponse(grant_json(await anyio.to_thread.run_sync(revoke)))


def shared_json(artifact: ArtifactRecord) -> dict[str, Any]:
    """An artifact shared with the caller, its creator shown only by organisation and display name."""
    full = ArtifactJSON.from_record(artifact)
    org = artifact.org or str(artifact.properties.get("org") or "")
    return SharedArtifactJSON(
        urn=full.urn,
        name=full.name,
        status=full.status,
        created=full.created,
        mime_type=full.mime_type,
        size=full.size,
        md5=full.md5,
        sha256=full.sha256,
        creator=CreatorJSON(parse_urn(org).id if org else None, artifact.properties.get("uploader_name")),
    ).to_json()


async def shared_artifacts(request: Request) -> Response:
    reader = reader_of(request)
    if reader is None:
        listing_order(request)  # the same answer to bad parameters as with authentication
        org_filter(request)
        extra = {"total": 0} if wants_count(request) else {}
        return page(request, [], None, **extra)  # without authentication there is one user: nobody else shares anything
    where = ArtifactFilter(reader=reader, shared=True, org=org_filter(request))
    return await artifact_page(request, where, shared_json)


async def order_token(request: Request) -> Response:
    """A compute token for an order: it uploads, and reads what the caller can read now (not what is shared later)."""
    require_user_token(request)
    order = request.path_params["urn"]
    parse_urn(order, "order")
    await anyio.to_thread.run_sync(claim_order, request, order)  # a compute token acts for the order's owner
    ttl = ORDER_TOKEN_TTL
    if int(request.headers.get("content-length") or 0) > 0:
        body = await json_object(request)
        ttl = body.get("ttl", ORDER_TOKEN_TTL)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not 1 <= ttl <= MAX_ORDER_TOKEN_TTL:
            raise HTTPException(400, f"ttl must be an integer number of seconds from 1 to {MAX_ORDER_TOKEN_TTL}")
    caller = principal_of(request)
    now = time.time()
    scoped = replace(caller, order=order, reads_before=now)
    token = mint_token(server_secret(request), scoped, ttl=ttl)

    def iso(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")

    return ORJSONResponse(
        {"token": token, "order": order, "reads_before": iso(now), "expires": iso(int(now) + ttl)}, status_code=201
    )


routes = [
    Route("/v1/artifacts/{urn}/access", create_grant, methods=["POST"]),
    Route("/v1/artifacts/{urn}/access", list_grants, methods=["GET"]),
    Route("/v1/artifacts/{urn}/access/{grant}", revoke_grant, methods=["DELETE"]),
    Route("/v1/shared/artifacts", shared_artifacts, methods=["GET"]),
    Route("/v1/orders/{urn}/token", order_token, methods=["POST"]),
]

paths = {
    "/v1/artifacts/{urn}/access": {
        "post": operation(
            "createGrant",
            "Share an artifact with a user (by email) or an organisation (by id)",
            access="manage",
            tag="access",
            parameters=[URN_PARAM],
            body=json_body(ref("GrantRequest")),
            ok={200: ok_json(ref("Grant"), "Granted already"), 201: ok_json(ref("Grant"), "Granted")},
            errors=(400, 403, 404, 413),
        ),
        "get": operation(
            "listGrants",
            "The grants of an artifact",
            access="manage",
            tag="access",
            parameters=[URN_PARAM, query_param("include_revoked", "true or false", {"type": "boolean"})],
            ok={200: ok_json(ref("GrantList"))},
            errors=(400, 403, 404),
        ),
    },
    "/v1/artifacts/{urn}/access/{grant}": {
        "delete": operation(
            "revokeGrant",
            "Revoke a grant (idempotent)",
            access="manage",
            tag="access",
            parameters=[URN_PARAM, path_param("grant", "The grant id, an aspect URN")],
            ok={200: ok_json(ref("Grant"))},
            errors=(400, 403, 404),
        )
    },
    "/v1/shared/artifacts": {
        "get": operation(
            "sharedArtifacts",
            "Artifacts others shared with the caller",
            access="user",
            tag="access",
            parameters=[ORG_PARAM, *LISTING_PARAMS, LIMIT, CURSOR],
            ok={200: ok_json(ref("SharedPage"))},
            errors=(400,),
        )
    },
    "/v1/orders/{urn}/token": {
        "post": operation(
            "orderToken",
            "A compute token for an order: it uploads, and reads what the caller can read now",
            access="user-token",
            tag="access",
            parameters=[path_param("urn", f"An order URN, `urn:<ns>:order:<uuid>` {NAMESPACE_NOTE}")],
            body={**json_body(ref("OrderTokenRequest")), "required": False},
            ok={201: ok_json(ref("OrderToken"))},
            errors=(400, 403, 404, 413),
        )
    },
}
