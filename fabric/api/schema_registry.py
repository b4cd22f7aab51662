"""`/v1/schemas`: the aspect schemas, built-in and registered."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fabric.openapi.spec import NAMESPACE_NOTE, json_body, ok_json, operation, path_param, ref
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

paths = {
    "/v1/schemas": {
        "get": operation(
            "listSchemas",
            "Every aspect schema, built-in and registered",
            access="user",
            tag="schemas",
            ok={200: ok_json(ref("SchemaList"))},
        ),
        "post": operation(
            "registerSchema",
            "Register an aspect schema (JSON Schema Draft 2020-12, every reference resolvable in the registry)",
            access="user-token",
            tag="schemas",
            body=json_body(ref("JsonSchema")),
            ok={
                200: ok_json(ref("JsonSchema"), "The very same schema was registered already"),
                201: ok_json(ref("JsonSchema"), "Registered"),
            },
            errors=(400, 403, 409, 413, 422),
        ),
    },
    "/v1/schemas/{schema_id}": {
        "get": operation(
            "getSchema",
            "One schema",
            access="user",
            tag="schemas",
            parameters=[
                path_param("schema_id", f"`urn:<ns>:schema:<name>.<version>` or `<name>.<version>` {NAMESPACE_NOTE}")
            ],
            ok={200: ok_json(ref("JsonSchema"))},
            errors=(400, 404),
        )
    },
}
