"""End-to-end: Debian's headless Chromium drives the portal served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp.test_utils import TestServer

from dfc.portal import create_portal
from tests.portal.conftest import EVIL, FILE, PRIVATE

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.portal.conftest import Catalogue

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_WAIT = 30_000  # ms: how long the browser waits for a page to change

try:
    from playwright.async_api import async_playwright, expect
except ImportError:  # pragma: no cover - scripts/install-web-deps installs it
    async_playwright = None  # type: ignore[assignment]

_MISSING = async_playwright is None or shutil.which(CHROMIUM) is None
pytestmark = pytest.mark.skipif(
    _MISSING and os.environ.get("CI") != "true",
    reason="needs playwright and /usr/bin/chromium (scripts/install-web-deps)",
)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium page (the system browser; playwright downloads nothing)."""
    assert async_playwright is not None, "run scripts/install-web-deps"
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield await chromium.new_page(viewport={"width": 1366, "height": 768})
        finally:
            await chromium.close()


async def _serve(api_for: Any) -> TestServer:
    server = TestServer(create_portal(api_for), host="127.0.0.1")
    await server.start_server()
    return server


async def test_navigate_to_a_file_and_see_its_replicas(catalogue: Catalogue, browser: Any) -> None:
    server = await _serve(lambda request: catalogue.api)
    try:
        page = browser
        await page.goto(str(server.make_url("/")))
        for name in ("juno/", "data/", "run1/"):
            await page.get_by_role("link", name=name, exact=True).click()
        await page.screenshot(path=ARTIFACTS / "browse.png", full_page=True)
        await page.get_by_role("link", name="a.root", exact=True).click()
        await expect(page.locator("#lfn")).to_have_text(FILE)
        replicas = page.locator("tr.replica")
        await expect(replicas).to_have_count(1)
        await expect(replicas.first).to_contain_text("IHEP-DISK")
        await expect(replicas.first).to_contain_text("IHEP")
        await page.screenshot(path=ARTIFACTS / "file.png", full_page=True)
        await page.get_by_role("link", name="Storage elements").click()
        await expect(page.locator("main")).to_contain_text("CNAF-DISK")
        await page.screenshot(path=ARTIFACTS / "ses.png", full_page=True)
        await page.goto(str(server.make_url("/usage").with_query(path="/juno")))
        await page.screenshot(path=ARTIFACTS / "usage.png", full_page=True)
    finally:
        await server.close()


async def test_metadata_search(catalogue: Catalogue, browser: Any) -> None:
    server = await _serve(lambda request: catalogue.api)
    try:
        page = browser
        await page.goto(str(server.make_url("/search")))
        await page.get_by_label("Below").fill("/juno")
        await page.get_by_label("Query").fill("Run>100 Type=RAW")
        await page.get_by_label("Query").press("Enter")
        results = page.locator("ul.results li")
        await expect(results).to_have_count(1)
        await expect(results.first).to_have_text(FILE)
        await page.screenshot(path=ARTIFACTS / "search.png", full_page=True)
    finally:
        await server.close()


async def test_watch_a_transfer_job_finish(catalogue: Catalogue, browser: Any) -> None:
    submitted = catalogue.api.fts_submit([FILE, f"{EVIL}/raw.root"], "CNAF-DISK")
    assert submitted.job is not None
    job_id = submitted.job.id
    server = await _serve(lambda request: catalogue.api)
    try:
        page = browser
        await page.goto(str(server.make_url("/transfers")))
        await page.screenshot(path=ARTIFACTS / "transfers.png", full_page=True)
        await page.get_by_role("link", name=str(job_id), exact=True).click()
        await expect(page.locator("#state")).to_have_text("SUBMITTED")
        url = page.url
        await asyncio.to_thread(catalogue.api.fts_run, job_id)
        # The page refreshes itself: no reload, the same document.
        await expect(page.locator("#state")).to_have_text("FINISHED", timeout=_WAIT)
        await expect(page.locator("#finished")).to_have_text("2")
        assert page.url == url
        await page.screenshot(path=ARTIFACTS / "job.png", full_page=True)
    finally:
        await server.close()


async def test_user_without_rights_sees_403(catalogue: Catalogue, browser: Any) -> None:
    server = await _serve(lambda request: catalogue.outsider)
    try:
        page = browser
        response = await page.goto(str(server.make_url("/browse").with_query(path=PRIVATE)))
        assert response is not None and response.status == 403
        await expect(page.get_by_role("heading", level=1)).to_have_text("403 Forbidden")
        await expect(page.locator("main")).not_to_contain_text("a.root")
        await page.screenshot(path=ARTIFACTS / "forbidden.png", full_page=True)
    finally:
        await server.close()


async def test_lfn_with_script_is_text(catalogue: Catalogue, browser: Any) -> None:
    server = await _serve(lambda request: catalogue.api)
    try:
        page = browser
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        lfn = f"{EVIL}/raw.root"
        await page.goto(str(server.make_url("/file").with_query(lfn=lfn)))
        await expect(page.locator("#lfn")).to_have_text(lfn)
        await page.goto(str(server.make_url("/browse").with_query(path="/juno/data")))
        await expect(page.locator("main")).to_contain_text("<script>alert(1)<")
        assert dialogs == []
        assert await page.locator("main script").count() == 0
        await page.screenshot(path=ARTIFACTS / "escaped.png", full_page=True)
    finally:
        await server.close()
