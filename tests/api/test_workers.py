"""Short blocking calls on a few threads, their ends delivered to the loop in batches."""

from __future__ import annotations

import asyncio
import os
import threading
import time
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


def test_get_of_many_small_files_from_a_remote_se(memory_api: DFC, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    blobs = {f"f{i:02d}": os.urandom(10 * i) for i in range(40)}
    for name, data in blobs.items():
        (src / name).write_bytes(data)
    memory_api.put([src], "/vo/many", se="M", recursive=True).raise_first()
    out = tmp_path / "out"
    memory_api.get(["/vo/many"], out, recursive=True).raise_first()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == blobs
    assert MemoryFileSystem().exists(f"/{tmp_path.name}-m/vo/many/f00")
    # Every worker thread ended with the command.
    assert not [t for t in threading.enumerate() if t.name.startswith("dfc-local")]


async def test_settle_waits_for_the_call_of_a_cancelled_caller() -> None:
    workers = BatchedWorkers(threads=1)
    gate = threading.Event()
    ran: list[int] = []

    def slow() -> None:
        gate.wait(30)
        ran.append(1)

    try:
        future = workers.submit(slow)
        future.cancel()  # the caller went away; the call still runs
        settling = asyncio.ensure_future(workers.settle(future))
        await asyncio.sleep(0.05)
        assert not settling.done()
        gate.set()
        await settling
        assert ran == [1]
        await workers.settle(future)  # it ran: at once
        await workers.settle(workers.submit(len, "ab"))  # not cancelled: until it ran
    finally:
        gate.set()
        workers.shutdown()
