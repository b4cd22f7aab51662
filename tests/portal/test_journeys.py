"""The portal in a real browser (Debian's chromium driven by Playwright) against a real server, on each graph backend.

alice signs in with the keyboard, drops a file, sees it listed, opens it and shares it with carol; carol opens
the portal from a one-time sign-in link, finds it under "Shared with me", downloads it byte-exact and opens its
lineage; eve sees none of it, not even in lineage, where it is drawn as a hidden node; a page on another origin
uploads with tus-js-client (and one on an origin not allowed cannot). Every page visited is saved as a screenshot.
The 50 MB upload through a cutting proxy with a reload mid-upload is in test_resume.py.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.portal.browser import drop_files, shot, sign_in_with_keyboard
from tests.portal.conftest import Portal, bearer, token, tus_upload

pytestmark = pytest.mark.timeout(900)  # a journey is many requests; on Neo4j each may take seconds

WIDE = {"width": 1280, "height": 860}
NARROW = {"width": 360, "height": 760}


def new_page(browser: Browser, viewport: dict[str, int] = WIDE) -> Page:
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(120_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    return page


def close(page: Page) -> None:
    errors = page.errors  # type: ignore[attr-defined]
    page.context.close()
    assert errors == [], f"the page threw: {errors}"


def fits(page: Page, width: int) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"the page is {overflow} px wide at a {width} px viewport"


def test_alice_signs_in_drops_a_file_sees_it_listed_and_shares_it(
    browser: Browser, portal: Portal, tmp_path: Path
) -> None:
    name = f"survey-{uuid.uuid4().hex[:6]}.csv"
    data = b"station,temperature\n" + os.urandom(150_000).hex().encode()
    (tmp_path / name).write_bytes(data)
    portal.journey.update(name=name, data=data)
    b = portal.backend

    page = new_page(browser)
    page.goto(portal.url)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, f"{b}-01-sign-in")
    sign_in_with_keyboard(page, portal.url, token("alice"))
    expect(page.get_by_role("heading", name="Artifacts", exact=True)).to_be_visible()
    expect(page.locator(".who")).to_contain_text("alice@acme.test")
    page.keyboard.press("Tab")
    focus_ring = page.evaluate("getComputedStyle(document.activeElement).boxShadow")
    assert focus_ring != "none", "the focused element shows no focus ring"

    page.get_by_role("link", name="Upload", exact=True).first.click()
    expect(page.get_by_text("Drop files or a folder here")).to_be_visible()
    drop_files(page, "#dropzone", tmp_path / name)
    done = page.locator(f"li.upload-done[data-upload='{name}']")
    expect(done).to_be_visible()
    expect(done).to_contain_text("100 %")
    shot(page, f"{b}-02-upload-done")
    folder = tmp_path / "field-notes"
    (folder / "day-2").mkdir(parents=True)
    (folder / "day-1.txt").write_text("sunny")
    (folder / "day-2" / "notes.txt").write_text("windy")
    page.set_input_files("#folder-input", str(folder))  # "Choose a folder": one artifact of every file inside
    expect(page.locator("li.upload-folder[data-folder='field-notes']")).to_contain_text("Done")
    expect(page.locator("li.upload-done[data-upload='field-notes/day-1.txt']")).to_be_visible()
    expect(page.locator("li.upload-done[data-upload='field-notes/day-2/notes.txt']")).to_be_visible()
    href = done.get_by_role("link", name="Open").get_attribute("href")
    assert href and href.startswith("#/artifacts/")
    urn = href.split("/", 2)[2].replace("%3A", ":")
    portal.journey["urn"] = urn

    page.get_by_role("link", name="Artifacts", exact=True).click()
    row = page.locator("tbody tr", has_text=name)
    expect(row).to_be_visible()
    expect(row).to_contain_text("300 KB")
    expect(row).to_contain_text("ready")
    shot(page, f"{b}-03-artifacts")

    page.get_by_placeholder("Name starts with…").fill(name[:10])
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody tr", has_text=name)).to_be_visible()
    page.get_by_placeholder("Name starts with…").fill("no-such-name")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No artifacts match")).to_be_visible()

    page.goto(f"{portal.url}/#/artifacts/{urn}")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.locator(".details")).to_contain_text(urn)
    expect(page.locator(".details")).to_contain_text(hashlib.sha256(data).hexdigest())
    expect(page.locator(".snippet").first).to_contain_text(f"/v1/artifacts/{urn}/blob")
    page.get_by_placeholder("carol@partner.org").fill("carol@partner.test")
    page.get_by_role("button", name="Grant access").click()
    expect(page.locator("li.grant", has_text="carol@partner.test")).to_be_visible()
    page.get_by_label("Show history (retracted too)").check()
    expect(page.locator("article.aspect").first).to_be_visible()
    shot(page, f"{b}-04-artifact-shared")

    # Register it as version 1 of a repository with the alias prod, then move it to the stage staging.
    repository = f"surveys/{name.split('.')[0]}"
    page.get_by_label("Repository").fill(repository)
    page.get_by_label("Aliases").fill("prod")
    page.get_by_label("Description").fill("first field season")
    page.get_by_role("button", name="Register").click()
    version = page.locator(".version")
    expect(version).to_contain_text(f"fabric://{repository}:1")
    expect(version.locator(".tag")).to_have_text("prod")
    version.get_by_text("Change stage or aliases").click()
    version.get_by_label("Stage", exact=True).select_option("staging")
    version.get_by_label("Reason").fill("passed review")
    version.get_by_role("button", name="Set stage").click()
    expect(page.locator(".version .pill-staging").first).to_be_visible()
    expect(page.locator(".version .history")).to_contain_text("passed review")
    shot(page, f"{b}-04b-artifact-versioned")
    registered = portal.api.get(f"/v1/repositories/{repository}/versions/1", headers=bearer("alice")).json()
    assert registered["artifact"] == urn and registered["stage"] == "staging" and registered["aliases"] == ["prod"]
    page.get_by_role("link", name="Repositories").click()
    page.get_by_role("link", name=repository).click()
    expect(page.locator("tbody tr")).to_contain_text("staging")
    shot(page, f"{b}-04c-repository")
    page.goto(f"{portal.url}/#/artifacts/{urn}")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    lifecycle = page.locator("section", has=page.get_by_role("heading", name="Lifecycle"))
    lifecycle.get_by_label("Type").fill("dataset")
    lifecycle.get_by_label("Labels").fill("site:mawson, season:2026")
    lifecycle.get_by_role("button", name="Save").click()
    expect(page.locator(".details")).to_contain_text("site:mawson")
    page.goto(f"{portal.url}/#/?label=site%3Amawson&type=dataset")
    expect(page.locator("tbody tr", has_text=name)).to_be_visible()
    page.goto(f"{portal.url}/#/?label=site%3Aelsewhere")
    expect(page.get_by_text("No artifacts match")).to_be_visible()
    page.goto(f"{portal.url}/#/artifacts/{urn}")
    expect(page.get_by_role("heading", name=name)).to_be_visible()

    # Provenance made through the API as a pipeline would: carol's order used alice's file and produced an
    # open model, which eve may read; alice's file stays hers and carol's.
    order = f"urn:fabric:order:{uuid.uuid4()}"
    model = tus_upload(portal.api, "carol", b"weights" * 1000, filename="model.bin", policy="open")
    for entity, schema in ((urn, "artifact-used-by-order.1"), (model, "artifact-produced-by-order.1")):
        r = portal.api.post(
            "/v1/aspects",
            json={"entity": entity, "schema": schema, "content": {"order": order}},
            headers=bearer("carol"),
        )
        assert r.status_code == 201, r.text
    portal.journey.update(order=order, model=model)

    page.get_by_role("link", name="Lineage").click()
    expect(page.locator(".graph canvas").first).to_be_attached()
    expect(page.locator(".node-list")).to_contain_text("model.bin")
    expect(page.locator(".node-list")).to_contain_text(name)
    expect(page.locator(".summary")).to_contain_text("3 nodes")
    shot(page, f"{b}-05-lineage-alice")

    page.set_viewport_size(NARROW)
    page.goto(f"{portal.url}/#/artifacts/{urn}")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    fits(page, NARROW["width"])
    shot(page, f"{b}-06-artifact-360px")
    page.goto(f"{portal.url}/#/")
    expect(page.locator("tbody tr", has_text=name)).to_be_visible()
    fits(page, NARROW["width"])
    shot(page, f"{b}-07-artifacts-360px")
    close(page)


def test_carol_signs_in_by_link_finds_it_shared_downloads_it_and_opens_its_lineage(
    browser: Browser, portal: Portal, tmp_path: Path
) -> None:
    name, data = portal.journey["name"], portal.journey["data"]
    b = portal.backend
    issued = portal.api.post("/v1/auth/codes", headers=bearer("carol"))
    assert issued.status_code == 201, issued.text
    link = issued.json()["url"]

    page = new_page(browser)
    page.goto(link)
    expect(page.locator(".who")).to_contain_text("carol@partner.test")
    assert "signin" not in page.url, "the one-time code stays in the address bar"
    assert token("carol") not in page.url
    page.get_by_role("link", name="Shared with me").click()
    row = page.locator("tbody tr", has_text=name)
    expect(row).to_be_visible()
    expect(row).to_contain_text("Alice · acme")
    assert "alice@acme.test" not in page.content()
    shot(page, f"{b}-08-shared-with-carol")

    row.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_text("Only the artifact's creator and admins")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download", exact=True).click()
    saved = tmp_path / "downloaded"
    download.value.save_as(saved)
    assert download.value.suggested_filename == name
    assert saved.read_bytes() == data
    with page.expect_download() as one_file:
        page.get_by_role("button", name=f"Download {name}").click()
    assert Path(one_file.value.path()).read_bytes() == data
    # The grant is on the artifact only: alice's repository (and its version of this file) stays hers.
    versions = page.locator("section", has=page.get_by_role("heading", name="Versions"))
    expect(versions).to_contain_text("Not a version in any repository you may read.")
    expect(page.locator(".version")).to_have_count(0)
    assert f"surveys/{name.split('.')[0]}" not in page.content()
    shot(page, f"{b}-09-artifact-as-carol")

    page.get_by_role("link", name="Lineage").click()
    expect(page.locator(".node-list")).to_contain_text("model.bin")
    expect(page.locator(".node-list")).to_contain_text(name)
    page.locator(".node-list button", has_text="model.bin").click()
    expect(page.locator(".node-panel")).to_contain_text(portal.journey["model"])
    shot(page, f"{b}-10-lineage-carol")
    close(page)


def test_eve_sees_none_of_it_not_even_in_lineage(browser: Browser, portal: Portal) -> None:
    name, urn, model = portal.journey["name"], portal.journey["urn"], portal.journey["model"]
    b = portal.backend
    page = new_page(browser)
    sign_in_with_keyboard(page, portal.url, token("eve"))
    expect(page.locator("tbody tr", has_text="model.bin")).to_be_visible()  # carol's open model is readable
    expect(page.locator("tbody tr", has_text=name)).to_have_count(0)
    shot(page, f"{b}-11-artifacts-as-eve")
    page.get_by_role("link", name="Shared with me").click()
    expect(page.get_by_text("Nothing has been shared with you yet.")).to_be_visible()

    page.goto(f"{portal.url}/#/artifacts/{urn}")
    expect(page.get_by_role("heading", name="Artifact not found")).to_be_visible()
    shot(page, f"{b}-12-not-found-as-eve")

    page.goto(f"{portal.url}/#/lineage/{model}?direction=upstream&depth=3")
    expect(page.locator(".node-list")).to_contain_text("model.bin")
    expect(page.locator(".node-list .node-redacted")).to_have_count(1)
    expect(page.locator(".summary")).to_contain_text("1 hidden from you")
    page.locator(".node-list .node-redacted").click()
    expect(page.locator(".node-panel")).to_contain_text("you may not read it")
    content = page.content()
    assert name not in content and urn.rsplit(":", 1)[1] not in content
    shot(page, f"{b}-13-lineage-as-eve")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("Object.keys(sessionStorage)") == []
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    close(page)


def test_a_page_on_another_origin_uploads_with_tus_js_client(browser: Browser, portal: Portal) -> None:
    page = new_page(browser)
    page.goto(f"{portal.other_origin}/index.html")
    text = f"from another site {uuid.uuid4()}"
    result = page.evaluate(
        "([endpoint, token, text]) => uploadTo(endpoint, token, text, 'cross-origin.txt')",
        [f"{portal.url}/v1/uploads", token("alice"), text],
    )
    assert result["url"].startswith(f"{portal.url}/v1/uploads/")
    assert result["urn"], "Artifact-Urn is not exposed to the page"
    blob = portal.api.get(f"/v1/artifacts/{result['urn']}/blob", headers=bearer("alice"))
    assert blob.status_code == 200 and blob.text == text
    shot(page, f"{portal.backend}-14-other-origin")

    page.goto(f"{portal.foreign_origin}/index.html")
    error = page.evaluate(
        """([endpoint, token]) => uploadTo(endpoint, token, 'refused', 'refused.txt').then(() => 'uploaded', (e) => e)""",
        [f"{portal.url}/v1/uploads", token("alice")],
    )
    assert error != "uploaded" and "failed" in error.lower()
    close(page)
