"""`/v1/aspects`: assert, read, query, update (retract + assert) and retract aspects."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fabric.openapi.spec import (
    CURSOR,
    LIMIT,
    NAMESPACE_NOTE,
    json_body,
    ok_json,
    operation,
    path_param,
    query_param,
    ref,
)
from fabric.permissions import (
    aspect_views,
    check_assert,
    check_change,
    current_user,
    reader_of,
    require_readable_entity,
    visible_aspects,
)
from fabric.state import app_state
from fabric.web import ORJSONResponse, json_object, page, query_bool, query_int, query_time, required
from fabric.wire import AspectJSON


async def assert_aspect(request: Request) -> Response:
    body = await json_object(request)
    entity = required(body, "entity", str)
    schema = required(body, "schema", str)
    content = required(body, "content", (dict, list, str, int, float, bool))
    store = app_state(request).store
    await anyio.to_thread.run_sync(check_assert, request, entity, schema, content)
    aspect = await anyio.to_thread.run_sync(
        lambda: store.assert_aspect(entity, schema, content, asserter=current_user(request))
    )
    return ORJSONResponse(
        AspectJSON.from_record(aspect).to_json(), status_code=201, headers={"Location": f"/v1/aspects/{aspect.urn}"}
    )


async def query_aspects(request: Request) -> Response:
    store = app_state(request).store
    params = request.query_params
    reader = reader_of(request)
    await anyio.to_thread.run_sync(require_readable_entity, request, params.get("entity"))
    result = await anyio.to_thread.run_sync(
        lambda: store.query_aspects(
            entity=params.get("entity"),
            schema=params.get("schema"),
            at=query_time(request, "at"),
            include_retracted=query_bool(request, "include_retracted"),
            limit=query_int(request, "limit", 100, 1, 1000),
            cursor=params.get("cursor"),
            reader=reader,
        )
    )
    visible = await anyio.to_thread.run_sync(visible_aspects, request, result.items)
    items = await anyio.to_thread.run_sync(aspect_views, request, visible)
    return page(request, items, result.next_cursor)


async def get_aspect(request: Request) -> Response:
    store = app_state(request).store
    reader = reader_of(request)
    aspect = await anyio.to_thread.run_sync(lambda: store.get_aspect(request.path_params["urn"], reader=reader))
    await anyio.to_thread.run_sync(require_readable_entity, request, aspect.entity)
    return ORJSONResponse((await anyio.to_thread.run_sync(aspect_views, request, [aspect]))[0])


async def update_aspect(request: Request) -> Response:
    body = await json_object(request)
    content = required(body, "content", (dict, list, str, int, float, bool))
    store = app_state(request).store
    await anyio.to_thread.run_sync(check_change, request, request.path_params["urn"], content)
    aspect = await anyio.to_thread.run_sync(
        lambda: store.update_aspect(request.path_params["urn"], content, asserter=current_user(request))
    )
    return ORJSONResponse(AspectJSON.from_record(aspect).to_json(), headers={"Location": f"/v1/aspects/{aspect.urn}"})


async def retract_aspect(request: Request) -> Response:
    store = app_state(request).store
    await anyio.to_thread.run_sync(check_change, request, request.path_params["urn"])
    aspect = await anyio.to_thread.run_sync(
        lambda: store.retract_aspect(request.path_params["urn"], asserter=current_user(request))
    )
    return ORJSONResponse(AspectJSON.from_record(aspect).to_json())


routes = [
    Route("/v1/aspects", assert_aspect, methods=["POST"]),
    Route("/v1/aspects", query_aspects, methods=["GET"]),
    Route("/v1/aspects/{urn}", get_aspect, methods=["GET"]),
    Route("/v1/aspects/{urn}", update_aspect, methods=["PUT"]),
    Route("/v1/aspects/{urn}", retract_aspect, methods=["DELETE"]),
]

ASPECT_URN = path_param("urn", f"An aspect URN, `urn:<ns>:aspect:<uuid>` {NAMESPACE_NOTE}")
paths = {
    "/v1/aspects": {
        "post": operation(
            "assertAspect",
            "Assert an aspect on an entity; the content is validated by the schema",
            access="user-token",
            tag="aspects",
            body=json_body(ref("AspectAssertion")),
            ok={201: ok_json(ref("Aspect"), "Asserted", {"Location": {"schema": {"type": "string"}}})},
            errors=(400, 403, 404, 409, 413, 422),
        ),
        "get": operation(
            "queryAspects",
            "Aspects by entity and schema, as of a time",
            access="user",
            tag="aspects",
            parameters=[
                query_param("entity", "An entity URN"),
                query_param("schema", "A schema id"),
                query_param("at", "ISO 8601 time", {"type": "string", "format": "date-time"}),
                query_param("include_retracted", "true or false", {"type": "boolean"}),
                LIMIT,
                CURSOR,
            ],
            ok={200: ok_json(ref("AspectPage"))},
            errors=(400, 404),
        ),
    },
    "/v1/aspects/{urn}": {
        "get": operation(
            "getAspect",
            "One aspect",
            access="user",
            tag="aspects",
            parameters=[ASPECT_URN],
            ok={200: ok_json(ref("Aspect"))},
            errors=(400, 404),
        ),
        "put": operation(
            "updateAspect",
            "Replace an aspect's content (a retraction and a new assertion)",
            access="user-token",
            tag="aspects",
            parameters=[ASPECT_URN],
            body=json_body(ref("AspectUpdate")),
            ok={200: ok_json(ref("Aspect"))},
            errors=(400, 403, 404, 409, 413, 422),
        ),
        "delete": operation(
            "retractAspect",
            "Retract an aspect (its history stays)",
            access="user-token",
            tag="aspects",
            parameters=[ASPECT_URN],
            ok={200: ok_json(ref("Aspect"))},
            errors=(400, 403, 404, 409),
        ),
    },
}
