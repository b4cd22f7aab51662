"""Repositories of versions: `/v1/repositories/{project}/{name}` with its versions, aliases, stages and grants.

A repository is created by its first registration and belongs to the registering user's organisation: its
members register versions, move aliases and change stages; a grant on the repository (to a user or an
organisation) reads every version in it. Reads answer 404 to anyone who may not read the repository.
"""

from __future__ import annotations

from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aspects import Aspect, parse_urn
from aspects.lifecycle import Lifecycle, Repository, check_alias, check_dns_label
from fabric.api.sharing import _grantee as grantee_urn
from fabric.api.sharing import grant_json
from fabric.auth.middleware import principal_of
from fabric.openapi.spec import (
    CURSOR,
    LIMIT,
    json_body,
    ok_json,
    operation,
    path_param,
    query_param,
    ref,
)
from fabric.permissions import (
    hide_people,
    manageable_artifact,
    manageable_repository,
    readable_repository,
    reader_of,
    writable_repository,
)
from fabric.state import app_state
from fabric.web import ORJSONResponse, json_object, page, query_bool, query_int, query_time

GRANT_SCHEMA = "grant.1"


def _names(request: Request) -> tuple[str, str]:
    project, name = request.path_params["project"], request.path_params["name"]
    return check_dns_label(project, "project"), check_dns_label(name, "repository name")


def _lifecycle(request: Request) -> Lifecycle:
    return app_state(request).lifecycle


def _ref(request: Request) -> str:
    text = str(request.path_params["ref"])
    if text != "latest" and not text.isdigit():
        check_alias(text)
    return text


def _text(body: dict[str, Any], key: str, default: str = "") -> str:
    value = body.get(key, default)
    if not isinstance(value, str) or len(value) > 4096:
        raise HTTPException(400, f"{key!r} must be a string of at most 4096 characters")
    return value


def _tags(body: dict[str, Any]) -> list[str]:
    tags = body.get("tags", [])
    if not isinstance(tags, list) or len(tags) > 100 or not all(isinstance(t, str) and 0 < len(t) <= 128 for t in tags):
        raise HTTPException(400, "'tags' must be a list of at most 100 strings of 1 to 128 characters")
    return tags


def _content(body: dict[str, Any]) -> dict[str, Any] | None:
    content = body.get("content")
    if content is not None and not isinstance(content, dict):
        raise HTTPException(400, "'content' must be a JSON object")
    return content


def _versions_page(request: Request, project: str, name: str) -> Any:
    return _lifecycle(request).versions(
        project,
        name,
        stage=request.query_params.get("stage"),
        at=query_time(request, "at"),
        include_deleted=query_bool(request, "include_deleted"),
        limit=query_int(request, "limit", 100, 1, 1000),
        cursor=request.query_params.get("cursor"),
    )


async def list_repositories(request: Request) -> Response:
    project = request.query_params.get("project")
    result = await anyio.to_thread.run_sync(
        lambda: _lifecycle(request).list_repositories(
            project=project,
            limit=query_int(request, "limit", 100, 1, 1000),
            cursor=request.query_params.get("cursor"),
            reader=reader_of(request),
        )
    )
    return page(request, [hide_people(request, repo.to_json(), repo.org) for repo in result.items], result.next_cursor)


async def get_repository(request: Request) -> Response:
    project, name = _names(request)

    def read() -> dict[str, Any]:
        repo = readable_repository(request, project, name)
        versions = _versions_page(request, project, name)
        body = {
            **repo.to_json(),
            "aliases": _lifecycle(request).aliases(project, name, at=query_time(request, "at")),
            "versions": {"items": versions.items, "next_cursor": versions.next_cursor},
        }
        return dict(hide_people(request, body, repo.org))

    return ORJSONResponse(await anyio.to_thread.run_sync(read))


async def list_versions(request: Request) -> Response:
    project, name = _names(request)

    def read() -> Any:
        repo = readable_repository(request, project, name)
        return repo, _versions_page(request, project, name)

    repo, result = await anyio.to_thread.run_sync(read)
    return page(request, hide_people(request, result.items, repo.org), result.next_cursor)


