"""A 50 MB upload from the portal through a proxy that cuts the connection, with a page reload mid-upload.

tus-js-client retries through each cut (HEAD, then PATCH from the server's offset); after the reload the portal
lists the unfinished upload, alice drops the same file again, and its tus fingerprint resumes it rather than
starting afresh: in the end there is exactly one artifact of that name, byte-exact.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.interop.cutting_proxy import CuttingProxy
from tests.portal.browser import drop_files, shot, sign_in_with_keyboard, wait_until
from tests.portal.conftest import KEY, bearer, token
from tests.server_process import FabricServer

SIZE = 50_000_000
CUT_EVERY = 9_000_000

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FabricServer]:
    with FabricServer(tmp_path / "data", args=["--auth", "--token-key", KEY]) as running:
        yield running


def progress(page, name: str) -> int:  # type: ignore[no-untyped-def]
    value = page.locator(f"li.upload[data-upload='{name}'] progress").get_attribute("value")
    return int(value or 0)


def test_a_50_mb_upload_survives_cuts_and_a_reload(browser: Browser, server: FabricServer, tmp_path: Path) -> None:
    name = "big-scan.bin"
    path = tmp_path / name
    with open(path, "wb") as out:
        for _ in range(SIZE // 1_000_000):
            out.write(os.urandom(1_000_000))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    with CuttingProxy(server.port, cut_every=CUT_EVERY, seed=12) as proxy:
        proxy.enabled = False  # pages and API calls pass untouched; only the upload meets the cuts
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.on("dialog", lambda dialog: dialog.accept())  # "leave the page with an upload running?"
        sign_in_with_keyboard(page, proxy.url, token("alice"))
        page.get_by_role("link", name="Upload", exact=True).first.click()
        proxy.enabled = True
        # However fast the machine, the upload stops short of its end: the proxy holds the connection that
        # carries byte 45 M of the body (a cut loses what the server had not read yet, so the server has less).
        proxy.hold_at = proxy.forwarded + SIZE * 9 // 10
        drop_files(page, "#dropzone", path)
        wait_until(
            page,
            lambda: proxy.cuts >= 1 and proxy.holding >= 1,
            "a cut, then the upload held short of its end",
            timeout=300,
        )
        page.wait_for_timeout(500)  # the portal's progress catches up with what the held connection took
        assert 0 < progress(page, name) < 100
        shot(page, "resume-01-uploading-through-cuts")
        proxy.enabled = False
        page.reload()
        proxy.release()  # the held PATCH is cut now, as the closed tab would have left it
        expect(page.get_by_text("Unfinished uploads.")).to_be_visible()
        expect(page.locator(".alert-info")).to_contain_text(name)
        shot(page, "resume-02-after-reload")

        proxy.enabled = True
        drop_files(page, "#dropzone", path)
        row = page.locator(f"li.upload[data-upload='{name}']")
        expect(row).to_contain_text("Resuming")
        expect(page.locator(f"li.upload-done[data-upload='{name}']")).to_be_visible(timeout=180_000)
        shot(page, "resume-03-done")
        cuts = proxy.cuts
        proxy.enabled = False
        assert cuts >= 2, f"the proxy cut only {cuts} time(s)"

        page.get_by_role("link", name="Artifacts", exact=True).click()
        expect(page.locator("tbody tr", has_text=name)).to_contain_text("50.0 MB")
        shot(page, "resume-04-listed")
        context.close()

    with httpx.Client(base_url=server.url, headers=bearer("alice"), timeout=60) as api:
        found = api.get("/v1/artifacts", params={"name": name}).json()["items"]
        assert len(found) == 1, "the reload started a second upload instead of resuming the first"
        assert found[0]["status"] == "ready" and found[0]["size"] == SIZE
        sha = hashlib.sha256()
        with api.stream("GET", f"/v1/artifacts/{found[0]['urn']}/blob") as blob:
            for chunk in blob.iter_bytes(1 << 20):
                sha.update(chunk)
        assert sha.hexdigest() == digest == found[0]["sha256"]
