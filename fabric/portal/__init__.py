"""The web portal: a single page served at `/` that calls the public HTTP API, like any other client.

Its JavaScript and CSS are built from `portal/` (esbuild, pinned by `portal/package-lock.json`) into
`fabric/portal/static/`, which ships in the wheel as package data; the server needs no network and no CDN.
"""

from fabric.portal.pages import STATIC_DIR, paths, routes

__all__ = ["STATIC_DIR", "paths", "routes"]
