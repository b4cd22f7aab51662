"""`/v1/artifacts`, `/v1/collections/{urn}`, `/v1/lineage/{urn}`: reading the graph of artifacts."""

from __future__ import annotations

from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aspects.artifact_filter import ArtifactFilter
from aspects.lifecycle import parse_label_filter, parse_reference
from fabric.api.lifecycle import lifecycle_view, with_lifecycle
from fabric.api.listing import (
    LISTING_PARAMS,
    ORG_PARAM,
    UPLOADER_PARAM,
    artifact_page,
    org_filter,
    uploader_filter,
)
from fabric.openapi.spec import (
    CURSOR,
    LIMIT,
    NAMESPACE_NOTE,
    URN_PARAM,
    ok_json,
    operation,
    path_param,
    query_param,
    ref,
)
from fabric.permissions import artifact_view, readable_repository, reader_of, redactor
from fabric.state import app_state
from fabric.web import ORJSONResponse, page, query_int, query_time

LIST_FILTERS = ("name", "name_prefix", "mime_type", "collection", "schema", "status", "type")


def collection_urn(request: Request, value: str) -> str:
    """A collection named by URN or by plain name (`climate` is `urn:<namespace>:collection:climate`)."""
    return value if value.startswith("urn:") else f"urn:{app_state(request).settings.namespace}:collection:{value}"


async def list_artifacts(request: Request) -> Response:
    reader = reader_of(request)
    filters: dict[str, Any] = {key: request.query_params[key] for key in LIST_FILTERS if key in request.query_params}
    if "mime" in request.query_params:
        filters.setdefault("mime_type", request.query_params["mime"])
    if "collection" in filters:
        filters["collection"] = collection_urn(request, filters["collection"])
    labels = dict(parse_label_filter(text) for text in request.query_params.getlist("label"))
    where = ArtifactFilter(
        **filters,
        labels=labels or None,
        created_before=query_time(request, "created_before"),
        created_after=query_time(request, "created_after"),
        uploader=uploader_filter(request),
        org=org_filter(request),
        reader=reader,
    )
    return await artifact_page(request, where, lambda item: artifact_view(request, item))


async def get_artifact(request: Request) -> Response:
    """The artifact with its aspects, type, labels, state and versions; 410 once deleted."""
    urn = request.path_params["urn"]

    return ORJSONResponse(await anyio.to_thread.run_sync(lambda: lifecycle_view(request, urn, deleted=False)))


async def collection_members(request: Request) -> Response:
    store = app_state(request).store
    urn = collection_urn(request, request.path_params["urn"])
    reader = reader_of(request)
    limit, cursor = query_int(request, "limit", 100, 1, 1000), request.query_params.get("cursor")

    def read() -> tuple[list[dict[str, Any]], str | None]:
        result = store.collection_members(urn, limit=limit, cursor=cursor, reader=reader)
        return with_lifecycle(request, [artifact_view(request, item) for item in result.items]), result.next_cursor

    items, next_cursor = await anyio.to_thread.run_sync(read)
    return page(request, items, next_cursor, collection=urn)


async def lineage(request: Request) -> Response:
    root: str | None = request.path_params.get("urn")
    if root is None:  # /v1/lineage?ref=fabric://<project>/<name>[:<version|alias>]
        reference = request.query_params.get("ref")
        if not reference:
            raise HTTPException(400, "lineage needs a URN in the path or ?ref=fabric://<project>/<name>[:<version>]")
        project, name, version = parse_reference(reference)
        at = query_time(request, "at")

        def resolve() -> str:
            readable_repository(request, project, name)
            return str(app_state(request).lifecycle.get_version(project, name, version, at=at)["artifact"])

        root = await anyio.to_thread.run_sync(resolve)
    lineage_root: str = root
    direction = request.query_params.get("direction", "upstream")
    if direction not in ("upstream", "downstream", "both"):
        raise HTTPException(400, "direction must be upstream, downstream or both")
    store = app_state(request).store
    reader = reader_of(request)
    redact = redactor(request) if reader is not None else None
    lifecycle = app_state(request).lifecycle

    def through_repositories(urns: list[str]) -> set[str]:
        assert reader is not None
        return lifecycle.readable_through_repositories(urns, reader)

    depth, at = query_int(request, "depth", 10, 1, 50), query_time(request, "at")
    result = await anyio.to_thread.run_sync(
        lambda: store.lineage(
            lineage_root,
            direction=direction,
            depth=depth,
            at=at,
            reader=reader,
            redact=redact,
            also_readable=through_repositories if reader is not None else None,
        )
    )
    return ORJSONResponse(result.to_json())


