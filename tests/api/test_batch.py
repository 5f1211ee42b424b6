"""Registrations of concurrent copies share catalogue transactions."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fsspec.implementations.memory import MemoryFileSystem

from dfc import DFC
from dfc._sync import CatalogExecutor
from dfc.api._batch import MAX_BATCH, Batcher
from dfc.errors import AlreadyExists, CatalogError, InvalidArgument
from dfc.models import FileRecord, Replica
from dfc.se.fsspec_se import FsspecSE


class Recorder:
    """A batch function that records its batches; each waits for ``gate``."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()

    def __call__(self, items: list[int]) -> list[int | Exception]:
        self.gate.wait(30)
        self.batches.append(items)
        return [InvalidArgument(f"odd {i}") if i % 2 else i * 10 for i in items]


@pytest.fixture
def executor() -> Iterator[CatalogExecutor]:
    pool = CatalogExecutor()
    yield pool
    pool.shutdown()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    held = Recorder()
    yield held
    held.gate.set()  # never leave the catalogue thread waiting


async def test_items_arriving_meanwhile_share_the_next_batch(
    executor: CatalogExecutor, recorder: Recorder
) -> None:
    batcher: Batcher[int, int] = Batcher(executor, recorder)
    first = asyncio.ensure_future(batcher.submit(0))
    await asyncio.sleep(0)  # the first batch is in the database, held by the gate
    rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 7)]
    await asyncio.sleep(0)
    recorder.gate.set()
    assert await first == 0
    outcomes = await asyncio.gather(*rest, return_exceptions=True)
    assert recorder.batches == [[0], [1, 2, 3, 4, 5, 6]]
    assert [str(o) if isinstance(o, Exception) else o for o in outcomes] == [
        "odd 1",
        20,
        "odd 3",
        40,
        "odd 5",
        60,
    ]


async def test_batches_are_bounded(executor: CatalogExecutor, recorder: Recorder) -> None:
    batcher: Batcher[int, int] = Batcher(executor, recorder)
    first = asyncio.ensure_future(batcher.submit(0))
    await asyncio.sleep(0)
    rest = [asyncio.ensure_future(batcher.submit(2 * i)) for i in range(1, MAX_BATCH + 3)]
    await asyncio.sleep(0)
    recorder.gate.set()
    await asyncio.gather(first, *rest)
    assert [len(b) for b in recorder.batches] == [1, MAX_BATCH, 2]


async def test_a_failed_transaction_fails_every_item_of_its_batch(
    executor: CatalogExecutor,
) -> None:
    calls: list[list[str]] = []

    def broken(items: list[str]) -> list[str | Exception]:
        calls.append(items)
        if len(calls) == 1:
            raise CatalogError("database is locked")
        return list(items)

    batcher: Batcher[str, str] = Batcher(executor, broken)
    outcomes = await asyncio.gather(
        batcher.submit("a"), batcher.submit("b"), return_exceptions=True
    )
    assert [type(o) for o in outcomes] == [CatalogError, CatalogError]
    assert await batcher.submit("c") == "c"  # the next batch goes on


async def test_a_cancelled_caller_does_not_stop_its_batch(
    executor: CatalogExecutor, recorder: Recorder
) -> None:
    batcher: Batcher[int, int] = Batcher(executor, recorder)
    waiter = asyncio.ensure_future(batcher.submit(1))  # fails: odd
    other = asyncio.ensure_future(batcher.submit(2))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    recorder.gate.set()
    assert await other == 20
    assert recorder.batches == [[1, 2]]


def test_put_of_many_files_registers_each_one_or_removes_its_copy(
    memory_api: DFC, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(60):
        (src / f"f{i:02d}").write_bytes(os.urandom(100 + i))
    # Another client registers f07 while this put copies it: that one item fails.
    original = FsspecSE.put

    async def racing_put(self: FsspecSE, stream: Any, path: str, **kwargs: Any) -> Any:
        info = await original(self, stream, path, **kwargs)
        if path.endswith("/f07"):
            with memory_api.catalog.transaction() as tx:
                rec = FileRecord(
                    "/vo/run/f07", 1, "00000001", None, "other", (Replica("N", "/other/f07"),)
                )
                tx.add_files([rec], owner="someone", group="else").raise_first()
        return info

    monkeypatch.setattr(FsspecSE, "put", racing_put)
    res = memory_api.put([src], "/vo/run", se="M", recursive=True)
    assert set(res.failed) == {"/vo/run/f07"}
    assert isinstance(res.failed["/vo/run/f07"], AlreadyExists)
    assert len(res.succeeded) == 59
    entries = {e.lfn: e for e in memory_api.ls("/vo/run")}
    assert entries["/vo/run/f07"].guid == "other"  # the other client's file is untouched
    for i in range(60):
        lfn = f"/vo/run/f{i:02d}"
        if i != 7:
            assert entries[lfn].size == 100 + i
            assert [r.se for r in res.succeeded[lfn].replicas] == ["M"]
    # On M: the 59 registered copies, nothing of f07, no temporary file.
    root = f"/{tmp_path.name}-m/vo/run"
    stored = {Path(p).name for p in MemoryFileSystem().ls(root, detail=False)}
    assert stored == {f"f{i:02d}" for i in range(60) if i != 7}