async def register_version(request: Request) -> Response:
    project, name = _names(request)
    body = await json_object(request)
    unknown = set(body) - {"artifact", "description", "tags", "content", "order", "aliases"}
    if unknown:
        raise HTTPException(400, f"unknown keys: {', '.join(sorted(unknown))}")
    artifact = body.get("artifact")
    if not isinstance(artifact, str):
        raise HTTPException(400, "The body needs 'artifact', an artifact URN")
    order = body.get("order")
    if order is not None:
        if not isinstance(order, str):
            raise HTTPException(400, "'order' must be an order URN")
        parse_urn(order, "order")
    aliases = body.get("aliases", [])
    if not isinstance(aliases, list) or len(aliases) > 20:
        raise HTTPException(400, "'aliases' must be a list of at most 20 aliases")
    aliases = [check_alias(alias) for alias in aliases]
    description, tags, content = _text(body, "description"), _tags(body), _content(body)
    principal = principal_of(request)

    def register() -> dict[str, Any]:
        manageable_artifact(request, artifact)

        def check_writer(repo: Repository) -> None:
            writable_repository(request, repo)

        return _lifecycle(request).register_version(
            project,
            name,
            artifact,
            asserter=principal.user_urn,
            org=principal.org_urn,
            description=description,
            tags=tags,
            content=content,
            order=order,
            aliases=aliases,
            check_writer=check_writer,
        )

    return ORJSONResponse(await anyio.to_thread.run_sync(register), status_code=201)


async def get_version(request: Request) -> Response:
    project, name = _names(request)
    version = _ref(request)

    def read() -> dict[str, Any]:
        repo = readable_repository(request, project, name)
        found = _lifecycle(request).get_version(project, name, version, at=query_time(request, "at"))
        return dict(hide_people(request, found, repo.org))

    return ORJSONResponse(await anyio.to_thread.run_sync(read))


async def update_version(request: Request) -> Response:
    project, name = _names(request)
    version = _ref(request)
    body = await json_object(request)
    if not body or set(body) - {"description", "tags", "content"}:
        raise HTTPException(400, "PATCH changes 'description', 'tags' and 'content' only")
    changes: dict[str, Any] = {}
    if "description" in body:
        changes["description"] = _text(body, "description")
    if "tags" in body:
        changes["tags"] = _tags(body)
    if "content" in body:
        changes["content"] = _content(body)
    user = principal_of(request).user_urn

    def update() -> dict[str, Any]:
        repo = readable_repository(request, project, name)
        writable_repository(request, repo)
        found = _lifecycle(request).update_version(project, name, version, changes, asserter=user)
        return dict(hide_people(request, found, repo.org))

    return ORJSONResponse(await anyio.to_thread.run_sync(update))


async def set_stage(request: Request) -> Response:
    project, name = _names(request)
    version = _ref(request)
    body = await json_object(request)
    stage = body.get("stage")
    if not isinstance(stage, str):
        raise HTTPException(400, "The body needs 'stage'")
    reason, message = _text(body, "reason"), _text(body, "message")
    user = principal_of(request).user_urn

    def run() -> dict[str, Any]:
        repo = readable_repository(request, project, name)
        writable_repository(request, repo)
        found = _lifecycle(request).set_stage(
            project, name, version, stage, asserter=user, reason=reason, message=message
        )
        return dict(hide_people(request, found, repo.org))

    return ORJSONResponse(await anyio.to_thread.run_sync(run))


async def stage_history(request: Request) -> Response:
    project, name = _names(request)
    version = _ref(request)

    def read() -> list[dict[str, Any]]:
        repo = readable_repository(request, project, name)
        return list(hide_people(request, _lifecycle(request).stage_history(project, name, version), repo.org))

    return ORJSONResponse({"items": await anyio.to_thread.run_sync(read)})


async def list_aliases(request: Request) -> Response:
    project, name = _names(request)

    def read() -> dict[str, Any]:
        repo = readable_repository(request, project, name)
        return dict(
            hide_people(request, _lifecycle(request).aliases(project, name, at=query_time(request, "at")), repo.org)
        )

    return ORJSONResponse({"aliases": await anyio.to_thread.run_sync(read)})


async def put_alias(request: Request) -> Response:
    project, name = _names(request)
    alias = check_alias(request.path_params["alias"])
    body = await json_object(request)
    number = body.get("version")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise HTTPException(400, "The body needs 'version', a version number")
    user = principal_of(request).user_urn

    def run() -> dict[str, Any]:
        repo = readable_repository(request, project, name)
        writable_repository(request, repo)
        found = {"alias": alias, **_lifecycle(request).set_alias(project, name, alias, number, asserter=user)}
        return dict(hide_people(request, found, repo.org))

    return ORJSONResponse(await anyio.to_thread.run_sync(run))


