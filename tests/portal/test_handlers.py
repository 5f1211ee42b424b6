"""Each portal page through aiohttp's test client: content, escaping, errors."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dfc.portal import create_portal
from tests.portal.conftest import EVIL, FILE, PRIVATE, RUN1

if TYPE_CHECKING:
    from tests.portal.conftest import Catalogue

Client = TestClient[web.Request, web.Application]


async def test_index_redirects_to_the_root(client: Client) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert response.url.path == "/browse"
    text = await response.text()
    assert "Directory <code>/</code>" in text
    assert 'href="/browse?path=/juno"' in text


async def test_directory_lists_entries_and_pages(client: Client, catalogue: Catalogue) -> None:
    catalogue.api.mkdir([f"/juno/many/d{i:03d}" for i in range(205)], parents=True)
    first = await (await client.get("/browse", params={"path": "/juno/many"})).text()
    assert "d000/" in first and "d199/" in first and "d200/" not in first
    assert 'rel="next"' in first
    second = await (await client.get("/browse", params={"path": "/juno/many", "page": "2"})).text()
    assert "d200/" in second and "d204/" in second and "d000/" not in second
    assert 'rel="prev"' in second and 'rel="next"' not in second


async def test_a_file_in_browse_goes_to_its_details(client: Client) -> None:
    response = await client.get("/browse", params={"path": FILE})
    assert response.url.path == "/file"
    text = await response.text()
    assert "IHEP-DISK" in text and "IHEP" in text  # replica SE and site
    assert "1000 bytes" in text
    assert "Run" in text and "120" in text  # own metadata
    assert "inherited from" in text and "RAW" in text  # inherited metadata
    assert "raw.root" in text  # its ancestor


async def test_lfn_with_markup_is_escaped(client: Client) -> None:
    text = await (await client.get("/browse", params={"path": "/juno/data"})).text()
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(1)&lt;/" in text  # the first component of EVIL
    response = await client.get("/file", params={"lfn": f"{EVIL}/raw.root"})
    text = await response.text()
    assert response.status == 200
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;/raw.root" in text
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


async def test_search_uses_the_find_language(client: Client) -> None:
    text = await (await client.get("/search", params={"path": "/juno", "q": "Run>100"})).text()
    assert FILE in text and f"{RUN1}/b.root" not in text
    assert "<strong>1</strong> files" in text
    bad = await client.get("/search", params={"path": "/juno", "q": "Nope>1"})
    assert bad.status == 400
    assert "400 Bad request" in await bad.text()


async def test_usage_per_se(client: Client) -> None:
    text = await (await client.get("/usage", params={"path": "/juno"})).text()
    assert "IHEP-DISK" in text
    assert "4 files" in text


async def test_ses_page_shows_sites_bans_and_usage(client: Client, catalogue: Catalogue) -> None:
    catalogue.api.se_ban("CNAF-DISK", read=False)
    text = await (await client.get("/ses")).text()
    assert "CNAF" in text and "IHEP-DISK" in text
    assert "banned" in text


async def test_missing_and_invalid_paths(client: Client) -> None:
    missing = await client.get("/browse", params={"path": "/juno/nothing"})
    assert missing.status == 404
    invalid = await client.get("/browse", params={"path": "relative"})
    assert invalid.status == 400
    page = await client.get("/browse", params={"path": "/", "page": "x"})
    assert page.status == 400


async def test_refused_directory_is_a_403_page(catalogue: Catalogue) -> None:
    app = create_portal(lambda request: catalogue.outsider)
    async with TestClient(TestServer(app, host="127.0.0.1")) as outsider:
        response = await outsider.get("/browse", params={"path": PRIVATE})
        assert response.status == 403
        text = await response.text()
        assert "403 Forbidden" in text and "a.root" not in text
        details = await outsider.get("/file", params={"lfn": f"{PRIVATE}/a.root"})
        assert details.status == 403


async def test_transfer_pages(client: Client, catalogue: Catalogue) -> None:
    submitted = catalogue.api.fts_submit([FILE], "CNAF-DISK")
    assert submitted.job is not None
    job_id = submitted.job.id
    listing = await (await client.get("/transfers")).text()
    assert f'href="/transfers/{job_id}"' in listing and "SUBMITTED" in listing
    page = await (await client.get(f"/transfers/{job_id}")).text()
    assert FILE in page and "CNAF-DISK" in page
    status = await (await client.get(f"/transfers/{job_id}/status")).json()
    assert status["state"] == "SUBMITTED" and status["files"] == 1
    await asyncio.to_thread(catalogue.api.fts_run, job_id)
    status = await (await client.get(f"/transfers/{job_id}/status")).json()
    assert status["state"] == "FINISHED" and status["final"] is True
    assert (await client.get("/transfers/999")).status == 404
    assert (await client.get("/transfers", params={"state": "BOGUS"})).status == 400


async def test_secret_gates_every_page(catalogue: Catalogue) -> None:
    app = create_portal(lambda request: catalogue.api, secret="s3cret")
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        assert (await c.get("/browse")).status == 401
        assert (await c.get("/browse", params={"token": "wrong"})).status == 401
        assert (await c.get("/static/portal.css")).status == 200
        entered = await c.get("/browse", params={"path": "/juno", "token": "s3cret"})
        assert entered.status == 200
        assert "token" not in str(entered.url)
        assert (await c.get("/ses")).status == 200  # the cookie now
