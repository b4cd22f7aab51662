"""`/v1/schemas`: the aspect schemas, built-in and registered."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fabric.permissions import current_user, require_user_token
from fabric.state import app_state
from fabric.web import ORJSONResponse, json_object


async def list_schemas(request: Request) -> Response:
    schemas = await anyio.to_thread.run_sync(app_state(request).store.list_schemas)
    return ORJSONResponse({"items": schemas})


async def register_schema(request: Request) -> Response:
    require_user_token(request)
    schema = await json_object(request)
    store = app_state(request).store
    registered = await anyio.to_thread.run_sync(lambda: store.register_schema(schema, asserter=current_user(request)))
    return ORJSONResponse(registered, status_code=201, headers={"Location": f"/v1/schemas/{registered['$id']}"})


async def get_schema(request: Request) -> Response:
    schema = await anyio.to_thread.run_sync(app_state(request).store.get_schema, request.path_params["schema_id"])
    return ORJSONResponse(schema)


routes = [
    Route("/v1/schemas", list_schemas, methods=["GET"]),
    Route("/v1/schemas", register_schema, methods=["POST"]),
    Route("/v1/schemas/{schema_id}", get_schema, methods=["GET"]),
]