async def delete_alias(request: Request) -> Response:
    project, name = _names(request)
    alias = check_alias(request.path_params["alias"])
    user = principal_of(request).user_urn

    def run() -> None:
        writable_repository(request, readable_repository(request, project, name))
        _lifecycle(request).remove_alias(project, name, alias, asserter=user)

    await anyio.to_thread.run_sync(run)
    return Response(status_code=204)


async def create_grant(request: Request) -> Response:
    project, name = _names(request)
    body = await json_object(request)
    grantee = grantee_urn(body, app_state(request).settings.namespace)
    user = principal_of(request).user_urn

    def run() -> Aspect:
        repo = manageable_repository(request, _lifecycle(request).repository_urn(project, name))
        return app_state(request).store.assert_aspect(repo.urn, GRANT_SCHEMA, {"grantee": grantee}, asserter=user)

    aspect = await anyio.to_thread.run_sync(run)
    return ORJSONResponse(grant_json(aspect), status_code=201)


async def list_grants(request: Request) -> Response:
    project, name = _names(request)
    include_revoked = query_bool(request, "include_revoked")

    def run() -> list[Aspect]:
        repo = manageable_repository(request, _lifecycle(request).repository_urn(project, name))
        return (
            app_state(request)
            .store.query_aspects(entity=repo.urn, schema=GRANT_SCHEMA, include_retracted=include_revoked, limit=1000)
            .items
        )

    return ORJSONResponse({"items": [grant_json(a) for a in await anyio.to_thread.run_sync(run)]})


async def revoke_grant(request: Request) -> Response:
    project, name = _names(request)
    grant = request.path_params["grant"]
    user = principal_of(request).user_urn

    def run() -> Aspect:
        repo = manageable_repository(request, _lifecycle(request).repository_urn(project, name))
        store = app_state(request).store
        aspect = store.get_aspect(grant)
        if aspect.entity != repo.urn or not aspect.schema.endswith(f":{GRANT_SCHEMA}"):
            raise HTTPException(404, f"{project}/{name} has no grant {grant!r}")
        return store.retract_aspect(grant, asserter=user)

    return ORJSONResponse(grant_json(await anyio.to_thread.run_sync(run)))


BASE = "/v1/repositories/{project}/{name}"
routes = [
    Route("/v1/repositories", list_repositories, methods=["GET"]),
    Route(BASE, get_repository, methods=["GET"]),
    Route(BASE + "/versions", list_versions, methods=["GET"]),
    Route(BASE + "/versions", register_version, methods=["POST"]),
    Route(BASE + "/versions/{ref}", get_version, methods=["GET"]),
    Route(BASE + "/versions/{ref}", update_version, methods=["PATCH"]),
    Route(BASE + "/versions/{ref}/stage", set_stage, methods=["POST"]),
    Route(BASE + "/versions/{ref}/stages", stage_history, methods=["GET"]),
    Route(BASE + "/aliases", list_aliases, methods=["GET"]),
    Route(BASE + "/aliases/{alias}", put_alias, methods=["PUT"]),
    Route(BASE + "/aliases/{alias}", delete_alias, methods=["DELETE"]),
    Route(BASE + "/access", create_grant, methods=["POST"]),
    Route(BASE + "/access", list_grants, methods=["GET"]),
    Route(BASE + "/access/{grant}", revoke_grant, methods=["DELETE"]),
]

PROJECT = path_param("project", "The project: a DNS label (lowercase letters, digits, hyphens; 1-63)")
NAME = path_param("name", "The repository's name in the project: a DNS label")
REF = path_param("ref", "A version number, an alias, or `latest`")
ALIAS = path_param("alias", "An alias, e.g. `champion` or `prod`")
AT = query_param("at", "As of this ISO 8601 time", {"type": "string", "format": "date-time"})
STAGE = query_param("stage", "Only versions in this stage")
REPO = [PROJECT, NAME]
OBJECT = {"type": "object"}
READ_ERRORS = (400, 404)
WRITE_ERRORS = (400, 403, 404, 409, 413)


def _op(operation_id: str, summary: str, access: str, ok: dict[int, Any], errors: tuple[int, ...], **kw: Any) -> Any:
    return operation(operation_id, summary, access=access, tag="repositories", ok=ok, errors=errors, **kw)  # type: ignore[arg-type]


