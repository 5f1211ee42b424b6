"""The job pages: tasks, a task's jobs by state, a job's log, inputs and outputs."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dfc.portal import create_portal
from tests.portal.conftest import EVIL, FILE
from tests.portal.test_browser import _MISSING, ARGS, ARTIFACTS, CHROMIUM
from tests.wms_bridge.conftest import _stop_local_jobs
from wms_bridge.config import JobSettings
from wms_bridge.control import Jobs

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from tests.portal.conftest import Catalogue

Client = TestClient[web.Request, web.Application]

#: What the failing job prints: a marker that is also markup.
MARKER = "MARKER-7f3a <script>alert(2)</script>"
EVIL_INPUT = f"{EVIL}/raw.root"
OUT_DIR = "/juno/data/out"


@dataclass
class Ran:
    """A finished task: job 0 succeeded (one output), job 1 failed with exit code 3."""

    task_id: int
    ok_output: str


@pytest.fixture
def ran(catalogue: Catalogue, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ran]:
    """Run a two-job task on the local backend; one input LFN carries markup."""
    monkeypatch.setenv("DFC_JOB_RUNNER_IDLE", "2")
    monkeypatch.setenv("DFC_JOB_SLOTS", "2")
    monkeypatch.delenv("X509_USER_PROXY", raising=False)
    script = f"echo ok > out-$(job).txt; if [ $(job) = 1 ]; then echo '{MARKER}'; exit 3; fi"
    path = tmp_path / "portal.toml"
    path.write_text(
        'name = "portal"\nexecutable = "sh"\n'
        f'arguments = ["-c", {_toml(script)}]\n'
        f"[inputs]\nlfns = [{_toml(FILE)}, {_toml(EVIL_INPUT)}]\n"
        "[splitter]\nfiles_per_job = 1\n"
        f'[outputs]\ndir = "{OUT_DIR}"\nfiles = ["out-*.txt"]\nse = "IHEP-DISK"\n'
    )
    settings = JobSettings.load(catalogue.api.settings)
    try:
        with Jobs(catalogue.api) as jobs:
            task = jobs.submit(path)
            status = jobs.wait(task.id, timeout=60, interval=0.1)
        assert status.counts == {"done": 1, "failed": 1}, status
        yield Ran(task.id, f"{OUT_DIR}/out-0.txt")
    finally:
        _stop_local_jobs(settings)


def _toml(text: str) -> str:
    """A TOML basic string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def test_tasks_task_and_job_pages(client: Client, ran: Ran) -> None:
    listing = await client.get("/tasks")
    assert listing.status == 200
    text = await listing.text()
    assert f'href="/tasks/{ran.task_id}"' in text and "portal" in text
    assert 'href="/tasks">Jobs</a>' in text  # the navigation link
    task = await (await client.get(f"/tasks/{ran.task_id}")).text()
    assert f'href="/tasks/{ran.task_id}/job?index=1"' in task
    assert "failed (1)" in task and "done (1)" in task
    done = await (await client.get(f"/tasks/{ran.task_id}/job", params={"index": "0"})).text()
    assert ran.ok_output in done
    assert 'href="/file?lfn=/juno/data/out/out-0.txt"' in done  # to the catalogue page
    failed = await client.get(f"/tasks/{ran.task_id}/job", params={"index": "1"})
    assert failed.status == 200
    page = await failed.text()
    assert '<dd id="exit_code">3</dd>' in page
    assert "MARKER-7f3a &lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;/raw.root" in page  # its input, escaped
    assert "<script>alert" not in page


async def test_missing_tasks_and_jobs(client: Client, ran: Ran) -> None:
    assert (await client.get("/tasks/999")).status == 404
    assert (await client.get("/tasks/x")).status == 400
    job = f"/tasks/{ran.task_id}/job"
    assert (await client.get(job, params={"index": "9"})).status == 404
    assert (await client.get(job, params={"index": "x"})).status == 400
    assert (await client.get(job)).status == 400


async def test_no_tasks(client: Client) -> None:
    text = await (await client.get("/tasks")).text()
    assert "no tasks" in text


async def test_other_users_get_403(catalogue: Catalogue) -> None:
    app = create_portal(lambda request: catalogue.outsider)
    async with TestClient(TestServer(app, host="127.0.0.1")) as outsider:
        response = await outsider.get("/tasks")
        assert response.status == 403
        assert "403 Forbidden" in await response.text()


async def test_without_the_job_bridge(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wms_bridge.control", None)
    response = await client.get("/tasks")
    assert response.status == 200
    assert "the job bridge is not installed" in await response.text()
    task = await client.get("/tasks/1")
    assert task.status == 404
    assert "the job bridge is not installed" in await task.text()
    assert (await client.get("/browse")).status == 200


# ---------------------------------------------------------------- in Chromium


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium page (the system browser, as in test_browser)."""
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield await chromium.new_page(viewport={"width": 1366, "height": 768})
        finally:
            await chromium.close()


@pytest.mark.skipif(_MISSING, reason="needs playwright and /usr/bin/chromium")
async def test_see_a_failed_jobs_log(catalogue: Catalogue, ran: Ran, browser: Any) -> None:
    from playwright.async_api import expect

    server = TestServer(create_portal(lambda request: catalogue.api), host="127.0.0.1")
    await server.start_server()
    try:
        page = browser
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        await page.goto(str(server.make_url("/")))
        await page.get_by_role("link", name="Jobs", exact=True).click()
        await page.screenshot(path=ARTIFACTS / "tasks.png", full_page=True)
        await page.get_by_role("link", name="portal", exact=True).click()
        await expect(page.locator("#state")).to_have_text("failed")
        await page.get_by_role("link", name="job 1", exact=True).click()
        await expect(page.locator("#exit_code")).to_have_text("3")
        await expect(page.locator("#log-stdout")).to_contain_text(MARKER)
        await expect(page.locator("main")).to_contain_text(EVIL_INPUT)
        assert dialogs == []
        await page.screenshot(path=ARTIFACTS / "task_job.png", full_page=True)
    finally:
        await server.close()
