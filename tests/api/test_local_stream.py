"""Local files streamed to and from storage: one hand-over for a small file, nothing leaked."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import cast

import pytest
import xxhash

from dfc._sync import BatchedWorkers
from dfc.api._local import local_error, read_local, write_local
from dfc.checksum import Hasher
from dfc.errors import NoSpace, NotFound, StorageError

CHUNK = 1000


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _read_all(path: Path, hasher: Hasher) -> list[bytes]:
    return [block async for block in read_local(path, hasher, chunk=CHUNK)]


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
async def test_read_local_yields_the_file_in_chunks(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f"
    path.write_bytes(data)
    before = _open_fds()
    hasher = Hasher()
    blocks = await _read_all(path, hasher)
    assert b"".join(blocks) == data
    assert all(blocks) and all(len(b) <= CHUNK for b in blocks)
    assert (hasher.size, hasher.xxh3) == (size, xxhash.xxh3_64_hexdigest(data))
    assert _open_fds() == before


async def test_read_local_of_a_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="local file"):
        await _read_all(tmp_path / "nope", Hasher())


async def test_read_local_abandoned_closes_its_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(os.urandom(5 * CHUNK))
    before = _open_fds()
    stream = cast("AsyncGenerator[bytes, None]", read_local(path, Hasher(), chunk=CHUNK))
    assert len(await anext(stream)) == CHUNK
    await stream.aclose()  # a consumer that stops early (a failed upload)
    assert _open_fds() == before


async def _blocks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


@pytest.mark.parametrize(
    "parts",
    [(), (b"",), (b"abc",), (b"", b"abc"), (b"a" * 10, b"", b"b" * 10, b"c"), (b"x" * 50,) * 7],
)
async def test_write_local_writes_every_block(tmp_path: Path, parts: tuple[bytes, ...]) -> None:
    data = b"".join(parts)
    target = tmp_path / "out"
    hasher = Hasher()
    assert await write_local(_blocks(*parts), target, hasher) == len(data)
    assert target.read_bytes() == data
    assert (hasher.size, hasher.xxh3) == (len(data), xxhash.xxh3_64_hexdigest(data))


@pytest.mark.parametrize("parts", [(b"small",), (b"large" * 10, b"file")])
async def test_write_local_errors_name_the_local_path(
    tmp_path: Path, parts: tuple[bytes, ...]
) -> None:
    with pytest.raises(NotFound, match="local file"):
        await write_local(_blocks(*parts), tmp_path / "missing-dir" / "out", Hasher())
    taken = tmp_path / "taken"
    taken.write_bytes(b"keep")
    with pytest.raises(StorageError, match="local file"):
        await write_local(_blocks(*parts), taken, Hasher())
    assert taken.read_bytes() == b"keep"  # never overwritten: the temporary name is exclusive


def test_a_full_local_disk_is_no_space() -> None:
    """Writing to /dev/full fails as a full disk does (ENOSPC): exit status 28, not 5."""
    with pytest.raises(OSError) as full, Path("/dev/full").open("wb", buffering=0) as dev:
        dev.write(b"x")
    err = local_error("/data/out.root", full.value)
    assert isinstance(err, NoSpace) and err.errno == 28
    assert str(err) == "local file '/data/out.root': No space left on device"


async def test_write_local_cancelled_while_waiting_creates_nothing(tmp_path: Path) -> None:
    started = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield b"first"
        started.set()
        await asyncio.Event().wait()  # the source never answers
        yield b"never"

    target = tmp_path / "out"
    task = asyncio.ensure_future(write_local(stalled(), target, Hasher()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not target.exists()


async def test_write_local_cancelled_during_its_write_waits_for_it(tmp_path: Path) -> None:
    """A small file written on BatchedWorkers: the caller hears of its cancellation
    only once the write ran, so the file is complete when it cleans up."""
    workers = BatchedWorkers(threads=1)
    gate = threading.Event()
    target = tmp_path / "out"
    try:
        blocker = workers.submit(gate.wait, 30)  # the write queues behind it
        task = asyncio.ensure_future(
            write_local(_blocks(b"data"), target, Hasher(), workers=workers)
        )
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0.05)
        assert not task.done()  # still waiting for its write
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert target.read_bytes() == b"data"
        assert await blocker is True
    finally:
        gate.set()
        workers.shutdown()


async def test_read_local_on_batched_workers(tmp_path: Path) -> None:
    workers = BatchedWorkers(threads=2)
    try:
        for size in (0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK):
            path = tmp_path / f"f{size}"
            data = os.urandom(size)
            path.write_bytes(data)
            hasher = Hasher()
            got = [b async for b in read_local(path, hasher, chunk=CHUNK, workers=workers)]
            assert b"".join(got) == data
            assert hasher.xxh3 == xxhash.xxh3_64_hexdigest(data)
        with pytest.raises(NotFound):
            _ = [b async for b in read_local(tmp_path / "nope", Hasher(), workers=workers)]
    finally:
        workers.shutdown()


async def test_read_local_cancelled_while_opening_closes_the_file(tmp_path: Path) -> None:
    """The open ran for a caller that went away: the file it opened is closed."""
    path = tmp_path / "big"
    path.write_bytes(os.urandom(3 * CHUNK))  # stays open after the first read
    workers = BatchedWorkers(threads=1)
    gate = threading.Event()
    fds_before = len(os.listdir("/proc/self/fd"))
    try:
        workers.submit(gate.wait, 30)  # the open queues behind it
        stream = cast(
            "AsyncGenerator[bytes, None]", read_local(path, Hasher(), chunk=CHUNK, workers=workers)
        )
        task = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0.05)
        assert not task.done()  # it waits for the open to have run
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(os.listdir("/proc/self/fd")) == fds_before
    finally:
        gate.set()
        workers.shutdown()
