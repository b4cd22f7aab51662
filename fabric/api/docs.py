"""`/openapi.json` and `/docs`: the API's OpenAPI 3.1 description and a page people read, both without a token.

The page is rendered here from the document (no script, nothing fetched from elsewhere): the server has no
network at run time.
"""

from __future__ import annotations

from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from fabric.openapi.spec import ok_json, operation
from fabric.web import ORJSONResponse


def openapi_document(request: Request) -> dict[str, Any]:
    document: dict[str, Any] = request.app.state.openapi
    return document


async def openapi_json(request: Request) -> Response:
    return ORJSONResponse(openapi_document(request))


def _schema_text(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "enum" in schema:
        return " | ".join(str(value) for value in schema["enum"])
    kind = schema.get("type", "any")
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def _operation_html(method: str, path: str, op: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
        f"<td>{'yes' if p.get('required') else ''}</td><td>{escape(_schema_text(p.get('schema', {})))}</td>"
        f"<td>{escape(p.get('description', ''))}</td></tr>"
        for p in op.get("parameters", [])
    )
    params = (
        f"<table><tr><th>parameter</th><th>in</th><th>required</th><th>type</th><th></th></tr>{rows}</table>"
        if rows
        else ""
    )
    body = ""
    if "requestBody" in op:
        kinds = ", ".join(
            f"{escape(media)} ({escape(_schema_text(item.get('schema', {})))})"
            for media, item in op["requestBody"].get("content", {}).items()
        )
        body = f"<p>Body: {kinds}</p>"
    answers = "".join(
        f"<li><b>{escape(status)}</b> {escape(answer.get('description', ''))}"
        f"{' <i>(' + escape(', '.join(answer['content'])) + ')</i>' if answer.get('content') else ''}</li>"
        for status, answer in op["responses"].items()
    )
    return (
        f"<section id='{escape(op['operationId'])}'><h3><code>{method.upper()} {escape(path)}</code></h3>"
        f"<p>{escape(op.get('summary', ''))}</p>"
        f"{'<p>' + escape(op['description']) + '</p>' if op.get('description') else ''}"
        f"<p>Who may call it: <code>{escape(op.get('x-fabric-access', ''))}</code></p>{params}{body}<ul>{answers}</ul>"
        "</section>"
    )


def render_docs(document: dict[str, Any]) -> str:
    sections = "".join(
        _operation_html(method, path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "responses" in op
    )
    info = document["info"]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(info['title'])} API</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto;padding:1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
        "section{border-top:1px solid #ddd}</style></head><body>"
        f"<h1>{escape(info['title'])} API {escape(info['version'])}</h1><p>{escape(info.get('description', ''))}</p>"
        "<p>The machine-readable description: <a href='/openapi.json'>/openapi.json</a> (OpenAPI "
        f"{escape(document['openapi'])}).</p>{sections}</body></html>"
    )


async def docs_page(request: Request) -> Response:
    return HTMLResponse(render_docs(openapi_document(request)))


routes = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs_page, methods=["GET"]),
]

paths = {
    "/openapi.json": {
        "get": operation(
            "openapi",
            "This description (OpenAPI 3.1)",
            access="public",
            tag="operations",
            ok={200: ok_json({"type": "object", "required": ["openapi", "paths"]})},
        )
    },
    "/docs": {
        "get": operation(
            "docs",
            "The description as a page to read",
            access="public",
            tag="operations",
            ok={200: {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
        )
    },
}
