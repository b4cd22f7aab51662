"""Fixtures of the portal's browser journeys: one chromium for the session, and per graph backend a server with
tokens required, CORS for a second origin, and a static server playing that second origin's page."""

from __future__ import annotations

import base64
import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from fabric.auth.tokens import Principal, mint_token
from tests.portal.browser import ROOT, chromium_path
from tests.server_process import FabricServer, free_port

KEY = "portal-journey-signing-key-0123456789abcdef"
expect.set_options(
    timeout=120_000
)  # waits for the page, not a limit: a cold Neo4j on a busy machine takes seconds per query
PEOPLE = {
    "alice": Principal(email="alice@acme.test", org="acme", name="Alice"),
    "carol": Principal(email="carol@partner.test", org="partner", name="Carol"),
    "eve": Principal(email="eve@rival.test", org="rival", name="Eve"),
}
TUS_JS = ROOT / "tests" / "interop" / "js" / "node_modules" / "tus-js-client" / "dist" / "tus.min.js"
CROSS_ORIGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another site</title><script src="tus.min.js"></script></head>
<body><h1>Another site's page, uploading to datafabric with tus-js-client</h1>
<script>
window.uploadTo = (endpoint, token, text, name) => new Promise((resolve, reject) => {
  let urn = null;
  const upload = new tus.Upload(new Blob([text]), {
    endpoint, retryDelays: null, metadata: {filename: name},
    headers: {Authorization: 'Bearer ' + token},
    onAfterResponse: (req, res) => { urn = res.getHeader('Artifact-Urn') || urn; },
    onSuccess: () => resolve({url: upload.url, urn}),
    onError: (error) => reject(String(error)),
  });
  upload.start();
});
</script></body></html>
"""


def token(who: str) -> str:
    return mint_token(KEY.encode(), PEOPLE[who], ttl=3600)


def bearer(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(who)}"}


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One browser for the portal tests; package scope, because Playwright's sync API keeps an event loop running
    in the main thread while it is open, which would break the asyncio tests that run after this package."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Portal:
    backend: str
    server: FabricServer
    api: httpx.Client
    other_origin: str  # allowed by --cors-origins
    foreign_origin: str  # the same page on an origin that is not allowed
    journey: dict[str, Any] = field(default_factory=dict)  # what one step of the journey leaves to the next

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def portal(backend_name: str, graph_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    if not TUS_JS.is_file():
        raise RuntimeError(f"{TUS_JS} is missing: run `make test-deps` (npm ci in tests/interop/js)")
    site = tmp_path_factory.mktemp("other-site")
    (site / "index.html").write_text(CROSS_ORIGIN_PAGE)
    (site / "tus.min.js").write_bytes(TUS_JS.read_bytes())
    static = ThreadingHTTPServer(("127.0.0.1", free_port()), functools.partial(QuietHandler, directory=str(site)))
    threading.Thread(target=static.serve_forever, daemon=True).start()
    port = static.server_address[1]
    other, foreign = f"http://127.0.0.1:{port}", f"http://localhost:{port}"
    args = ["--auth", "--token-key", KEY, "--cors-origins", other]
    if graph_url is not None:  # Neo4j, wiped
        args += ["--graph-url", graph_url]
    data = tmp_path_factory.mktemp(f"portal-{backend_name}") / "data"
    try:
        with FabricServer(data, args=args) as server, httpx.Client(base_url=server.url, timeout=300) as api:
            yield Portal(backend_name, server, api, other, foreign)
    finally:
        static.shutdown()
        static.server_close()


def tus_upload(api: httpx.Client, who: str, data: bytes, **metadata: str) -> str:
    """An upload through the API (as the CLI would make it); the artifact's URN."""
    meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in metadata.items())
    headers = {**bearer(who), "Tus-Resumable": "1.0.0"}
    created = api.post("/v1/uploads", headers={**headers, "Upload-Length": str(len(data)), "Upload-Metadata": meta})
    assert created.status_code == 201, created.text
    done = api.patch(
        created.headers["Location"],
        headers={**headers, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        content=data,
    )
    assert done.status_code == 204, done.text
    return created.headers["Artifact-Urn"]
