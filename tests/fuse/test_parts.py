"""The pieces of the mount without a mount: bridge, verifier, cache, read-ahead, sizes."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dfc import Entry
from dfc._sync import LoopThread
from dfc.api._read import WholeFileVerifier
from dfc.checksum import Hasher
from dfc.errors import ChecksumMismatch, SETimeout, SizeMismatch, StorageError
from dfc.fuse.attrs import AttrCache
from dfc.fuse.cache import BlockCache
from dfc.fuse.prefetch import Prefetcher
from tests.fuse.conftest import data

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def entry_for(content: bytes, lfn: str = "/f") -> Entry:
    h = Hasher()
    h.update(content)
    return Entry(
        lfn, "file", "u", "g", 0o644, NOW, NOW, len(content), "good", h.adler32, h.xxh3, "G"
    )


# ---------------------------------------------------------------- LoopThread
def test_loop_thread_runs_coroutines_from_many_threads() -> None:
    async def double(x: int) -> int:
        await asyncio.sleep(0.001)
        return 2 * x

    with LoopThread() as loop:
        results: list[int] = []
        threads = [
            threading.Thread(target=lambda i=i: results.append(loop.submit(double(i), 5)))
            for i in range(20)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [2 * i for i in range(20)]
    assert not loop.running


def test_loop_thread_timeout_cancels_and_errors_propagate() -> None:
    cancelled = threading.Event()

    async def stuck() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def boom() -> None:
        raise StorageError("broken")

    with LoopThread() as loop:
        with pytest.raises(SETimeout):
            loop.submit(stuck(), 0.05)
        assert cancelled.wait(5)
        with pytest.raises(StorageError, match="broken"):
            loop.submit(boom(), 5)
        left = loop.schedule(asyncio.sleep(60))
    assert left.cancelled()  # close() cancels what is still pending
    with pytest.raises(RuntimeError):
        loop.submit(asyncio.sleep(0))


def test_loop_thread_close_runs_the_final_coroutine() -> None:
    done: list[str] = []

    async def final() -> None:
        done.append("closed")

    loop = LoopThread()
    loop.start()
    loop.close(final())
    loop.close()  # idempotent
    assert done == ["closed"]


# ---------------------------------------------------------------- verifier
def test_verifier_accepts_out_of_order_ranges() -> None:
    content = data(100_000, 1)
    v = WholeFileVerifier(entry_for(content))
    chunks = [(o, content[o : o + 10_000]) for o in range(0, len(content), 10_000)]
    for offset, piece in [chunks[1], chunks[0], chunks[3], chunks[2], *chunks[4:], chunks[5]]:
        v.feed(offset, piece)
    assert v.state == "verified"


def test_verifier_overlapping_ranges_and_mismatch() -> None:
    content = data(50_000, 2)
    v = WholeFileVerifier(entry_for(content))
    v.feed(0, content[:30_000])
    v.feed(20_000, content[20_000:40_000])  # overlaps what was hashed
    bad = bytearray(content[40_000:])
    bad[0] ^= 1
    with pytest.raises(ChecksumMismatch):
        v.feed(40_000, bytes(bad))
    assert v.state == "failed"
    v.feed(0, content)  # nothing more after the verdict


def test_verifier_gives_up_on_random_access_and_checks_size() -> None:
    content = data(1 << 20, 3)
    v = WholeFileVerifier(entry_for(content), window=100_000)
    v.feed(500_000, content[500_000:700_000])  # a seek far ahead: beyond the window
    assert v.state == "abandoned"
    short = WholeFileVerifier(entry_for(content + b"x"))
    short.feed(0, content)
    assert short.state == "reading"
    no_sums = WholeFileVerifier(
        Entry("/f", "file", "u", "g", 0o644, NOW, NOW, 3, "good", None, None, None)
    )
    assert no_sums.state == "abandoned"


def test_verifier_size_mismatch() -> None:
    content = data(1000, 4)
    entry = entry_for(content)
    v = WholeFileVerifier(Entry(**{**entry_as_dict(entry), "size": 999}))
    with pytest.raises(SizeMismatch):
        v.feed(0, content)


def entry_as_dict(entry: Entry) -> dict:
    return {f: getattr(entry, f) for f in Entry.__dataclass_fields__}


# ---------------------------------------------------------------- block cache
def test_block_cache_fetches_once_and_evicts_oldest(tmp_path: Path) -> None:
    content = data(10_000, 5)
    entry = entry_for(content)
    calls: list[tuple[int, int]] = []

    def fetch(offset: int, length: int) -> bytes:
        calls.append((offset, length))
        return content[offset : offset + length]

    cache = BlockCache(tmp_path / "c", capacity=3000, block=1000)
    assert cache.read(entry, 1500, 1000, fetch) == content[1500:2500]
    assert calls == [(1000, 1000), (2000, 1000)]
    assert cache.read(entry, 1000, 2000, fetch) == content[1000:3000]
    assert len(calls) == 2  # served from disk
    cache.read(entry, 5000, 2000, fetch)  # two more blocks: the oldest goes
    assert cache.used <= 3000
    assert cache.read(entry, 9990, 100, fetch) == content[9990:]
    reopened = BlockCache(tmp_path / "c", capacity=3000, block=1000)
    assert reopened.used == cache.used  # the index is rebuilt from disk
    cache.drop(entry)
    assert cache.used == 0


def test_block_cache_concurrent_misses_fetch_once(tmp_path: Path) -> None:
    content = data(4000, 6)
    entry = entry_for(content)
    started = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    def fetch(offset: int, length: int) -> bytes:
        calls.append(offset)
        started.set()
        release.wait(5)
        return content[offset : offset + length]

    cache = BlockCache(tmp_path / "c", capacity=10_000, block=4000)
    out: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: out.append(cache.read(entry, 0, 4000, fetch)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    started.wait(5)
    release.set()
    for t in threads:
        t.join()
    assert out == [content] * 4
    assert calls == [0]


# ---------------------------------------------------------------- read-ahead
def test_prefetcher_reads_ahead_when_sequential_only() -> None:
    content = data(100_000, 7)
    starts: list[tuple[int, int]] = []

    def start(offset: int, length: int) -> Future[bytes]:
        starts.append((offset, length))
        fut: Future[bytes] = Future()
        fut.set_result(content[offset : offset + length])
        return fut

    p = Prefetcher(len(content), start, timeout=5, block=10_000, depth=2)
    assert p.read(0, 4096) == content[:4096]
    assert starts == [(0, 4096)]  # a first read: exactly what was asked
    assert p.read(4096, 10_000) == content[4096:14_096]  # in a row: blocks, read ahead
    assert starts[1:] == [(0, 10_000), (10_000, 10_000), (20_000, 10_000), (30_000, 10_000)]
    assert p.read(14_096, 100) == content[14_096:14_196]
    assert len(starts) == 5  # served from the blocks in flight
    assert p.read(99_000, 5000) == content[99_000:]  # a far seek: exactly what was asked
    assert starts[-1] == (99_000, 1000)
    p.close()


def test_prefetcher_failed_block_is_fetched_again() -> None:
    content = data(30_000, 8)
    failures = [True]

    def start(offset: int, length: int) -> Future[bytes]:
        fut: Future[bytes] = Future()
        if failures and (offset, length) == (0, 10_000):
            failures.pop()
            fut.set_exception(StorageError("flaky"))
        else:
            fut.set_result(content[offset : offset + length])
        return fut

    p = Prefetcher(len(content), start, timeout=5, block=10_000, depth=1)
    assert p.read(0, 50) == content[:50]
    with pytest.raises(StorageError):
        p.read(50, 100)  # the first block of the read-ahead fails
    assert p.read(50, 100) == content[50:150]


# ---------------------------------------------------------------- attributes, sizes
def test_attr_cache_expires_and_forgets() -> None:
    now = [0.0]
    cache = AttrCache(5.0, clock=lambda: now[0])
    e = entry_for(b"abc", "/d/f")
    names = cache.put_listing("/d", [e])
    assert names == ["f"]
    assert cache.get("/d/f") == (True, e)
    assert cache.listing("/d") == ["f"]
    cache.put("/d/missing", None)
    assert cache.get("/d/missing") == (True, None)
    now[0] = 6.0
    assert cache.get("/d/f") == (False, None)
    cache.put_listing("/d", [e])
    cache.forget("/d/f")
    assert cache.listing("/d") is None
    cache.put_listing("/d", [e])
    cache.forget_tree("/d")
    assert cache.get("/d/f") == (False, None)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1048576", 1 << 20),
        ("500M", 500 << 20),
        ("10G", 10 << 30),
        ("1.5g", 3 << 29),
        ("2TiB", 2 << 40),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    from dfc.cli.mount import parse_size

    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "-1", "0", "10X", "abc"])
def test_parse_size_rejects(text: str) -> None:
    import typer

    from dfc.cli.mount import parse_size

    with pytest.raises(typer.BadParameter):
        parse_size(text)


def test_mount_request_round_trip_and_errors() -> None:
    import json

    from dfc.errors import InvalidArgument
    from dfc.fuse.main import parse_request

    text = json.dumps(
        {
            "mountpoint": "/mnt/juno",
            "catalog": None,
            "site": "IHEP",
            "root": "/juno",
            "writable": True,
            "cache_dir": "/tmp/c",
            "cache_size": 1 << 30,
            "attr_ttl": 2,
            "timeout": 7.5,
        }
    )
    mnt, options, where = parse_request(text)
    assert mnt == Path("/mnt/juno")
    assert (options.root, options.writable, options.cache_dir) == ("/juno", True, Path("/tmp/c"))
    assert (options.attr_ttl, options.timeout, options.overwrite) == (2, 7.5, False)
    assert where == {"catalog": None, "site": "IHEP"}
    for bad in (
        "[]",
        "{",
        '{"root": "/"}',
        '{"mountpoint": "/m", "writable": "yes"}',
        '{"mountpoint": "/m", "cache_size": true}',
        '{"mountpoint": "/m", "x": 1}',
    ):
        with pytest.raises(InvalidArgument):
            parse_request(bad)
