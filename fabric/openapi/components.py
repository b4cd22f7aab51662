"""The shared JSON shapes of the API (`components.schemas`), referenced by the path items."""

from __future__ import annotations

from typing import Any

NULLABLE_STRING = {"type": ["string", "null"]}
TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details: the body of every error answer.",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 100, "maximum": 599},
            "detail": {"type": "string"},
            "path": NULLABLE_STRING,
        },
    },
    "Aspect": {
        "type": "object",
        "required": ["urn", "entity", "schema", "content", "asserter", "valid_from", "valid_to"],
        "properties": {
            "urn": {"type": "string"},
            "entity": {"type": "string"},
            "schema": {"type": "string"},
            "content": {},
            "asserter": NULLABLE_STRING,
            "valid_from": TIME,
            "valid_to": TIME,
            "retracted_by": NULLABLE_STRING,
            "rel": NULLABLE_STRING,
            "target": NULLABLE_STRING,
        },
    },
    "Artifact": {
        "type": "object",
        "required": ["urn", "name", "status"],
        "properties": {
            "urn": {"type": "string"},
            "name": NULLABLE_STRING,
            "status": {"enum": ["pending", "draft", "ready", "abandoned", "deleted"]},
            "uploader": {**NULLABLE_STRING, "description": "shown only to who manages the artifact"},
            "creator": {
                "type": "object",
                "description": "who made it, for readers who do not manage it",
                "properties": {"org": NULLABLE_STRING, "name": NULLABLE_STRING},
            },
            "created": TIME,
            "mime_type": NULLABLE_STRING,
            "size": {"type": ["integer", "null"]},
            "md5": {
                **NULLABLE_STRING,
                "description": "null unless computed: by a server run with --md5, or for an upload whose metadata has the key md5",
            },
            "sha256": NULLABLE_STRING,
            "location": NULLABLE_STRING,
            "properties": {"type": "object"},
            "org": NULLABLE_STRING,
            "aspects": {"type": "array", "items": {"$ref": "#/components/schemas/Aspect"}},
        },
    },
    "Version": {
        "type": "object",
        "properties": {
            "repository": {"type": "string", "description": "<project>/<name>"},
            "number": {"type": "integer", "minimum": 1},
            "reference": {"type": "string", "description": "fabric://<project>/<name>:<number>"},
            "artifact": {"type": "string"},
            "description": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "content": {"type": ["object", "null"]},
            "order": NULLABLE_STRING,
            "registered_by": {"type": "string"},
            "registered": TIME,
            "status": NULLABLE_STRING,
            "stage": NULLABLE_STRING,
            "aliases": {"type": "array", "items": {"type": "string"}},
        },
    },
    "VersionPage": {
        "type": "object",
        "required": ["items", "next"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Version"}},
            "next": NULLABLE_STRING,
        },
    },
    "Repository": {
        "type": "object",
        "properties": {
            "urn": {"type": "string"},
            "project": {"type": "string"},
            "name": {"type": "string"},
            "org": NULLABLE_STRING,
            "creator": {"type": "string"},
            "created": TIME,
            "aliases": {"type": "object"},
            "versions": {"$ref": "#/components/schemas/VersionPage"},
        },
    },
    "ArtifactPage": {
        "type": "object",
        "required": ["items", "next"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Artifact"}},
            "next": NULLABLE_STRING,
            "collection": {"type": "string"},
            "total": {"type": "integer", "description": "Every match over all pages (with count=true)"},
        },
    },
    "AspectPage": {
        "type": "object",
        "required": ["items", "next"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Aspect"}},
            "next": NULLABLE_STRING,
        },
    },
    "JsonSchema": {
        "type": "object",
        "description": "A JSON Schema (Draft 2020-12) with `$id` `urn:<ns>:schema:<name>.<version>` (`<ns>`: the server's namespace "
        "word, `fabric` by default), or an `$id` of your own",
        "required": ["$id"],
        "properties": {"$id": {"type": "string"}},
    },
    "SchemaList": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/JsonSchema"}}},
    },
    "AspectAssertion": {
        "type": "object",
        "required": ["entity", "schema", "content"],
        "properties": {"entity": {"type": "string"}, "schema": {"type": "string"}, "content": {}},
    },
    "AspectUpdate": {"type": "object", "required": ["content"], "properties": {"content": {}}},
    "Lineage": {
        "type": "object",
        "required": ["root", "nodes", "edges", "truncated"],
        "properties": {
            "root": {"type": "string"},
            "nodes": {"type": "array", "items": {"type": "object", "required": ["urn"]}},
            "edges": {"type": "array", "items": {"type": "object"}},
            "truncated": {"type": "boolean"},
        },
    },
    "Grant": {
        "type": "object",
        "required": ["id", "artifact", "grantee", "granted_at", "revoked_at"],
        "properties": {
            "id": {"type": "string"},
            "artifact": {"type": "string"},
            "grantee": {"type": "string"},
            "email": {"type": "string"},
            "org": {"type": "string"},
            "granted_by": NULLABLE_STRING,
            "granted_at": TIME,
            "revoked_at": TIME,
            "revoked_by": NULLABLE_STRING,
        },
    },
    "GrantRequest": {
        "type": "object",
        "description": "Exactly one of `email` (a user) or `org` (an organisation id).",
        "properties": {"email": {"type": "string"}, "org": {"type": "string"}},
    },
    "GrantList": {
        "type": "object",
        "required": ["artifact", "items"],
        "properties": {
            "artifact": {"type": "string"},
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Grant"}},
        },
    },
    "SharedArtifact": {
        "type": "object",
        "required": ["urn", "creator"],
        "properties": {
            "urn": {"type": "string"},
            "name": NULLABLE_STRING,
            "status": {"type": "string"},
            "created": TIME,
            "mime_type": NULLABLE_STRING,
            "size": {"type": ["integer", "null"]},
            "md5": NULLABLE_STRING,
            "sha256": NULLABLE_STRING,
            "creator": {"type": "object", "properties": {"org": NULLABLE_STRING, "name": NULLABLE_STRING}},
        },
    },
    "SharedPage": {
        "type": "object",
        "required": ["items", "next"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/SharedArtifact"}},
            "next": NULLABLE_STRING,
            "total": {"type": "integer", "description": "Every match over all pages (with count=true)"},
        },
    },
    "OrderTokenRequest": {
        "type": "object",
        "properties": {"ttl": {"type": "integer", "minimum": 1, "maximum": 604800}},
    },
    "OrderToken": {
        "type": "object",
        "required": ["token", "order", "reads_before", "expires"],
        "properties": {
            "token": {"type": "string"},
            "order": {"type": "string"},
            "reads_before": {"type": "string"},
            "expires": {"type": "string"},
        },
    },
    "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
}

SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A token from `fabric token create`; not needed when the server runs without --auth.",
    }
}
