"""The portal's lists, downloads, upload cancel, folder drop and lineage at 200 nodes, in Debian's chromium.

One server (LadybugDB; what these pages call is tested on both backends in tests/api) behind a cutting proxy
that only ever holds a connection when a test asks (`hold_at`), never cuts on its own:
- "Mine" lists only alice's uploads; the table sorts by name, size and date on the server and pages with a count;
- the search form narrows by organisation and by uploader, never past what the reader reads or sees;
- downloads follow a short-lived link (`/v1/download?token=…`), so the browser streams them to disk; bytes match;
- cancelling an upload held half-way terminates it on the server, and nothing half-made is listed;
- a dropped folder (a real directory drop) becomes one artifact of its files, at their paths;
- a lineage of 201 nodes is laid out with no two nodes overlapping, inside the page, and exports as SVG and PNG.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect

from fabric.auth.tokens import Principal, mint_token
from tests.interop.cutting_proxy import CuttingProxy
from tests.portal.browser import drop_files, shot, sign_in_with_keyboard, wait_until
from tests.portal.conftest import KEY, bearer, token, tus_upload
from tests.server_process import FabricServer

pytestmark = pytest.mark.timeout(600)
NEVER = 1 << 50  # the proxy's cut interval: it cuts nothing unless a test holds a connection


class Site:
    def __init__(self, server: FabricServer, proxy: CuttingProxy, api: httpx.Client) -> None:
        self.server, self.proxy, self.api = server, proxy, api

    @property
    def url(self) -> str:
        return self.proxy.url


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("portal-features") / "data"
    with (
        FabricServer(data, args=["--auth", "--token-key", KEY]) as server,
        CuttingProxy(server.port, cut_every=NEVER) as proxy,
        httpx.Client(base_url=server.url, timeout=300) as api,
    ):
        proxy.enabled = False
        yield Site(server, proxy, api)


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    opened = context.new_page()
    opened.set_default_timeout(120_000)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("dialog", lambda dialog: dialog.accept())
    sign_in_with_keyboard(opened, site.url, token("alice"))
    yield opened
    context.close()
    assert errors == [], f"the page threw: {errors}"


def test_mine_sorts_on_the_server_and_pages_with_a_count(page: Page, site: Site) -> None:
    sizes = {f"item-{i:02d}.txt": (i * 37) % 30 + 1 for i in range(30)}
    for name, size in sizes.items():
        tus_upload(site.api, "alice", b"x" * size, filename=name)
    carols = tus_upload(site.api, "carol", b"from carol", filename="item-carol.txt")
    granted = site.api.post(
        f"/v1/artifacts/{carols}/access", headers=bearer("carol"), json={"email": "alice@acme.test"}
    )
    assert granted.status_code == 201, granted.text
    tus_upload(site.api, "eve", b"eve's own", filename="item-eve.txt")

    page.get_by_role("link", name="Mine", exact=True).click()
    page.get_by_placeholder("Name starts with…").fill("item-")
    page.get_by_role("button", name="Search").click()
    summary = page.locator(".table-foot .summary")
    expect(summary).to_have_text("1–25 of 30 artifacts")  # carol's (shared with alice) and eve's are not hers
    expect(page.locator("tbody tr")).to_have_count(25)
    expect(page.locator("tbody tr", has_text="item-carol.txt")).to_have_count(0)
    shot(page, "features-01-mine")

    page.get_by_role("button", name="Name", exact=False).first.click()  # sort by name, A to Z
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Name")
    expect(page.locator("tbody tr").first).to_contain_text("item-00.txt")
    page.get_by_role("button", name="Next").click()
    expect(summary).to_have_text("26–30 of 30 artifacts")
    names = page.locator("tbody tr .artifact-link").all_inner_texts()
    assert names == [f"item-{i:02d}.txt" for i in range(25, 30)]
    page.get_by_role("button", name="Previous").click()
    expect(summary).to_have_text("1–25 of 30 artifacts")
    page.get_by_role("button", name="Name", exact=False).first.click()  # again: Z to A
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Name")
    expect(page.locator("tbody tr").first).to_contain_text("item-29.txt")

    page.goto(f"{site.url}/#/?q=item-&sort=largest")
    expect(summary).to_have_text("1–25 of 31 artifacts")  # everything alice reads: carol's too, not eve's
    expect(page.locator("tbody tr", has_text="item-eve.txt")).to_have_count(0)
    largest = max(sizes.values())
    first = page.locator("tbody tr .artifact-link").first.inner_text()
    assert sizes[first] == largest, (first, sizes[first], largest)
    shot(page, "features-02-all-by-size")
    page.goto(f"{site.url}/#/shared?sort=name")
    expect(summary).to_have_text("1–1 of 1 artifact")
    expect(page.locator("tbody tr").first).to_contain_text("item-carol.txt")


def next_summary(page: Page) -> Locator:
    """The summary of the listing the page shows next: the one shown now is marked, so that it is never mistaken
    for the new one."""
    page.evaluate("document.querySelector('.table-foot .summary')?.setAttribute('data-stale', '')")
    return page.locator(".table-foot .summary:not([data-stale])")


def search(page: Page, **fields: str) -> Locator:
    """Fills the search form's fields (by their labels), submits it, and gives the summary of the listing that
    answers it."""
    summary = next_summary(page)
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Search").click()
    return summary


def test_search_by_organisation_and_uploader_narrows_what_the_reader_reads(
    page: Page, browser: Browser, site: Site
) -> None:
    tag = uuid.uuid4().hex[:6]
    for size in (1, 2):
        tus_upload(site.api, "alice", b"a" * size, filename=f"by-{tag}-alice-{size}.txt")
    carols = tus_upload(site.api, "carol", b"from carol", filename=f"by-{tag}-carol.txt")
    granted = site.api.post(
        f"/v1/artifacts/{carols}/access", headers=bearer("carol"), json={"email": "alice@acme.test"}
    )
    assert granted.status_code == 201, granted.text
    tus_upload(site.api, "eve", b"eve's own", filename=f"by-{tag}-eve.txt")
    names = page.locator("tbody tr .artifact-link")

    page.get_by_role("link", name="Artifacts", exact=True).click()
    expect(search(page, Name=f"by-{tag}")).to_have_text("1–3 of 3 artifacts")  # hers and carol's, not eve's
    expect(search(page, Organisation="partner")).to_have_text("1–1 of 1 artifact")
    expect(names).to_have_text([f"by-{tag}-carol.txt"])
    assert "org=partner" in page.url  # the search is a link to share, and survives a reload
    listed: list[str] = []
    page.on("request", lambda request: listed.append(request.url) if "/v1/artifacts?" in request.url else None)
    summary = next_summary(page)
    page.get_by_role("button", name="Name", exact=False).first.click()  # the same filters in another order
    expect(summary).to_have_text("1–1 of 1 artifact")  # the total this page load counted already
    assert len(listed) == 1 and "sort=name" in listed[0] and "count=" not in listed[0], listed
    shot(page, "features-02b-search-by-organisation")
    expect(search(page, Organisation="rival")).to_have_text("0 of 0 artifacts")  # eve's: alice reads none of it
    expect(search(page, Organisation="no-such-org")).to_have_text("0 of 0 artifacts")

    expect(search(page, Organisation="", **{"Uploaded by": "alice@acme.test"})).to_have_text("1–2 of 2 artifacts")
    assert set(names.all_inner_texts()) == {f"by-{tag}-alice-1.txt", f"by-{tag}-alice-2.txt"}
    # alice reads carol's artifact but is never shown that carol uploaded it: the same as nobody's uploads
    expect(search(page, **{"Uploaded by": "carol@partner.test"})).to_have_text("0 of 0 artifacts")
    expect(page.locator("tbody td.empty")).to_be_visible()
    assert "carol@partner.test" not in page.locator("table").inner_text()
    shot(page, "features-02c-search-by-uploader-none-seen")

    page.get_by_role("link", name="Shared with me", exact=True).click()
    expect(page.get_by_role("heading", name="Shared with me")).to_be_visible()
    expect(page.get_by_label("Uploaded by", exact=True)).to_have_count(0)  # shared items name no uploader
    expect(search(page, Organisation="partner")).to_contain_text(" of ")
    expect(page.locator("tbody tr", has_text=f"by-{tag}-carol.txt")).to_have_count(1)
    assert set(page.locator("tbody td[data-label=By]").all_inner_texts()) == {"Carol · partner"}

    # acme's admin manages alice's uploads, so he finds them by her address
    context = browser.new_context(viewport={"width": 360, "height": 780})
    try:
        admin = context.new_page()
        admin.set_default_timeout(120_000)
        root = Principal(email="root@acme.test", org="acme", admin=True, name="Root")
        sign_in_with_keyboard(admin, site.url, mint_token(KEY.encode(), root, ttl=3600))
        admin.goto(f"{site.url}/#/?q=by-{tag}&by=alice%40acme.test")
        expect(admin.locator(".table-foot .summary")).to_have_text("1–2 of 2 artifacts")
        expect(admin.get_by_label("Uploaded by", exact=True)).to_have_value("alice@acme.test")
        width = admin.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"the search page scrolls sideways at 360 px ({width} px wide)"
        shot(admin, "features-02d-search-by-uploader-360px")
    finally:
        context.close()


def test_downloads_follow_a_short_lived_link_and_stream_to_disk(page: Page, site: Site, tmp_path: Path) -> None:
    data = b"".join(f"row {i}\n".encode() for i in range(50_000))
    name = f"stream-{uuid.uuid4().hex[:6]}.csv"
    urn = tus_upload(site.api, "alice", data, filename=name)
    page.goto(f"{site.url}/#/artifacts/{urn}")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    with page.expect_download() as whole:
        page.get_by_role("button", name="Download", exact=True).click()
    assert whole.value.url.startswith(f"{site.url}/v1/download?token="), whole.value.url
    assert whole.value.suggested_filename == name
    saved = tmp_path / "whole"
    whole.value.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    with page.expect_download() as archive:
        page.get_by_role("button", name="All as zip").click()
    assert archive.value.url.startswith(f"{site.url}/v1/download?token=")
    with zipfile.ZipFile(io.BytesIO(Path(archive.value.path()).read_bytes())) as opened:
        assert opened.read(name) == data
    assert page.evaluate("performance.getEntriesByType('resource').filter(e => e.name.includes('/blob')).length") == 0
    shot(page, "features-03-downloaded")


def test_cancelling_an_upload_terminates_it_and_lists_nothing_half_made(page: Page, site: Site, tmp_path: Path) -> None:
    name = f"cancelled-{uuid.uuid4().hex[:6]}.bin"
    path = tmp_path / name
    path.write_bytes(b"c" * 4_000_000)
    page.get_by_role("link", name="Upload", exact=True).first.click()
    proxy = site.proxy
    proxy.hold_at = proxy.forwarded + 1_000_000  # however fast the machine, the body stops a quarter in
    proxy.enabled = True
    drop_files(page, "#dropzone", path)
    wait_until(page, lambda: proxy.holding >= 1, "the upload held a quarter in")
    proxy.enabled = False  # the DELETE that cancelling sends passes untouched
    row = page.locator(f"li.upload[data-upload='{name}']")
    expect(row).to_contain_text("Uploading")
    shot(page, "features-04-upload-held")
    page.get_by_role("button", name=f"Cancel {name}").click()
    expect(row).to_contain_text("Cancelled")
    proxy.release()  # the held PATCH is cut, as the aborted request left it

    def abandoned() -> list[dict[str, Any]]:
        found = site.api.get("/v1/artifacts", params={"name": name, "status": "abandoned"}, headers=bearer("alice"))
        return list(found.json()["items"])

    wait_until(page, lambda: len(abandoned()) == 1, "the server to terminate the upload")
    listed = site.api.get("/v1/artifacts", params={"name": name}, headers=bearer("alice")).json()["items"]
    assert listed == [], "a cancelled upload is listed"
    urn = abandoned()[0]["urn"]
    assert site.api.get(f"/v1/artifacts/{urn}/blob", headers=bearer("alice")).status_code == 409
    # tus-js-client forgets the fingerprint once the DELETE's answer arrives, which may be after the server's
    # termination shows in the listing above: wait for it rather than race it.
    wait_until(
        page,
        lambda: page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('tus::')).length") == 0,
        "the portal to forget the cancelled upload's fingerprint",
    )
    page.get_by_role("link", name="Artifacts", exact=True).click()
    page.get_by_placeholder("Name starts with…").fill("cancelled-")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No artifacts match")).to_be_visible()
    shot(page, "features-05-cancelled-not-listed")


def drop_folder(page: Page, target: str, folder: Path) -> None:
    """A real drop of a directory from the file manager (Chrome's DevTools protocol: the page gets a directory
    entry, as it does from a person's drag)."""
    box = page.locator(target).bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)
    data = {"items": [], "files": [str(folder)], "dragOperationsMask": 1}
    for kind in ("dragEnter", "dragOver", "drop"):
        cdp.send("Input.dispatchDragEvent", {"type": kind, "x": x, "y": y, "data": data})
    cdp.detach()


