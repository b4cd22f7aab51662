"""An artifact's lifecycle over HTTP: create a draft (`POST /v1/artifacts`), change its type and labels
(`PATCH`), add files the fabric already holds (`POST …/files`), seal, lock, delete; and `GET /v1/resolve`, which
turns a `fabric://<project>/<name>[:<version|alias>]` reference into the artifact it names."""

from __future__ import annotations

from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aspects import new_urn
from aspects.lifecycle import check_labels, check_path, check_type, parse_reference
from fabric.auth.middleware import principal_of
from fabric.blobs import valid_sha256
from fabric.ingest import InvalidLink, link_targets
from fabric.names import guess_mime_type, safe_name
from fabric.openapi.spec import URN_PARAM, json_body, ok_json, operation, query_param, ref
from fabric.permissions import (
    artifact_view,
    hide_people,
    manageable_artifact,
    readable_artifact,
    readable_repository,
    reader_of,
    require_user_token,
)
from fabric.state import app_state
from fabric.web import ORJSONResponse, json_object, query_time


def lifecycle_view(request: Request, urn: str, *, deleted: bool = True) -> dict[str, Any]:
    """The artifact as the caller may see it, with its type, labels, state and versions (blocking); with
    `deleted=False` a deleted artifact is 410 Gone (one read of the graph either way)."""
    lifecycle = app_state(request).lifecycle
    artifact = readable_artifact(request, urn, deleted=deleted, linked_by=lifecycle.version_links)
    body = artifact_view(request, artifact)
    body.update(lifecycle.describe(urn, artifact.aspects))
    body.setdefault("state", artifact.status)
    body["versions"] = lifecycle.versions_of_artifact(urn, reader_of(request), versions=artifact.linked_by)
    return body


