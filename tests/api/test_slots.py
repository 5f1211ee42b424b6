"""How many copies put, get and replicate run at once: few large files, many small ones."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from dfc import DFC, Settings
from dfc.api._slots import SMALL_FILE, CopySlots
from dfc.errors import ConfigError
from dfc.se.fsspec_se import FsspecSE


class InFlight:
    """Counts the storage calls running at once.

    Each call waits until ``expected`` calls run together (or a generous guard
    expires, so that a wrong limit fails the test instead of hanging it), then
    goes on: the highest count seen is the limit in force.
    """

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.now = self.peak = 0
        self._full = asyncio.Event()

    async def enter(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)
        if self.now >= self.expected:
            self._full.set()
        # A guard against hanging, not a timing assertion: the peak is checked.
        await asyncio.wait_for(self._full.wait(), 30)

    def leave(self) -> None:
        self.now -= 1


def _watch_puts(monkeypatch: pytest.MonkeyPatch, flight: InFlight) -> None:
    original = FsspecSE.put

    async def put(self: FsspecSE, *args: Any, **kwargs: Any) -> Any:
        await flight.enter()
        try:
            return await original(self, *args, **kwargs)
        finally:
            flight.leave()

    monkeypatch.setattr(FsspecSE, "put", put)


def _watch_reads(monkeypatch: pytest.MonkeyPatch, flight: InFlight) -> None:
    original: Callable[..., AsyncIterator[bytes]] = FsspecSE.open_read

    async def open_read(self: FsspecSE, *args: Any, **kwargs: Any) -> AsyncIterator[bytes]:
        await flight.enter()
        try:
            async for block in original(self, *args, **kwargs):
                yield block
        finally:
            flight.leave()

    monkeypatch.setattr(FsspecSE, "open_read", open_read)


def _files(root: Path, count: int, size: int) -> list[Path]:
    root.mkdir()
    paths = []
    for i in range(count):
        path = root / f"f{i:03d}"
        path.write_bytes(os.urandom(size))
        paths.append(path)
    return paths


def test_small_files_are_copied_many_at_once(
    memory_api: DFC, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert memory_api.settings.transfer_concurrency == 8
    assert memory_api.settings.small_file_concurrency == 32
    files = _files(tmp_path / "small", 40, 1000)
    flight = InFlight(32)
    _watch_puts(monkeypatch, flight)
    memory_api.put(files, "/vo/small/", se="M").raise_first()
    assert flight.peak == 32
    copies = InFlight(32)
    _watch_puts(monkeypatch, copies)
    # The copies a catalogue server's client makes itself (a local catalogue's
    # replicate goes through the transfer engine, whose links adapt on their own).
    memory_api._replicate_direct(["/vo/small"], "N", recursive=True).raise_first()
    assert copies.peak == 32
    reads = InFlight(32)
    _watch_reads(monkeypatch, reads)
    (tmp_path / "back").mkdir()
    got = memory_api.get(["/vo/small"], tmp_path / "back", recursive=True, se="M")
    got.raise_first()
    assert reads.peak == 32
    assert len(got.succeeded) == 40


def test_large_files_keep_the_concurrency(
    memory_api: DFC, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _files(tmp_path / "large", 12, SMALL_FILE)
    flight = InFlight(8)
    _watch_puts(monkeypatch, flight)
    memory_api.put(files, "/vo/large/", se="M").raise_first()
    assert flight.peak == 8


def test_an_explicit_small_limit_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, memory_api: DFC
) -> None:
    settings = dataclasses.replace(
        memory_api.settings, transfer_concurrency=3, small_file_concurrency=3
    )
    files = _files(tmp_path / "small", 10, 10)
    flight = InFlight(3)
    _watch_puts(monkeypatch, flight)
    with DFC(settings) as limited:
        limited.put(files, "/vo/three/", se="M").raise_first()
    assert flight.peak == 3


async def test_slots_count_large_copies_within_all_copies() -> None:
    slots = CopySlots(2, 5)
    running: list[str] = []
    peak = {"large": 0, "all": 0}
    gate = asyncio.Event()

    async def copy(kind: str, size: int) -> None:
        async with slots.hold(size):
            running.append(kind)
            peak["large"] = max(peak["large"], running.count("large"))
            peak["all"] = max(peak["all"], len(running))
            await gate.wait()
            running.remove(kind)

    tasks = [asyncio.create_task(copy("large", SMALL_FILE)) for _ in range(4)]
    tasks += [asyncio.create_task(copy("small", SMALL_FILE - 1)) for _ in range(6)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert running.count("large") == 2
    assert len(running) == 5
    gate.set()
    await asyncio.gather(*tasks)
    assert peak == {"large": 2, "all": 5}
    assert not running


def test_slots_refuse_a_limit_below_one() -> None:
    with pytest.raises(ValueError, match="positive"):
        CopySlots(0, 4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (8, 32)),
        ("[transfers]\nconcurrency = 4\n", (4, 32)),
        ("[transfers]\nsmall_file_concurrency = 64\n", (8, 64)),
    ],
)
def test_settings_read_both_limits(tmp_path: Path, text: str, expected: tuple[int, int]) -> None:
    config = tmp_path / "c.toml"
    config.write_text(text)
    settings = Settings.load(config_file=config)
    assert (settings.transfer_concurrency, settings.small_file_concurrency) == expected


@pytest.mark.parametrize("value", ["0", "-3", '"many"', "true", "2.5"])
def test_settings_refuse_a_bad_small_file_limit(tmp_path: Path, value: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f"[transfers]\nsmall_file_concurrency = {value}\n")
    with pytest.raises(ConfigError, match=r"transfers\.small_file_concurrency must be a positive"):
        Settings.load(config_file=config)