def test_a_dropped_folder_becomes_one_artifact_of_its_files(page: Page, site: Site, tmp_path: Path) -> None:
    folder = tmp_path / f"field-notes-{uuid.uuid4().hex[:6]}"
    (folder / "day-2").mkdir(parents=True)
    (folder / "day-1.txt").write_text("sunny")
    (folder / "day-2" / "notes.txt").write_text("windy")
    page.get_by_role("link", name="Upload", exact=True).first.click()
    drop_folder(page, "#dropzone", folder)
    row = page.locator(f"li.upload-folder[data-folder='{folder.name}']")
    expect(row).to_contain_text("Done")
    expect(row).to_contain_text("2 files")
    expect(page.locator(f"li.upload-done[data-upload='{folder.name}/day-2/notes.txt']")).to_be_visible()
    shot(page, "features-06-folder-dropped")
    row.get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", name=folder.name)).to_be_visible()
    files = page.locator("ul.files")
    expect(files).to_contain_text("day-1.txt")
    expect(files).to_contain_text("day-2/notes.txt")
    shot(page, "features-07-folder-artifact")

    found = site.api.get("/v1/artifacts", params={"name": folder.name}, headers=bearer("alice")).json()["items"]
    assert len(found) == 1 and found[0]["status"] == "ready"
    manifest = site.api.get(f"/v1/artifacts/{found[0]['urn']}/files", headers=bearer("alice")).json()["items"]
    assert sorted(item["path"] for item in manifest) == ["day-1.txt", "day-2/notes.txt"]
    alone = site.api.get("/v1/artifacts", params={"name": "notes.txt"}, headers=bearer("alice")).json()["items"]
    assert alone == [], "a file of the folder became an artifact of its own"


