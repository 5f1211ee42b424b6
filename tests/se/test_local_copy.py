"""LocalSE.put_from / get_into: the one-thread copy of a local file, hashed on the way."""

from __future__ import annotations

import asyncio
import io
import os
import threading
import zlib

import pytest
import xxhash

from dfc.checksum import Hasher
from dfc.errors import AlreadyExists, NotFound, PermissionDenied, StorageError
from dfc.se import LocalSE
from dfc.se._localio import COPY_BUFFER
from dfc.se.testing import read_all, stream

DATA = os.urandom(3 * COPY_BUFFER + 12345)


@pytest.fixture
async def se(tmp_path):
    s = LocalSE("LOCAL", f"file://{tmp_path / 'se'}", fsync=True)
    await s.mkdir("/")
    yield s
    await s.close()


def _files(se: LocalSE) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, f), se.root) for d, _, fs in os.walk(se.root) for f in fs
    )


def _expected(data: bytes) -> tuple[str, str]:
    return f"{zlib.adler32(data) & 0xFFFFFFFF:08x}", xxhash.xxh3_64_hexdigest(data)


async def test_put_from_writes_hashes_and_reports(se):
    src = io.BytesIO(DATA)
    hasher = Hasher()
    seen: list[int] = []
    info = await se.put_from(src.readinto, "/d/f.dat", hasher, progress=seen.append)
    assert info.size == len(DATA) == hasher.size
    assert (hasher.adler32, hasher.xxh3) == _expected(DATA)
    assert await read_all(se, "/d/f.dat") == DATA
    assert sum(seen) == len(DATA)
    assert _files(se) == ["d/f.dat"]


async def test_put_from_empty_source(se):
    hasher = Hasher()
    info = await se.put_from(io.BytesIO(b"").readinto, "/empty", hasher)
    assert info.size == 0 and hasher.size == 0
    assert (hasher.adler32, hasher.xxh3) == _expected(b"")


async def test_put_from_refuses_existing_target(se):
    await se.put(stream(b"old"), "/x", size=3)
    with pytest.raises(AlreadyExists):
        await se.put_from(io.BytesIO(DATA).readinto, "/x", Hasher())
    assert await read_all(se, "/x") == b"old"
    assert _files(se) == ["x"]


async def test_put_from_source_error_propagates_and_leaves_nothing(se):
    calls = 0

    def broken(view: memoryview) -> int:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise StorageError("local file 'x': input/output error")
        view[:10] = b"0123456789"
        return 10

    with pytest.raises(StorageError, match="input/output error"):
        await se.put_from(broken, "/p", Hasher())
    assert _files(se) == []


async def test_put_from_cancelled_stops_reading_and_leaves_nothing(se):
    started = threading.Event()
    calls = 0

    def endless(view: memoryview) -> int:
        nonlocal calls
        calls += 1
        started.set()
        threading.Event().wait(0.01)
        view[:100] = b"z" * 100
        return 100

    task = asyncio.ensure_future(se.put_from(endless, "/c", Hasher()))
    await asyncio.to_thread(started.wait)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = calls
    await asyncio.sleep(0.05)
    assert calls == after, "readinto was called after put_from ended"
    assert _files(se) == []


async def test_get_into_reads_hashes_and_reports(se, tmp_path):
    await se.put(stream(DATA), "/g", size=len(DATA))
    out = io.BytesIO()
    hasher = Hasher()
    seen: list[int] = []
    size = await se.get_into("/g", out.write, hasher, progress=seen.append)
    assert size == len(DATA) == hasher.size
    assert out.getvalue() == DATA
    assert (hasher.adler32, hasher.xxh3) == _expected(DATA)
    assert sum(seen) == len(DATA)


async def test_get_into_missing_replica_is_not_found(se):
    with pytest.raises(NotFound):
        await se.get_into("/nothing", io.BytesIO().write, Hasher())


async def test_get_into_write_error_propagates_unchanged(se):
    await se.put(stream(DATA), "/g", size=len(DATA))

    def full(view: memoryview) -> None:
        raise PermissionDenied("local file 'out': permission denied")

    with pytest.raises(PermissionDenied, match="local file 'out'"):
        await se.get_into("/g", full, Hasher())


async def test_get_into_cancelled_stops_writing(se):
    await se.put(stream(DATA), "/g", size=len(DATA))
    started = threading.Event()
    calls = 0

    def slow(view: memoryview) -> None:
        nonlocal calls
        calls += 1
        started.set()
        threading.Event().wait(0.05)

    task = asyncio.ensure_future(se.get_into("/g", slow, Hasher()))
    await asyncio.to_thread(started.wait)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = calls
    await asyncio.sleep(0.1)
    assert calls == after, "write was called after get_into ended"
