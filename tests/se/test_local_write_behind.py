"""copy_hashed: reading and hashing in one thread, writing behind in another."""

from __future__ import annotations

import io
import os
import threading
import zlib

import pytest
import xxhash

from dfc.checksum import Hasher
from dfc.se import _localio
from dfc.se._localio import COPY_BUFFER, Stopped, copy_hashed

DATA = os.urandom(7 * COPY_BUFFER + 4321)


def _expected(data: bytes) -> tuple[str, str]:
    return f"{zlib.adler32(data) & 0xFFFFFFFF:08x}", xxhash.xxh3_64_hexdigest(data)


def _writers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "dfc-write"]


class Sink:
    """Collects what is written, with the thread that wrote it."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.threads: set[str] = set()
        self.calls = 0

    def write(self, view: memoryview) -> None:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        self.out.write(view)


def test_many_pieces_arrive_in_order_hashed_as_written() -> None:
    src = io.BytesIO(DATA)
    sink = Sink()
    hasher = Hasher()
    seen: list[int] = []
    total = copy_hashed(src.readinto, sink.write, hasher, threading.Event(), seen.append)
    assert total == len(DATA) == hasher.size
    assert sink.out.getvalue() == DATA
    assert (hasher.adler32, hasher.xxh3) == _expected(DATA)
    assert sum(seen) == len(DATA)
    assert sink.threads == {"dfc-write"}
    assert _writers() == []


@pytest.mark.parametrize("size", [0, 1, COPY_BUFFER])
def test_one_piece_is_copied_without_a_thread(size: int) -> None:
    data = DATA[:size]
    sink = Sink()
    hasher = Hasher()
    seen: list[int] = []
    total = copy_hashed(
        io.BytesIO(data).readinto, sink.write, hasher, threading.Event(), seen.append
    )
    assert total == size == len(sink.out.getvalue())
    assert (hasher.adler32, hasher.xxh3) == _expected(data)
    assert sum(seen) == size
    assert sink.threads <= {threading.current_thread().name}


def test_short_reads_are_fine() -> None:
    src = io.BytesIO(DATA)

    def dribble(view: memoryview) -> int:
        return src.readinto(view[:1000])

    sink = Sink()
    hasher = Hasher()
    assert copy_hashed(dribble, sink.write, hasher, threading.Event()) == len(DATA)
    assert sink.out.getvalue() == DATA
    assert (hasher.adler32, hasher.xxh3) == _expected(DATA)


def test_write_error_is_raised_and_reading_stops() -> None:
    reads = 0
    src = io.BytesIO(DATA)

    def readinto(view: memoryview) -> int:
        nonlocal reads
        reads += 1
        return src.readinto(view)

    def failing(view: memoryview) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        copy_hashed(readinto, failing, Hasher(), threading.Event())
    assert reads <= _localio._WRITE_BEHIND + 1, "kept reading after the writer failed"
    assert _writers() == []


def test_read_error_is_raised_and_no_write_follows() -> None:
    src = io.BytesIO(DATA)
    calls = 0

    def broken(view: memoryview) -> int:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise OSError(5, "Input/output error")
        return src.readinto(view)

    sink = Sink()
    with pytest.raises(OSError, match="Input/output error"):
        copy_hashed(broken, sink.write, Hasher(), threading.Event())
    assert _writers() == []
    written = sink.calls
    threading.Event().wait(0.05)
    assert sink.calls == written


def test_stop_ends_reading_and_writing() -> None:
    stop = threading.Event()
    started = threading.Event()
    sink = Sink()

    def slow(view: memoryview) -> None:
        started.set()
        threading.Event().wait(0.02)
        sink.write(view)

    def stopper() -> None:
        started.wait()
        stop.set()

    t = threading.Thread(target=stopper)
    t.start()
    with pytest.raises(Stopped):
        copy_hashed(io.BytesIO(DATA).readinto, slow, Hasher(), stop)
    t.join()
    assert _writers() == []
    written = sink.calls
    threading.Event().wait(0.05)
    assert sink.calls == written
    assert sink.out.getvalue() == DATA[: len(sink.out.getvalue())]


def test_stop_after_the_last_read_is_not_a_success() -> None:
    # Pieces still queued when the copy is stopped are not written: never report a full copy.
    stop = threading.Event()
    src = io.BytesIO(DATA)

    def readinto(view: memoryview) -> int:
        n = src.readinto(view)
        if not n:
            stop.set()
        return n

    def slow(view: memoryview) -> None:
        threading.Event().wait(0.01)

    with pytest.raises(Stopped):
        copy_hashed(readinto, slow, Hasher(), stop)
    assert _writers() == []