BIG = 8_000_000  # the folder's file that is held half-way when the page reloads


def test_a_folder_upload_goes_on_after_a_reload(page: Page, site: Site, tmp_path: Path) -> None:
    """Two small files of a folder finish, the third is held half-way by the proxy, the page reloads; dropped
    again, the folder goes on in the same draft: the finished files are skipped and the third resumes from the
    server's offset through its tus fingerprint. Nothing here waits on speed: the third file's PATCH is kept
    back (a Playwright route) until the small ones are done, then held by the proxy at a byte count."""
    folder = tmp_path / f"survey-{uuid.uuid4().hex[:6]}"
    (folder / "raw").mkdir(parents=True)
    (folder / "readme.txt").write_text("field survey")
    (folder / "raw" / "notes.txt").write_text("calm")
    big = os.urandom(BIG)
    (folder / "raw" / "scan.bin").write_bytes(big)
    big_file = f"[data-upload='{folder.name}/raw/scan.bin']"
    kept_back: list[Route] = []

    def keep_back_the_big_patch(route: Route) -> None:
        body = route.request.post_data_buffer or b""
        if route.request.method == "PATCH" and len(body) > BIG // 2 and not kept_back:
            kept_back.append(route)
        else:
            route.continue_()

    page.get_by_role("link", name="Upload", exact=True).first.click()
    page.route("**/v1/uploads/**", keep_back_the_big_patch)
    drop_folder(page, "#dropzone", folder)
    for small in ("readme.txt", "raw/notes.txt"):
        expect(page.locator(f"li.upload-done[data-upload='{folder.name}/{small}']")).to_be_visible()
    wait_until(page, lambda: bool(kept_back), "the big file's PATCH")
    site.proxy.enabled = True
    site.proxy.hold_at = site.proxy.forwarded + BIG // 2
    kept_back[0].continue_()
    wait_until(page, lambda: site.proxy.holding >= 1, "the big file held half-way")
    remembered = page.evaluate("JSON.parse(localStorage.getItem('datafabric.folders'))")
    assert [(r["name"], sorted(r["done"])) for r in remembered.values()] == [
        (folder.name, ["raw/notes.txt", "readme.txt"])
    ]
    draft = next(iter(remembered.values()))["urn"]
    shot(page, "features-06b-folder-held")

    site.proxy.enabled = False
    page.unroute("**/v1/uploads/**")
    page.reload()
    site.proxy.release()  # the held PATCH is cut now, as the closed tab would have left it
    notice = page.locator(".alert-info")
    expect(notice).to_contain_text(f"{folder.name}/ (2 of 3 files done)")
    shot(page, "features-06c-folder-after-reload")

    before = site.proxy.forwarded
    site.proxy.enabled = True  # counts what goes to the server from here (it neither cuts nor holds)
    drop_folder(page, "#dropzone", folder)
    row = page.locator(f"li.upload-folder[data-folder='{folder.name}']")
    expect(row).to_contain_text("Done")
    expect(row).to_contain_text("2 already uploaded before")
    expect(page.locator(f"li.upload-done[data-upload='{folder.name}/readme.txt']")).to_contain_text("uploaded before")
    expect(page.locator(f"li.upload-done{big_file}")).to_contain_text("resumed")
    sent = site.proxy.forwarded - before
    site.proxy.enabled = False
    assert sent < BIG * 3 // 4, f"{sent} bytes sent after the reload: the big file started again"
    expect(notice).to_have_count(0)
    assert page.evaluate("localStorage.getItem('datafabric.folders')") == "{}"
    shot(page, "features-06d-folder-resumed")

    found = site.api.get("/v1/artifacts", params={"name": folder.name}, headers=bearer("alice")).json()["items"]
    assert [(item["urn"], item["status"]) for item in found] == [(draft, "ready")]
    manifest = site.api.get(f"/v1/artifacts/{draft}/files", headers=bearer("alice")).json()["items"]
    by_path = {item["path"]: item for item in manifest}
    assert sorted(by_path) == ["raw/notes.txt", "raw/scan.bin", "readme.txt"]
    assert by_path["raw/scan.bin"]["sha256"] == hashlib.sha256(big).hexdigest()
    assert by_path["raw/scan.bin"]["size"] == BIG