def with_lifecycle(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Listing items with their `type`, `labels` and `state`, one round trip for the page (blocking)."""
    summaries = app_state(request).lifecycle.summaries([item["urn"] for item in items])
    return [{**item, **summaries.get(item["urn"], {})} for item in items]


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > 4096):
        raise HTTPException(400, f"{key!r} must be a string of at most 4096 characters")
    return value


async def create_artifact(request: Request) -> Response:
    require_user_token(request)
    body = await json_object(request)
    unknown = set(body) - {"name", "type", "labels", "collection", "policy"}
    if unknown:
        raise HTTPException(400, f"unknown keys: {', '.join(sorted(unknown))}")
    if not isinstance(body.get("name"), str):
        raise HTTPException(400, "The body needs 'name', a string")
    name = safe_name(body["name"])
    type_ = check_type(body["type"]) if body.get("type") is not None else None
    labels = check_labels(body.get("labels") or {})
    state = app_state(request)
    try:
        targets = link_targets(
            {key: body.get(key) for key in ("collection", "policy") if isinstance(body.get(key), str)},
            state.settings.namespace,
        )
    except InvalidLink as exc:
        raise HTTPException(400, str(exc)) from None
    principal = principal_of(request)
    urn = new_urn("artifact", ns=state.settings.namespace)

    def create() -> dict[str, Any]:
        state.lifecycle.create_draft(
            urn,
            name=name,
            uploader=principal.user_urn,
            org=principal.org_urn,
            type_=type_,
            labels=labels,
            collection=targets.get("collection"),
            policy=targets.get("policy"),
            properties={"org": principal.org_urn, "uploader_name": principal.display_name},
        )
        return lifecycle_view(request, urn)

    return ORJSONResponse(await anyio.to_thread.run_sync(create), status_code=201)


async def update_artifact(request: Request) -> Response:
    urn = request.path_params["urn"]
    body = await json_object(request)
    if not body or set(body) - {"type", "labels"}:
        raise HTTPException(400, "PATCH changes 'type' and 'labels' only")
    type_ = check_type(body["type"]) if "type" in body else None
    labels = check_labels(body["labels"]) if "labels" in body else None
    user = principal_of(request).user_urn
    lifecycle = app_state(request).lifecycle

    def update() -> dict[str, Any]:
        manageable_artifact(request, urn)
        readable_artifact(request, urn, aspects=False, deleted=False)
        if type_ is not None:
            lifecycle.set_type(urn, type_, asserter=user)
        if labels is not None:
            lifecycle.set_labels(urn, labels, asserter=user)
        return lifecycle_view(request, urn)

    return ORJSONResponse(await anyio.to_thread.run_sync(update))


async def add_file(request: Request) -> Response:
    """Add a file whose bytes the fabric already holds for the caller: 201 if linked, 200 `linked: false` if the
    bytes must be uploaded (tus, with metadata `artifact` and `path`)."""
    urn = request.path_params["urn"]
    body = await json_object(request)
    path = check_path(body.get("path"))
    sha256, size = body.get("sha256"), body.get("size")
    if not isinstance(sha256, str) or not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise HTTPException(400, "The body needs 'sha256' (hex) and 'size' (bytes) besides 'path'")
    md5 = _optional_text(body, "md5")
    mime_type = _optional_text(body, "mime_type") or guess_mime_type(path.rsplit("/", 1)[-1])
    state = app_state(request)
    user = principal_of(request).user_urn

    def link() -> bool:
        manageable_artifact(request, urn)
        if not valid_sha256(sha256):
            raise HTTPException(400, "sha256 must be 64 lowercase hex digits")
        if not state.blobs.exists(sha256):
            return False
        return state.lifecycle.link_file(
            urn,
            path,
            sha256=sha256,
            size=size,
            md5=md5,
            mime_type=mime_type,
            asserter=user,
            reader=reader_of(request),
        )

    linked = await anyio.to_thread.run_sync(link)
    return ORJSONResponse({"artifact": urn, "path": path, "linked": linked}, status_code=201 if linked else 200)


def _transition(action: str) -> Any:
    async def endpoint(request: Request) -> Response:
        urn = request.path_params["urn"]
        body = await json_object(request) if await request.body() else {}
        reason = _optional_text(body, "reason")
        user = principal_of(request).user_urn
        lifecycle = app_state(request).lifecycle

        def run() -> dict[str, Any]:
            manageable_artifact(request, urn)
            if action == "seal":
                lifecycle.seal(urn, asserter=user)
            elif action == "lock":
                lifecycle.lock(urn, asserter=user, reason=reason)
            else:
                readable_artifact(request, urn, aspects=False, deleted=False)
                lifecycle.delete(urn, asserter=user, reason=reason)
                return {"urn": urn, "state": "deleted"}
            return lifecycle_view(request, urn)

        return ORJSONResponse(await anyio.to_thread.run_sync(run))

    return endpoint


async def resolve(request: Request) -> Response:
    reference = request.query_params.get("ref")
    if not reference:
        raise HTTPException(400, "resolve needs ?ref=fabric://<project>/<name>[:<version|alias>]")
    project, name, version = parse_reference(reference)
    at = query_time(request, "at")
    lifecycle = app_state(request).lifecycle

    def run() -> dict[str, Any]:
        repo = readable_repository(request, project, name)
        return dict(
            hide_people(request, {"ref": reference, **lifecycle.get_version(project, name, version, at=at)}, repo.org)
        )

    return ORJSONResponse(await anyio.to_thread.run_sync(run))


routes = [
    Route("/v1/artifacts", create_artifact, methods=["POST"]),
    Route("/v1/artifacts/{urn}", update_artifact, methods=["PATCH"]),
    Route("/v1/artifacts/{urn}", _transition("delete"), methods=["DELETE"]),
    Route("/v1/artifacts/{urn}/files", add_file, methods=["POST"]),
    Route("/v1/artifacts/{urn}/seal", _transition("seal"), methods=["POST"]),
    Route("/v1/artifacts/{urn}/lock", _transition("lock"), methods=["POST"]),
    Route("/v1/resolve", resolve, methods=["GET"]),
]

OBJECT = {"type": "object"}
REASON = json_body({"type": "object", "properties": {"reason": {"type": "string", "maxLength": 4096}}})
LIFECYCLE_ERRORS = (400, 403, 404, 409, 410)

paths = {
    "/v1/artifacts": {
        "post": operation(
            "createArtifact",
            "Create a draft artifact; tus uploads with metadata `artifact` and `path` add its files",
            access="user-token",
            tag="lifecycle",
            body=json_body(
                {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "type": {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,31}$"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "collection": {"type": "string"},
                        "policy": {"type": "string"},
                    },
                }
            ),
            ok={201: ok_json(ref("Artifact"), "The draft")},
            errors=(400, 403, 413, 422),
        )
    },
    "/v1/artifacts/{urn}": {
        "patch": operation(
            "updateArtifact",
            "Change the artifact's type or labels (409 once it is locked)",
            access="manage",
            tag="lifecycle",
            parameters=[URN_PARAM],
            body=json_body(
                {"type": "object", "properties": {"type": {"type": "string"}, "labels": {"type": "object"}}}
            ),
            ok={200: ok_json(ref("Artifact"))},
            errors=(*LIFECYCLE_ERRORS, 413),
        ),
        "delete": operation(
            "deleteArtifact",
            "Delete the artifact: a tombstone in lineage, gone from listings and downloads (409 if locked, "
            "named by a protected alias, or used by a running order)",
            access="manage",
            tag="lifecycle",
            parameters=[URN_PARAM],
            body=REASON,
            ok={200: ok_json(OBJECT)},
            errors=LIFECYCLE_ERRORS,
        ),
    },
    "/v1/artifacts/{urn}/files": {
        "post": operation(
            "linkFile",
            "Add a file to a draft by its sha256 if the fabric holds those bytes for the caller (201), else "
            "answer `linked: false` (200) and the bytes are uploaded",
            access="manage",
            tag="lifecycle",
            parameters=[URN_PARAM],
            body=json_body(
                {
                    "type": "object",
                    "required": ["path", "sha256", "size"],
                    "properties": {
                        "path": {"type": "string"},
                        "sha256": {"type": "string"},
                        "size": {"type": "integer"},
                        "md5": {"type": "string"},
                        "mime_type": {"type": "string"},
                    },
                }
            ),
            ok={200: ok_json(OBJECT, "Not held: upload the bytes"), 201: ok_json(OBJECT, "Linked")},
            errors=(*LIFECYCLE_ERRORS, 413),
        )
    },
    "/v1/artifacts/{urn}/seal": {
        "post": operation(
            "sealArtifact",
            "Draft -> ready once every started upload has finished (409 naming the unfinished paths)",
            access="manage",
            tag="lifecycle",
            parameters=[URN_PARAM],
            ok={200: ok_json(ref("Artifact"))},
            errors=LIFECYCLE_ERRORS,
        )
    },
    "/v1/artifacts/{urn}/lock": {
        "post": operation(
            "lockArtifact",
            "Draft or ready -> locked, one way: its files, name, type and labels cannot change, it cannot be deleted",
            access="manage",
            tag="lifecycle",
            parameters=[URN_PARAM],
            body=REASON,
            ok={200: ok_json(ref("Artifact"))},
            errors=LIFECYCLE_ERRORS,
        )
    },
    "/v1/resolve": {
        "get": operation(
            "resolveReference",
            "The version a `fabric://<project>/<name>[:<number|alias>]` reference names, with its artifact URN",
            access="user",
            tag="repositories",
            parameters=[
                query_param("ref", "fabric://<project>/<name>[:<number|alias>] (latest without one)"),
                query_param("at", "Resolve as of this ISO 8601 time", {"type": "string", "format": "date-time"}),
            ],
            ok={200: ok_json(ref("Version"))},
            errors=(400, 404),
        )
    },
}
