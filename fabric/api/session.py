"""Who the caller is (`GET /v1/me`) and the portal's one-time sign-in codes (`/v1/auth/codes`, `/v1/auth/exchange`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fabric.auth.middleware import principal_of
from fabric.auth.signin import CodeBook
from fabric.openapi.spec import json_body, ok_json, operation
from fabric.permissions import require_user_token
from fabric.state import app_state
from fabric.web import ORJSONResponse, json_object, required

EXCHANGE_PATH = "/v1/auth/exchange"


def signin_codes(request: Request) -> CodeBook:
    return app_state(request).signin


async def me(request: Request) -> Response:
    principal = principal_of(request)
    return ORJSONResponse(
        {
            "email": principal.email,
            "org": principal.org,
            "name": principal.display_name,
            "admin": principal.admin,
            "auth": not app_state(request).settings.auth_disabled,
        }
    )


async def create_code(request: Request) -> Response:
    """A one-time code for the caller's own token; the portal link carries it in the fragment."""
    if app_state(request).settings.auth_disabled:
        raise HTTPException(400, "this server runs without authentication: open the portal at / directly")
    require_user_token(request)
    token = request.headers["authorization"].partition(" ")[2].strip()
    code, ttl = await anyio.to_thread.run_sync(signin_codes(request).issue, token)
    expires = datetime.now(UTC) + timedelta(seconds=ttl)
    return ORJSONResponse(
        {
            "code": code,
            "url": f"{request.base_url}#signin={code}",
            "expires": expires.isoformat().replace("+00:00", "Z"),
        },
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


async def exchange_code(request: Request) -> Response:
    body = await json_object(request)
    code = required(body, "code", str)
    token = await anyio.to_thread.run_sync(signin_codes(request).redeem, code.strip())
    if token is None:
        raise HTTPException(400, "this sign-in code is unknown, used already or expired: run `fabric login` again")
    return ORJSONResponse({"token": token}, headers={"Cache-Control": "no-store"})


routes = [
    Route("/v1/me", me, methods=["GET"]),
    Route("/v1/auth/codes", create_code, methods=["POST"]),
    Route(EXCHANGE_PATH, exchange_code, methods=["POST"]),
]

_ME = {
    "type": "object",
    "required": ["email", "org", "name", "admin", "auth"],
    "properties": {
        "email": {"type": "string"},
        "org": {"type": "string"},
        "name": {"type": "string"},
        "admin": {"type": "boolean"},
        "auth": {"type": "boolean", "description": "false when the server runs without authentication"},
    },
}
_CODE = {
    "type": "object",
    "required": ["code", "url", "expires"],
    "properties": {
        "code": {"type": "string", "description": "good once, for two minutes"},
        "url": {"type": "string", "description": "the portal's address with the code in its fragment"},
        "expires": {"type": "string", "format": "date-time"},
    },
}
_EXCHANGE = {"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}}
_TOKEN = {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}

paths = {
    "/v1/me": {
        "get": operation(
            "getMe",
            "Who the caller is: email, organisation, display name, admin, and whether tokens are required",
            access="user",
            tag="sign-in",
            ok={200: ok_json(_ME)},
        )
    },
    "/v1/auth/codes": {
        "post": operation(
            "createSignInCode",
            "A one-time code for the caller's own token; open the returned url to be signed in to the portal",
            access="user-token",
            tag="sign-in",
            ok={201: ok_json(_CODE, "Created")},
            errors=(400, 403),
            description="The code travels in the URL's fragment, which browsers never send to a server; the portal "
            "exchanges it once. 400 when the server runs without authentication.",
        )
    },
    EXCHANGE_PATH: {
        "post": operation(
            "exchangeSignInCode",
            "The token for a one-time sign-in code (once; the code expires after two minutes)",
            access="public",
            tag="sign-in",
            ok={200: ok_json(_TOKEN)},
            errors=(400, 413),
            body=json_body(_EXCHANGE),
        )
    },
}