def make_lineage(api: httpx.Client, orders: int, outputs: int) -> str:
    """A root dataset used by `orders` orders that each produced `outputs` artifacts; the root's URN."""
    root = tus_upload(api, "alice", b"the root dataset", filename="root-dataset.csv")
    for o in range(orders):
        order = f"urn:fabric:order:{uuid.uuid4()}"
        used = api.post(
            "/v1/aspects",
            json={"entity": root, "schema": "artifact-used-by-order.1", "content": {"order": order}},
            headers=bearer("alice"),
        )
        assert used.status_code == 201, used.text
        for i in range(outputs):
            draft = api.post("/v1/artifacts", json={"name": f"out-{o:02d}-{i}"}, headers=bearer("alice"))
            assert draft.status_code == 201, draft.text
            made = api.post(
                "/v1/aspects",
                json={
                    "entity": draft.json()["urn"],
                    "schema": "artifact-produced-by-order.1",
                    "content": {"order": order},
                },
                headers=bearer("alice"),
            )
            assert made.status_code == 201, made.text
    return root


# What the laid-out graph looks like: nodes (with their labels) that overlap, the zoom, whether the root and every
# node are in view, and where the graph sits in the page.
LAYOUT = """() => {
    const cy = document.querySelector('.graph').cy;
    const boxes = cy.nodes().map(n => n.boundingBox({includeLabels: true, includeOverlays: false}));
    let overlaps = 0;
    for (let i = 0; i < boxes.length; i++)
        for (let j = i + 1; j < boxes.length; j++) {
            const a = boxes[i], b = boxes[j];
            if (a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2) overlaps++;
        }
    const view = cy.extent(), within = (box) => box.x1 >= view.x1 && box.x2 <= view.x2 && box.y1 >= view.y1 && box.y2 <= view.y2;
    const root = cy.nodes('.root');
    const rect = document.querySelector('.graph').getBoundingClientRect();
    return {count: boxes.length, overlaps, zoom: cy.zoom(), rootInView: root.nonempty() && within(root.boundingBox()),
            allInView: within(cy.nodes().boundingBox({includeLabels: false})),
            rect: [rect.left, rect.right], page: document.documentElement.scrollWidth, viewport: innerWidth};
}"""


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG, checking its signature and every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, idat, size = 8, b"", (0, 0)
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    return size[0], size[1], zlib.decompress(idat)


