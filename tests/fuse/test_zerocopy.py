"""Zero-copy reads without a mount: the local-replica verifier and the reply buffers."""

from __future__ import annotations

import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from dfc import Entry
from dfc.api._read import LocalFileVerifier
from dfc.errors import ChecksumMismatch, StorageError
from dfc.fuse import zerocopy
from tests.fuse.conftest import data
from tests.fuse.test_parts import entry_as_dict, entry_for

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


def open_file(path: Path, content: bytes) -> int:
    path.write_bytes(content)
    return os.open(path, os.O_RDONLY)


def verifier(entry: Entry, fd: int, pool: ThreadPoolExecutor, **kw: int) -> LocalFileVerifier:
    return LocalFileVerifier(entry, fd, pool, chunk=kw.pop("chunk", 4096), **kw)


def test_local_verifier_hashes_behind_out_of_order_ranges(
    tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    content = data(200_000, 1)
    fd = open_file(tmp_path / "f", content)
    try:
        v = verifier(entry_for(content), fd, pool, lag=10_000)
        step = 20_000
        order = [1, 0, 3, 2, 4, 6, 5, 7, 9, 8]  # concurrent read-ahead arrives out of order
        for i in order:
            assert v.state == "reading"
            v.served(i * step, step)
        assert v.state == "verified"
        v.served(0, 1000)  # a range read again after the verdict: nothing happens
        v.close()
    finally:
        os.close(fd)


def test_local_verifier_mismatch_fails_the_last_range_and_later_ones(
    tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    content = data(100_000, 2)
    corrupt = bytearray(content)
    corrupt[70_000] ^= 0xFF
    fd = open_file(tmp_path / "f", bytes(corrupt))  # same size, other bytes
    try:
        v = verifier(entry_for(content), fd, pool)
        v.served(0, 60_000)
        with pytest.raises(ChecksumMismatch, match="adler32 mismatch"):
            v.served(60_000, 40_000)
        assert v.state == "failed"
        with pytest.raises(ChecksumMismatch):  # and to every later reader of this handle
            v.served(0, 100_000)
    finally:
        os.close(fd)


def test_local_verifier_replica_shorter_than_the_catalogue(
    tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    content = data(50_000, 3)
    fd = open_file(tmp_path / "f", content[:30_000])
    try:
        v = verifier(entry_for(content), fd, pool)
        with pytest.raises(StorageError, match="cannot read the replica to verify it"):
            v.served(0, 50_000)
        assert v.state == "failed"
    finally:
        os.close(fd)


def test_local_verifier_gives_up_on_random_access_and_without_checksums(
    tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    content = data(100_000, 4)
    fd = open_file(tmp_path / "f", content)
    try:
        v = verifier(entry_for(content), fd, pool, max_ranges=2)
        for offset in (90_000, 50_000, 70_000):  # seeks far ahead, no contiguous start
            v.served(offset, 1000)
        assert v.state == "abandoned"
        v.served(0, 100_000)
        assert v.state == "abandoned"
        no_sums = Entry(**{**entry_as_dict(entry_for(content)), "adler32": None, "xxh3": None})
        assert verifier(no_sums, fd, pool).state == "abandoned"
    finally:
        os.close(fd)


def test_local_verifier_close_stops_hashing_and_shutdown_does_not_hang(
    tmp_path: Path,
) -> None:
    content = data(4 << 20, 5)
    fd = open_file(tmp_path / "f", content)
    try:
        with ThreadPoolExecutor(max_workers=1) as executor:
            v = verifier(entry_for(content), fd, executor, lag=0)
            v.served(0, 3 << 20)  # hashing starts in the background
            v.close()  # a reader closing early: stops at the next chunk, then idle
            assert v.state == "abandoned"
        late = verifier(entry_for(content), fd, executor)  # the pool is shut down
        done = threading.Event()

        def read_all() -> None:
            late.served(0, len(content))
            done.set()

        threading.Thread(target=read_all, daemon=True).start()
        assert done.wait(10)
        assert late.state == "abandoned"
    finally:
        os.close(fd)


# ---------------------------------------------------------------- reply buffers
class _Buf(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("flags", ctypes.c_int),
        ("mem", ctypes.c_void_p),
        ("fd", ctypes.c_int),
        ("pos", ctypes.c_int64),
    ]


class _Vec(ctypes.Structure):
    _fields_ = [
        ("count", ctypes.c_size_t),
        ("idx", ctypes.c_size_t),
        ("off", ctypes.c_size_t),
        ("buf", _Buf * 1),
    ]


def _reply_slot() -> ctypes._Pointer[ctypes._Pointer[_Vec]]:
    return ctypes.pointer(ctypes.POINTER(_Vec)())


def _free(ptr: object) -> None:
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free(ptr)


def test_reply_fd_names_the_descriptor_and_range() -> None:
    slot = _reply_slot()
    zerocopy.reply_fd(slot, 7, 1 << 30, 1 << 20)
    vec = slot[0].contents
    assert (vec.count, vec.idx, vec.off) == (1, 0, 0)
    buf = vec.buf[0]
    assert (buf.size, buf.fd, buf.pos, buf.mem) == (1 << 20, 7, 1 << 30, None)
    assert buf.flags == 0b1110  # IS_FD | FD_SEEK | FD_RETRY
    _free(ctypes.cast(slot[0], ctypes.c_void_p))


def test_reply_bytes_copies_into_a_malloc_buffer() -> None:
    slot = _reply_slot()
    zerocopy.reply_bytes(slot, b"hello fuse")
    buf = slot[0].contents.buf[0]
    assert buf.flags == 0 and buf.size == 10
    assert ctypes.string_at(buf.mem, buf.size) == b"hello fuse"
    _free(buf.mem)
    _free(ctypes.cast(slot[0], ctypes.c_void_p))


def test_splice_max_request_fits_the_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zerocopy, "_may_grow_pipes", lambda: True)
    assert zerocopy.splice_max_request() is None
    monkeypatch.setattr(zerocopy, "_may_grow_pipes", lambda: False)
    limit = zerocopy.splice_max_request()
    with open("/proc/sys/fs/pipe-max-size") as fh:
        pipe_max = int(fh.read())
    page = os.sysconf("SC_PAGE_SIZE")
    assert limit is not None and limit % page == 0
    assert pipe_max - page < limit + 3 * page + 16 <= pipe_max
