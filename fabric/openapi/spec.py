"""Small builders for OpenAPI 3.1 path items, so that route modules describe their routes in a few lines.

Each operation carries `x-fabric-access`, who may call it, which the authorisation-matrix test reads:

- `public`: no token needed.
- `user`: any valid token (a compute token too, unless `user-token`).
- `user-token`: a user's own token; a compute token gets 403.
- `read`: the caller must be able to read the artifact named by `{urn}` (404 otherwise).
- `manage`: the caller must manage the artifact named by `{urn}` (404 if it cannot read it, 403 if it can only read).
- `upload-owner`: the upload's uploader or an admin of its organisation (404 otherwise).
"""

from __future__ import annotations

from typing import Any, Literal

Access = Literal["public", "user", "user-token", "read", "manage", "upload-owner"]
PROBLEM = "application/problem+json"
JSON = "application/json"

# Reasons given for each error status this API answers.
ERROR_REASONS = {
    400: "Bad request: a malformed parameter, header or body",
    401: "No valid bearer token",
    403: "The caller may not do this",
    404: "Not found, or not visible to the caller",
    405: "Method not allowed",
    409: "Conflict with the current state",
    410: "Gone",
    412: "Precondition failed (tus version)",
    413: "Too large",
    415: "Unsupported media type",
    416: "Range not satisfiable",
    422: "Well-formed, but refused by a schema",
    460: "Checksum mismatch",
    500: "Server error",
    503: "Not ready",
    507: "Insufficient storage",
}
# Errors any operation may answer: a bad token (when authentication is on) and an unforeseen failure.
COMMON_ERRORS = (401, 500)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def problem_response(status: int) -> dict[str, Any]:
    return {"description": ERROR_REASONS.get(status, "Error"), "content": {PROBLEM: {"schema": ref("Problem")}}}


NAMESPACE_NOTE = "(`<ns>`: the server's namespace word, `fabric` unless `fabric serve --namespace` names another)"


def path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def query_param(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def header_param(
    name: str, description: str, schema: dict[str, Any] | None = None, *, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def operation(
    operation_id: str,
    summary: str,
    *,
    access: Access,
    tag: str,
    ok: dict[int, dict[str, Any]],
    errors: tuple[int, ...] = (),
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """One operation: its success answers as given, every error status as problem+json."""
    responses: dict[str, Any] = {str(status): response for status, response in ok.items()}
    for status in sorted({*errors, *COMMON_ERRORS}):
        if status == 401 and access == "public":
            continue
        responses[str(status)] = problem_response(status)
    op: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "responses": responses,
        "x-fabric-access": access,
    }
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = body
    if access != "public":
        op["security"] = [{"bearer": []}]
    return op


def ok_json(schema: dict[str, Any], description: str = "OK", headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def ok_empty(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if headers:
        answer["headers"] = headers
    return answer


def header(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "schema": schema or {"type": "string"}}


URN_PARAM = path_param("urn", f"An artifact URN, `urn:<ns>:artifact:<uuid>` {NAMESPACE_NOTE}")
LIMIT = query_param("limit", "Page size, 1 to 1000 (default 100)", {"type": "integer", "minimum": 1, "maximum": 1000})
CURSOR = query_param("cursor", "The opaque cursor of the next page, as the previous page's `next` gave it")