def test_a_lineage_of_200_nodes_is_laid_out_without_overlap_and_exports(page: Page, site: Site) -> None:
    root = make_lineage(site.api, orders=40, outputs=4)  # 1 + 40 + 160 = 201 nodes, 200 edges
    page.goto(f"{site.url}/#/lineage/{root}?direction=downstream&depth=2")
    expect(page.locator(".summary")).to_contain_text("201 nodes, 200 edges")
    expect(page.locator(".node-list li")).to_have_count(201)
    layout = page.evaluate(LAYOUT)
    assert layout["count"] == 201 and layout["overlaps"] == 0, layout  # labels included
    assert layout["zoom"] >= 0.7 and layout["rootInView"], f"a large graph opens too small to read: {layout}"
    assert 0 <= layout["rect"][0] < layout["rect"][1] <= layout["viewport"] and layout["page"] <= layout["viewport"]
    shot(page, "features-08-lineage-201-nodes")
    page.get_by_role("button", name="Fit all").click()
    everything = page.evaluate(LAYOUT)
    assert everything["allInView"], f"Fit all does not show every node: {everything}"
    shot(page, "features-09-lineage-201-nodes-fit-all")

    with page.expect_download() as svg_download:
        page.get_by_role("button", name="Export SVG").click()
    assert svg_download.value.suggested_filename == "lineage.svg"
    svg = ElementTree.fromstring(Path(svg_download.value.path()).read_bytes())
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert float(svg.get("width", "0")) > 0 and float(svg.get("height", "0")) > 0
    drawn = [el for el in svg.iter() if el.tag.rsplit("}", 1)[-1] in ("path", "rect", "polygon", "circle")]
    assert len(drawn) >= 201, f"the SVG draws {len(drawn)} shapes for 201 nodes"

    with page.expect_download() as png_download:
        page.get_by_role("button", name="Export PNG").click()
    assert png_download.value.suggested_filename == "lineage.png"
    width, height, pixels = png_pixels(Path(png_download.value.path()).read_bytes())
    assert width > 200 and height > 200
    assert len(set(pixels)) > 16, "the PNG is blank"
