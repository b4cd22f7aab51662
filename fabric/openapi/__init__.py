"""The OpenAPI 3.1 description of the HTTP API, built from the path items each route module declares.

Every route module of `fabric.api` exports `routes` and `paths` (the OpenAPI path items of those routes, written
with the helpers of `fabric.openapi.spec`); `fabric.openapi.tus` describes the upload routes `tus_server` serves.
`build_document` joins them; `tests/api/test_openapi.py` fails for any route the document does not describe.
"""

from fabric.openapi.document import build_document, described_operations, route_operations

__all__ = ["build_document", "described_operations", "route_operations"]
