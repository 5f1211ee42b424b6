"""Short blocking calls on a few threads, their ends delivered to the loop in batches."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fsspec.implementations.memory import MemoryFileSystem

from dfc import DFC
from dfc._sync import BatchedWorkers
from dfc.errors import InvalidArgument


async def test_results_and_errors_reach_their_callers() -> None:
    workers = BatchedWorkers(threads=3)
    try:

        def square(x: int) -> int:
            if x == 7:
                raise InvalidArgument("seven")
            return x * x

        outcomes = await asyncio.gather(
            *(workers.submit(square, i) for i in range(20)), return_exceptions=True
        )
    finally:
        workers.shutdown()
    assert [o if isinstance(o, int) else str(o) for o in outcomes] == [
        i * i if i != 7 else "seven" for i in range(20)
    ]


async def test_calls_finished_together_wake_the_loop_once(monkeypatch: pytest.MonkeyPatch) -> None:
    workers = BatchedWorkers(threads=2)
    finished = 0
    lock = threading.Lock()
    wakeups = 0
    loop = asyncio.get_running_loop()
    original = loop.call_soon_threadsafe

    def counting(*args: Any, **kwargs: Any) -> asyncio.Handle:
        nonlocal wakeups
        wakeups += 1
        return original(*args, **kwargs)

    def call(i: int) -> int:
        nonlocal finished
        with lock:
            finished += 1
        return i

    monkeypatch.setattr(loop, "call_soon_threadsafe", counting)
    try:
        futures = [workers.submit(call, i) for i in range(50)]
        # The loop is busy (it does not yield) while every call finishes.
        deadline = time.monotonic() + 30
        while finished < 50 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert await asyncio.gather(*futures) == list(range(50))
    finally:
        workers.shutdown()
    assert wakeups == 1  # one delivery for the 50 results


async def test_a_cancelled_caller_leaves_the_others_alone() -> None:
    workers = BatchedWorkers(threads=1)
    gate = threading.Event()
    try:
        held = workers.submit(gate.wait, 30)
        dropped = workers.submit(len, "abc")
        other = workers.submit(len, "abcd")
        dropped.cancel()  # its caller went away: the call still runs, its result is dropped
        gate.set()
        assert await held is True
        assert await other == 4
        assert dropped.cancelled()
    finally:
        workers.shutdown()


def test_shutdown_without_use_is_immediate() -> None:
    BatchedWorkers().shutdown()


def _small_files(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """40 small local files of 0 to 390 bytes in ``tmp_path/src``."""
    src = tmp_path / "src"
    src.mkdir()
    blobs = {f"f{i:02d}": os.urandom(10 * i) for i in range(40)}
    for name, data in blobs.items():
        (src / name).write_bytes(data)
    return src, blobs


def test_get_of_many_small_files_from_a_remote_se(memory_api: DFC, tmp_path: Path) -> None:
    src, blobs = _small_files(tmp_path)
    memory_api.put([src], "/vo/many", se="M", recursive=True).raise_first()
    out = tmp_path / "out"
    memory_api.get(["/vo/many"], out, recursive=True).raise_first()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == blobs
    assert MemoryFileSystem().exists(f"/{tmp_path.name}-m/vo/many/f00")
    # Every worker thread ended with the command.
    assert not [t for t in threading.enumerate() if t.name.startswith("dfc-local")]


@pytest.fixture
def gated() -> Iterator[tuple[BatchedWorkers, threading.Event]]:
    """One worker thread and a gate its first call can wait at; both let go at the end."""
    workers = BatchedWorkers(threads=1)
    gate = threading.Event()
    try:
        yield workers, gate
    finally:
        gate.set()
        workers.shutdown()


async def _settle_once_open(workers: BatchedWorkers, future: Any, gate: threading.Event) -> None:
    """``settle(future)`` waits while the gate holds its call, and returns once it ran."""
    settling = asyncio.ensure_future(workers.settle(future))
    await asyncio.sleep(0.05)
    assert not settling.done()
    gate.set()
    await settling


async def test_settle_waits_for_the_call_of_a_cancelled_caller(
    gated: tuple[BatchedWorkers, threading.Event],
) -> None:
    workers, gate = gated
    ran: list[int] = []

    def slow() -> None:
        gate.wait(30)
        ran.append(1)

    future = workers.submit(slow)
    future.cancel()  # the caller went away; the call still runs
    await _settle_once_open(workers, future, gate)
    assert ran == [1]
    await workers.settle(future)  # it ran: at once
    await workers.settle(workers.submit(len, "ab"))  # not cancelled: until it ran


async def test_an_abandoned_result_is_released(
    gated: tuple[BatchedWorkers, threading.Event],
) -> None:
    workers, gate = gated
    released: list[str] = []
    future = workers.submit_releasing(lambda: gate.wait(30) and "handle", released.append)
    kept = workers.submit_releasing(lambda: "kept", released.append)
    future.cancel()  # the caller went away while the call ran
    await _settle_once_open(workers, future, gate)
    assert released == ["handle"]  # released before settle returned
    assert await kept == "kept"  # a result someone took is not released
    assert released == ["handle"]


async def test_a_failing_release_goes_to_the_loop_exception_handler(
    gated: tuple[BatchedWorkers, threading.Event],
) -> None:
    workers, gate = gated
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))

    def release(_result: object) -> None:
        raise OSError("close failed")

    try:
        future = workers.submit_releasing(lambda: gate.wait(30), release)
        other = workers.submit(len, "ab")
        future.cancel()
        gate.set()
        await workers.settle(future)
        assert await other == 2  # the other results are still delivered
    finally:
        loop.set_exception_handler(None)
    assert [str(c["exception"]) for c in reported] == ["close failed"]


def test_put_of_many_small_files_to_a_remote_se(memory_api: DFC, tmp_path: Path) -> None:
    src, blobs = _small_files(tmp_path)
    put = memory_api.put([src], "/vo/up", se="M", recursive=True)
    put.raise_first()
    fs = MemoryFileSystem()
    for name, data in blobs.items():
        assert fs.cat_file(f"/{tmp_path.name}-m/vo/up/{name}") == data
        assert put.succeeded[f"/vo/up/{name}"].size == len(data)
    # The local files were read on the batched workers, whose threads ended with the put.
    assert not [t for t in threading.enumerate() if t.name.startswith("dfc-local")]