routes = [
    Route("/v1/artifacts", list_artifacts, methods=["GET"]),
    Route("/v1/artifacts/{urn}", get_artifact, methods=["GET"]),
    Route("/v1/collections/{urn}", collection_members, methods=["GET"]),
    Route("/v1/lineage/{urn}", lineage, methods=["GET"]),
    Route("/v1/lineage", lineage, methods=["GET"]),
]

TIME_QUERY = {"type": "string", "format": "date-time"}
LINEAGE_PARAMS = [  # both lineage routes: of an entity by URN, of a version by reference
    query_param("direction", "upstream (default), downstream or both", {"enum": ["upstream", "downstream", "both"]}),
    query_param("depth", "1 to 50 (default 10)", {"type": "integer", "minimum": 1, "maximum": 50}),
    query_param("at", "See the graph as of this ISO 8601 time", TIME_QUERY),
]
paths = {
    "/v1/artifacts": {
        "get": operation(
            "listArtifacts",
            "List the artifacts the caller may read, newest first (or by name or size), in pages",
            access="user",
            tag="artifacts",
            parameters=[
                query_param("name", "Exact name"),
                query_param("name_prefix", "Names that start with this"),
                query_param("mime_type", "Exact media type"),
                query_param("mime", "Alias of mime_type"),
                query_param("collection", "A collection URN"),
                query_param("schema", "Only artifacts with a current aspect of this schema"),
                query_param("status", "pending, draft, ready, abandoned or deleted (deleted ones only when asked)"),
                query_param("type", "Artifact type, e.g. model (file: artifacts without another type)"),
                query_param("label", "key:value; repeat for several (all must hold)"),
                query_param("created_before", "ISO 8601 time", TIME_QUERY),
                query_param("created_after", "ISO 8601 time", TIME_QUERY),
                UPLOADER_PARAM,
                ORG_PARAM,
                *LISTING_PARAMS,
                LIMIT,
                CURSOR,
            ],
            ok={200: ok_json(ref("ArtifactPage"))},
            errors=(400,),
        )
    },
    "/v1/artifacts/{urn}": {
        "get": operation(
            "getArtifact",
            "One artifact and its current aspects",
            access="read",
            tag="artifacts",
            parameters=[URN_PARAM],
            ok={200: ok_json(ref("Artifact"))},
            errors=(400, 404, 410),
        )
    },
    "/v1/collections/{urn}": {
        "get": operation(
            "listCollection",
            "The members of a collection the caller may read",
            access="user",
            tag="artifacts",
            parameters=[
                path_param("urn", f"A collection URN, `urn:<ns>:collection:<name>` {NAMESPACE_NOTE}"),
                LIMIT,
                CURSOR,
            ],
            ok={200: ok_json(ref("ArtifactPage"))},
            errors=(400, 404),
        )
    },
    "/v1/lineage/{urn}": {
        "get": operation(
            "getLineage",
            "Upstream and downstream provenance of an entity; nodes the caller may not read come back redacted",
            access="user",
            tag="artifacts",
            parameters=[
                path_param("urn", "An artifact or order URN"),
                *LINEAGE_PARAMS,
            ],
            ok={200: ok_json(ref("Lineage"))},
            errors=(400, 404),
        )
    },
    "/v1/lineage": {
        "get": operation(
            "getLineageOfReference",
            "Upstream and downstream provenance of an entity; nodes the caller may not read come back redacted",
            access="user",
            tag="artifacts",
            parameters=[
                query_param("ref", "fabric://<project>/<name>[:<number|alias>]: the lineage of the version it names"),
                *LINEAGE_PARAMS,
            ],
            ok={200: ok_json(ref("Lineage"))},
            errors=(400, 404),
        )
    },
}
