"""CORS for browser tus clients (tus-js-client, Uppy) on other origins, with the headers tusd allows and exposes.

Starlette's CORSMiddleware answers preflights itself, before authentication, so they need no token. Bearer
tokens are sent in a header, never as cookies: credentials are never allowed, which also keeps `*` safe.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "Origin",
    "X-Requested-With",
    "X-HTTP-Method-Override",
    "Tus-Resumable",
    "Upload-Length",
    "Upload-Offset",
    "Upload-Metadata",
    "Upload-Defer-Length",
    "Upload-Concat",
    "Upload-Checksum",
    "Upload-Expires",
)
EXPOSE_HEADERS = (
    "Location",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Metadata",
    "Upload-Defer-Length",
    "Upload-Concat",
    "Upload-Expires",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Tus-Checksum-Algorithm",
    "Artifact-Urn",
    "ETag",
    "Content-Disposition",
    "Content-Range",
)
ALLOW_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
PREFLIGHT_MAX_AGE = 86400


def parse_origins(text: str | None) -> tuple[str, ...]:
    """`--cors-origins`: comma-separated origins such as `https://app.example.org`, or `*`; empty: none."""
    origins = tuple(part.strip().rstrip("/") for part in (text or "").split(",") if part.strip())
    for origin in origins:
        if origin != "*" and not (origin.startswith(("http://", "https://")) and "/" not in origin.split("://", 1)[1]):
            raise ValueError(f"{origin!r} is not an origin: give scheme://host[:port], or *")
    return origins


def cors_middleware(origins: Sequence[str]) -> list[Middleware]:
    """The CORS middleware for these origins, or none at all (same origin only) when there are none."""
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=list(ALLOW_METHODS),
            allow_headers=list(ALLOW_HEADERS),
            expose_headers=list(EXPOSE_HEADERS),
            allow_credentials=False,
            max_age=PREFLIGHT_MAX_AGE,
        )
    ]
