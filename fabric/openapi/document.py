"""Joining the path items of the route modules into one OpenAPI 3.1 document, and comparing it with the routes."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.routing import BaseRoute, Mount, Route

from fabric.openapi.components import SCHEMAS, SECURITY_SCHEMES

OPENAPI_VERSION = "3.1.0"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


def build_document(path_items: Iterable[Mapping[str, Mapping[str, Any]]], *, version: str) -> dict[str, Any]:
    """One document from several `{path: {method: operation}}` mappings; a path and method described twice is an
    error, so two modules cannot silently describe one route differently."""
    paths: dict[str, dict[str, Any]] = {}
    for items in path_items:
        for path, operations in items.items():
            target = paths.setdefault(path, {})
            for method, op in operations.items():
                if method in target:
                    raise ValueError(f"{method.upper()} {path} is described twice")
                target[method] = copy.deepcopy(op)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "datafabric",
            "version": version,
            "description": "Resumable tus uploads, a provenance graph of schema-validated aspects, access control. "
            "Every error is `application/problem+json` (RFC 9457).",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }


CONVERTOR = re.compile(r"{(\w+):\w+}")


def route_operations(routes: Iterable[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    """(METHOD, path) of every route; the HEAD Starlette adds to each GET route is left out unless it is the only
    GET-less HEAD, since a HEAD mirrors its GET."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Mount):
            found |= route_operations(route.routes, prefix + route.path)
        elif isinstance(route, Route) and route.include_in_schema:
            methods = set(route.methods or ())
            if "GET" in methods:
                methods.discard("HEAD")
            path = CONVERTOR.sub(r"{\1}", prefix + route.path)  # `{path:path}` is described as `{path}`
            found |= {(method, path) for method in methods}
    return found


def described_operations(document: Mapping[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS and not (method == "head" and "get" in item)
    }
