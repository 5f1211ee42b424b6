from __future__ import annotations

import uuid

import pytest

from dfc.errors import ConfigError, InvalidArgument
from dfc.models import SEInfo
from dfc.se import MemorySE, open_se
from dfc.se.testing import SEConformance, read_all, stream


@pytest.fixture
async def memory_se():
    se = MemorySE("MEM", f"memory://test-{uuid.uuid4().hex}")
    await se.mkdir("/")
    yield se
    se.fs.rm(se.root, recursive=True)  # the in-memory store is per process: free it
    await se.close()


class TestMemorySE(SEConformance):
    @pytest.fixture
    async def se(self, memory_se):
        return memory_se


async def test_ses_with_other_roots_are_isolated(memory_se):
    other = MemorySE("OTHER", f"memory://test-{uuid.uuid4().hex}")
    try:
        await memory_se.put(stream(b"mine"), "/f", size=4)
        await other.mkdir("/")
        assert await other.ls("/") == []
    finally:
        other.fs.rm(other.root, recursive=True)
        await other.close()


async def test_same_url_shares_data(memory_se):
    await memory_se.put(stream(b"shared"), "/s", size=6)
    twin = open_se(SEInfo("TWIN", memory_se.url))
    try:
        assert await read_all(twin, "/s") == b"shared"
        assert twin.pfn("/s") == memory_se.pfn("/s") == memory_se.url + "/s"
    finally:
        await twin.close()


@pytest.mark.parametrize("url", ["memory://", "memory:///", "file:///x"])
def test_bad_urls(url):
    with pytest.raises(InvalidArgument):
        MemorySE("BAD", url)


def test_options_refused():
    with pytest.raises(ConfigError, match="unknown option"):
        open_se(SEInfo("M", "memory://x"), {"chunk_size": 1})
