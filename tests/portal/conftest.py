"""A small populated catalogue, and the portal served for it on 127.0.0.1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dfc import DFC, Settings
from dfc.auth.identity import Identity
from dfc.portal import create_portal

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

#: An LFN that is also HTML: it must show as text.
EVIL = "/juno/data/<script>alert(1)</script>"
RUN1 = "/juno/data/run1"
FILE = f"{RUN1}/a.root"
PRIVATE = "/juno/private"


@dataclass
class Catalogue:
    """The populated catalogue: its owner's API, and an outsider's."""

    api: DFC
    outsider: DFC
    root: Path


@pytest.fixture
def catalogue(tmp_path: Path) -> Iterator[Catalogue]:
    """Two SEs at two sites, files with replicas, metadata, ancestry, a private directory."""
    api = DFC(Settings.load())
    api.init()
    api.se_add("IHEP-DISK", f"file://{tmp_path}/se1", site="IHEP")
    api.se_add("CNAF-DISK", f"file://{tmp_path}/se2", site="CNAF")
    api.mkdir([RUN1, EVIL, PRIVATE], parents=True)
    for name, size in (("a.root", 1000), ("b.root", 2000), ("raw.root", 3000)):
        (tmp_path / name).write_bytes(bytes(size))
    api.put([tmp_path / "a.root", tmp_path / "b.root"], f"{RUN1}/", se="IHEP-DISK").raise_first()
    api.put([tmp_path / "raw.root"], f"{EVIL}/", se="IHEP-DISK").raise_first()
    api.put([tmp_path / "a.root"], f"{PRIVATE}/", se="IHEP-DISK").raise_first()
    api.meta_index("Run", "int", level="file")
    api.meta_index("Type", "str")
    api.meta_set(
        [(RUN1, {"Type": "RAW"}), (FILE, {"Run": 120}), (f"{RUN1}/b.root", {"Run": 7})]
    ).raise_first()
    api.ancestry_add([(FILE, [f"{EVIL}/raw.root"])]).raise_first()
    api.chmod([PRIVATE], 0o700).raise_first()
    outsider = DFC(Settings.load(), identity=Identity.local("bob"))
    yield Catalogue(api, outsider, tmp_path)
    outsider.close()
    api.close()


@pytest.fixture
async def client(catalogue: Catalogue) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The portal for the catalogue's owner, behind an aiohttp test client."""
    app = create_portal(lambda request: catalogue.api)
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c