paths = {
    "/v1/repositories": {
        "get": _op(
            "listRepositories",
            "Repositories of the caller's organisation and those granted to it",
            "user",
            {200: ok_json(OBJECT)},
            (400,),
            parameters=[query_param("project", "Only this project"), LIMIT, CURSOR],
        )
    },
    BASE: {
        "get": _op(
            "getRepository",
            "The repository, its aliases and its versions (newest first, paged)",
            "user",
            {200: ok_json(ref("Repository"))},
            READ_ERRORS,
            parameters=[*REPO, STAGE, AT, query_param("include_deleted", "Include deleted versions"), LIMIT, CURSOR],
        )
    },
    BASE + "/versions": {
        "get": _op(
            "listVersions",
            "The versions, newest first, paged; filter by stage; as of a time",
            "user",
            {200: ok_json(ref("VersionPage"))},
            READ_ERRORS,
            parameters=[*REPO, STAGE, AT, query_param("include_deleted", "Include deleted versions"), LIMIT, CURSOR],
        ),
        "post": _op(
            "registerVersion",
            "Register an artifact as the next version (the repository is created on first use)",
            "user-token",
            {201: ok_json(ref("Version"))},
            WRITE_ERRORS,
            parameters=REPO,
            body=json_body(
                {
                    "type": "object",
                    "required": ["artifact"],
                    "properties": {
                        "artifact": {"type": "string"},
                        "description": {"type": "string"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "content": {"type": "object"},
                        "order": {"type": "string"},
                        "aliases": {"type": "array", "items": {"type": "string"}},
                    },
                }
            ),
        ),
    },
    BASE + "/versions/{ref}": {
        "get": _op(
            "getVersion",
            "One version by number, alias or latest; `at` answers which version it named then",
            "user",
            {200: ok_json(ref("Version"))},
            READ_ERRORS,
            parameters=[*REPO, REF, AT],
        ),
        "patch": _op(
            "updateVersion",
            "Change a version's description, tags and content (409 once its artifact is locked)",
            "user-token",
            {200: ok_json(ref("Version"))},
            WRITE_ERRORS,
            parameters=[*REPO, REF],
            body=json_body(OBJECT),
        ),
    },
    BASE + "/versions/{ref}/stage": {
        "post": _op(
            "setStage",
            "Move the version to a stage, with a reason and message (only a locked version enters production)",
            "user-token",
            {200: ok_json(ref("Version"))},
            WRITE_ERRORS,
            parameters=[*REPO, REF],
            body=json_body(
                {
                    "type": "object",
                    "required": ["stage"],
                    "properties": {
                        "stage": {"type": "string"},
                        "reason": {"type": "string"},
                        "message": {"type": "string"},
                    },
                }
            ),
        )
    },
    BASE + "/versions/{ref}/stages": {
        "get": _op(
            "stageHistory",
            "Every stage the version was in: who, when, why",
            "user",
            {200: ok_json(OBJECT)},
            READ_ERRORS,
            parameters=[*REPO, REF],
        )
    },
    BASE + "/aliases": {
        "get": _op(
            "listAliases",
            "The aliases and the versions they name (as of a time)",
            "user",
            {200: ok_json(OBJECT)},
            READ_ERRORS,
            parameters=[*REPO, AT],
        )
    },
    BASE + "/aliases/{alias}": {
        "put": _op(
            "setAlias",
            "Point the alias at a version (a retraction and an assertion when it moves)",
            "user-token",
            {200: ok_json(OBJECT)},
            WRITE_ERRORS,
            parameters=[*REPO, ALIAS],
            body=json_body({"type": "object", "required": ["version"], "properties": {"version": {"type": "integer"}}}),
        ),
        "delete": _op(
            "deleteAlias",
            "Remove the alias",
            "user-token",
            {204: {"description": "Removed"}},
            (400, 403, 404),
            parameters=[*REPO, ALIAS],
        ),
    },
    BASE + "/access": {
        "post": _op(
            "grantRepository",
            "Let a user (email) or an organisation (org) read the repository and every version in it",
            "manage",
            {201: ok_json(ref("Grant"))},
            (400, 403, 404, 413),
            parameters=REPO,
            body=json_body({"type": "object", "properties": {"email": {"type": "string"}, "org": {"type": "string"}}}),
        ),
        "get": _op(
            "listRepositoryGrants",
            "The repository's grants",
            "manage",
            {200: ok_json(OBJECT)},
            (400, 403, 404),
            parameters=[*REPO, query_param("include_revoked", "Include revoked grants")],
        ),
    },
    BASE + "/access/{grant}": {
        "delete": _op(
            "revokeRepositoryGrant",
            "Revoke a grant on the repository",
            "manage",
            {200: ok_json(ref("Grant"))},
            (400, 403, 404, 409),
            parameters=[*REPO, path_param("grant", "The grant id (an aspect URN)")],
        )
    },
}
