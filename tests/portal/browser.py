"""Playwright driving Debian's chromium for the portal's tests: the browser, screenshots, and a real drop.

The browser is the one apt installed (`apt-get install chromium`; `.ci/run` does it); Playwright downloads
none of its own (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1). A missing chromium fails the run, it never skips.
Screenshots of every page a journey visits go to `test-output/portal/` (or `$FABRIC_TEST_OUTPUT/portal`).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("FABRIC_TEST_OUTPUT", ROOT / "test-output")) / "portal"


def chromium_path() -> str:
    path = os.environ.get("FABRIC_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("chromium is not installed: `apt-get install chromium` (.ci/run does it)")
    return path


def shot(page: Page, name: str) -> Path:
    """A screenshot of the whole page, kept as a test output to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.wait_for_timeout(150)  # let a toast or a progress bar settle into the picture
    page.screenshot(path=str(path), full_page=True)
    return path


def drop_files(page: Page, target: str, *paths: Path) -> None:
    """Drops files on `target` as a person dragging them from a file manager would: a real `drop` event whose
    DataTransfer holds the files (read from disk by the browser, not copied through the test)."""
    page.evaluate(
        """() => {
            document.getElementById('test-drop-source')?.remove();
            const input = Object.assign(document.createElement('input'), {type: 'file', multiple: true, id: 'test-drop-source'});
            input.style.display = 'none';
            document.body.append(input);
        }"""
    )
    page.set_input_files("#test-drop-source", [str(p) for p in paths])
    page.evaluate(
        """(target) => {
            const input = document.getElementById('test-drop-source');
            const data = new DataTransfer();
            for (const file of input.files) data.items.add(file);
            const zone = document.querySelector(target);
            zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: data, bubbles: true, cancelable: true}));
            zone.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
            input.remove();
        }""",
        target,
    )


def sign_in_with_keyboard(page: Page, url: str, token: str) -> None:
    """Opens the portal and signs in using only the keyboard: Tab to the token field, type, Enter."""
    page.goto(url)
    page.wait_for_selector("input[name=token]")
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.name") == "token":
            break
    assert page.evaluate("document.activeElement.name") == "token", "Tab does not reach the token field"
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    page.wait_for_selector("header.topbar")


def wait_until(page: Page, condition: Callable[[], object], what: str, timeout: float = 120) -> None:
    """Poll `condition` until it holds, letting Playwright dispatch events between polls.

    The sync API runs route handlers, dialogs and other callbacks only while a Playwright call is waiting: a
    `time.sleep` loop would starve them (a route handler that a condition waits on would never run).
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(100)
