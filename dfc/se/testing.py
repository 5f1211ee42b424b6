"""Conformance tests every storage element must pass (shipped, for backend authors).

Use it like fsspec's ``tests/abstract``: subclass :class:`SEConformance` in a test
module and provide an ``se`` fixture yielding a fresh, empty SE whose root exists
(``await se.mkdir("/")`` works for most backends)::

    class TestMySE(SEConformance):
        @pytest.fixture
        async def se(self, tmp_path):
            se = MySE("TEST", ...)
            await se.mkdir("/")
            yield se
            await se.close()

Set ``has_directories = False`` on object stores (S3) whose directories are only
key prefixes: the directory-specific checks then adapt.

A backend behind a server also subclasses :class:`SEOutageConformance` and
provides an ``outage`` fixture (an :class:`Outage`: ``stop()`` / ``start()`` the
server) to check that a server going away surfaces as a *retryable* error and
leaves no partial file.

Requires ``pytest`` and ``pytest-asyncio`` (``asyncio_mode = "auto"``).
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import random
from typing import TYPE_CHECKING, Protocol

import pytest
from fsspec.callbacks import Callback

from dfc.checksum import Hasher
from dfc.errors import (
    AlreadyExists,
    DFCError,
    DirectoryNotEmpty,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    PFNNotFound,
    SizeMismatch,
)
from dfc.se.base import StorageElement, SupportsChecksum

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

__all__ = [
    "Outage",
    "SEConformance",
    "SEOutageConformance",
    "assert_nothing_left",
    "pattern_chunks",
    "read_all",
    "stream",
]

MiB = 1024 * 1024
#: Size of the large-file test: above 64 MiB and not a multiple of any chunk size.
LARGE_SIZE = 65 * MiB + 12345


async def stream(data: bytes, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    """Yield ``data`` in pieces of ``chunk`` bytes (nothing at all for empty data)."""
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]
        await asyncio.sleep(0)


async def read_all(
    se: StorageElement, path: str, offset: int = 0, length: int | None = None
) -> bytes:
    """Return the bytes ``se.open_read`` streams for ``path``."""
    return b"".join([chunk async for chunk in se.open_read(path, offset, length)])


def pattern_chunks(total: int, chunk: int = MiB, seed: bytes = b"dfc") -> Iterator[bytes]:
    """Yield ``total`` bytes of quickly made, position-dependent data.

    Each chunk starts with its index, so swapped or repeated chunks change the
    checksum; the rest is one random block reused.
    """
    block = random.Random(seed).randbytes(chunk)
    index = 0
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        yield (index.to_bytes(8, "little") + block[8:])[:n]
        sent += n
        index += 1


async def _aiter(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def _failing_stream(data: bytes, fail_after: int) -> AsyncIterator[bytes]:
    sent = 0
    async for chunk in stream(data, 4096):
        if sent >= fail_after:
            raise RuntimeError("source stream broke")
        sent += len(chunk)
        yield chunk


async def _stalling_stream(data: bytes, started: asyncio.Event) -> AsyncIterator[bytes]:
    yield data
    started.set()
    await asyncio.Event().wait()  # never set: the put hangs until cancelled
    yield b""  # pragma: no cover


async def assert_nothing_left(se: StorageElement, directory: str, *names: str) -> None:
    """Assert ``directory`` holds no file called ``names`` and no temporary file.

    A missing directory counts as empty.
    """
    listed = [info.path async for info in se.walk(directory)]
    basenames = [posixpath.basename(p) for p in listed]
    for name in names:
        assert name not in basenames, f"{name} left in {listed}"
    leftovers = [b for b in basenames if ".dfc-part-" in b]
    assert not leftovers, f"temporary files left: {leftovers}"


class _RecordingCallback(Callback):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int | None] = []
        self.updates = 0

    def set_size(self, size: int | None) -> None:
        self.sizes.append(size)
        super().set_size(size)

    def relative_update(self, inc: int = 1) -> None:
        self.updates += inc
        super().relative_update(inc)


class SEConformance:
    """The behaviour every :class:`~dfc.se.base.StorageElement` must show."""

    #: False for object stores whose directories are implicit key prefixes.
    has_directories = True

    @pytest.fixture
    def se(self) -> StorageElement:
        """A fresh, empty SE whose root exists; subclasses must override this."""
        raise NotImplementedError("subclasses of SEConformance must provide an `se` fixture")

    # ------------------------------------------------------------ basics

    async def test_is_a_storage_element(self, se: StorageElement) -> None:
        """The SE satisfies the protocol and builds PFNs under its URL."""
        assert isinstance(se, StorageElement)
        assert se.name
        assert se.pfn("/a/b.root").startswith(se.url.rstrip("/"))
        assert se.pfn("/a/b.root").endswith("/a/b.root")

    async def test_empty_root(self, se: StorageElement) -> None:
        """A fresh SE lists and walks as empty."""
        assert await se.ls("/") == []
        assert [i async for i in se.walk("/")] == []

    async def test_put_stat_read(self, se: StorageElement) -> None:
        """Bytes put come back from stat and open_read unchanged."""
        data = b"0123456789" * 1000
        info = await se.put(stream(data, 777), "/f.dat", size=len(data))
        assert info.path == "/f.dat"
        assert info.size == len(data)
        assert info.type == "file"
        st = await se.stat("/f.dat")
        assert (st.path, st.size, st.type) == ("/f.dat", len(data), "file")
        assert await read_all(se, "/f.dat") == data

    async def test_put_without_size(self, se: StorageElement) -> None:
        """A put without a declared size stores the whole stream."""
        data = os.urandom(300_000)
        info = await se.put(stream(data), "/nosize")
        assert info.size == len(data)
        assert await read_all(se, "/nosize") == data

    async def test_empty_file(self, se: StorageElement) -> None:
        """An empty stream makes an empty file."""
        info = await se.put(stream(b""), "/empty", size=0)
        assert info.size == 0
        assert (await se.stat("/empty")).size == 0
        assert await read_all(se, "/empty") == b""
        assert await se.read_range("/empty", 0, 10) == b""

    async def test_nested_dirs_created_and_listed(self, se: StorageElement) -> None:
        """Put creates parents; ``ls`` lists one level, sorted."""
        await se.put(stream(b"abc"), "/a/b/c/deep.txt", size=3)
        await se.put(stream(b"xy"), "/a/top.txt", size=2)
        listing = await se.ls("/a")
        assert [(i.path, i.type) for i in listing] == [
            ("/a/b", "directory"),
            ("/a/top.txt", "file"),
        ]
        assert listing[1].size == 2
        deep = await se.ls("/a/b/c")
        assert [(i.path, i.size, i.type) for i in deep] == [("/a/b/c/deep.txt", 3, "file")]
        assert [i.path for i in await se.ls("/")] == ["/a"]

    async def test_unicode_and_spaces(self, se: StorageElement) -> None:
        """Names with spaces, unicode and URL-special characters round-trip."""
        path = "/dir with space/ünïcødé 文件 #1+%20.dat"
        await se.put(stream(b"x" * 10), path, size=10)
        assert (await se.stat(path)).size == 10
        assert [i.path for i in await se.ls("/dir with space")] == [path]
        assert await read_all(se, path) == b"x" * 10
        assert [i.path async for i in se.walk("/")] == [path]

    async def test_path_normalisation(self, se: StorageElement) -> None:
        """Redundant slashes, ``.`` and inner ``..`` are resolved."""
        await se.put(stream(b"n"), "//x/./y/../z", size=1)
        assert (await se.stat("/x/z")).size == 1
        assert [i.path for i in await se.ls("/x/")] == ["/x/z"]

    async def test_paths_escaping_the_root_are_refused(self, se: StorageElement) -> None:
        """A path climbing above the SE root is InvalidArgument."""
        with pytest.raises(InvalidArgument):
            await se.put(stream(b"evil"), "/../escaped", size=4)
        with pytest.raises(InvalidArgument):
            await se.stat("/a/../../etc/passwd")
        with pytest.raises(InvalidArgument):
            se.pfn("../x")

    async def test_callback(self, se: StorageElement) -> None:
        """The progress callback gets the size and every byte."""
        data = os.urandom(200_000)
        cb = _RecordingCallback()
        await se.put(stream(data, 10_000), "/cb", size=len(data), callback=cb)
        assert cb.sizes == [len(data)]
        assert cb.updates == len(data)

    async def test_concurrent_puts(self, se: StorageElement) -> None:
        """Concurrent puts to different paths do not interfere."""
        blobs = {f"/many/f{i}": os.urandom(50_000 + i) for i in range(6)}
        await asyncio.gather(*(se.put(stream(d), p, size=len(d)) for p, d in blobs.items()))
        for path, data in blobs.items():
            assert await read_all(se, path) == data

    # ------------------------------------------------------------ walk

    async def test_walk(self, se: StorageElement) -> None:
        """Walking streams every file below a directory; a missing one yields nothing."""
        paths = ["/w/a", "/w/d1/b", "/w/d1/d2/c", "/w/d3/d4/d5/e", "/other/f"]
        for p in paths:
            await se.put(stream(p.encode()), p, size=len(p))
        walker = se.walk("/w")
        assert hasattr(walker, "__anext__")  # a stream, not a list
        found = {i.path: i for i in [i async for i in walker]}
        assert sorted(found) == sorted(p for p in paths if p.startswith("/w/"))
        assert all(i.type == "file" for i in found.values())
        assert found["/w/d1/d2/c"].size == len("/w/d1/d2/c")
        assert sorted([i.path async for i in se.walk("/")]) == sorted(paths)
        assert [i.path async for i in se.walk("/missing")] == []

    # ------------------------------------------------------------ ranges

    async def test_read_range(self, se: StorageElement) -> None:
        """read_range returns the requested slice, short or empty past the end."""
        data = bytes(range(256)) * 1024  # 256 KiB
        await se.put(stream(data), "/r", size=len(data))
        assert await se.read_range("/r", 0, 10) == data[:10]
        assert await se.read_range("/r", 1000, 5000) == data[1000:6000]
        assert await se.read_range("/r", len(data) - 3, 100) == data[-3:]
        assert await se.read_range("/r", len(data) + 10, 5) == b""
        assert await se.read_range("/r", 7, 0) == b""

    async def test_open_read_ranges(self, se: StorageElement) -> None:
        """open_read honours offset and length across chunk boundaries."""
        data = os.urandom(3 * MiB + 17)
        await se.put(stream(data, MiB), "/o", size=len(data))
        assert await read_all(se, "/o", 5) == data[5:]
        assert await read_all(se, "/o", 123_456, 2 * MiB) == data[123_456 : 123_456 + 2 * MiB]
        assert await read_all(se, "/o", len(data) - 1) == data[-1:]
        assert await read_all(se, "/o", len(data)) == b""
        assert await read_all(se, "/o", 0, 0) == b""
        assert await read_all(se, "/o", 10, 10 * len(data)) == data[10:]

    async def test_open_read_closed_early(self, se: StorageElement) -> None:
        """Closing a read stream early is clean and harmless."""
        data = os.urandom(2 * MiB)
        await se.put(stream(data, MiB), "/early", size=len(data))
        reader = se.open_read("/early")
        first = await reader.__anext__()
        assert data.startswith(first)
        await reader.aclose()  # type: ignore[attr-defined]
        assert await read_all(se, "/early") == data

    async def test_negative_range_refused(self, se: StorageElement) -> None:
        """Negative offsets are InvalidArgument."""
        await se.put(stream(b"abc"), "/neg", size=3)
        with pytest.raises(InvalidArgument):
            await se.read_range("/neg", -1, 2)
        with pytest.raises(InvalidArgument):
            await read_all(se, "/neg", -5)

    # ------------------------------------------------------------ overwrite

    async def test_put_onto_existing_needs_overwrite(self, se: StorageElement) -> None:
        """Putting onto a file is AlreadyExists, keeping the old bytes, unless overwrite."""
        await se.put(stream(b"old content"), "/ow", size=11)
        with pytest.raises(AlreadyExists):
            await se.put(stream(b"new"), "/ow", size=3)
        assert await read_all(se, "/ow") == b"old content"
        await assert_nothing_left(se, "/")
        info = await se.put(stream(b"new"), "/ow", size=3, overwrite=True)
        assert info.size == 3
        assert await read_all(se, "/ow") == b"new"

    async def test_put_onto_directory_refused(self, se: StorageElement) -> None:
        """A directory is never replaced by a file."""
        await se.put(stream(b"1"), "/pd/inner", size=1)
        with pytest.raises((IsADirectory, AlreadyExists)):
            await se.put(stream(b"2"), "/pd", size=1, overwrite=True)
        assert await read_all(se, "/pd/inner") == b"1"

    # ------------------------------------------------------------ failures

    async def test_missing_file_errors(self, se: StorageElement) -> None:
        """Every operation on a missing file is PFNNotFound, with a one-line message."""
        with pytest.raises(PFNNotFound) as err:
            await se.stat("/nope/missing.root")
        assert "missing.root" in str(err.value)
        assert "\n" not in str(err.value)
        with pytest.raises(PFNNotFound):
            await read_all(se, "/missing")
        with pytest.raises(PFNNotFound):
            await se.read_range("/missing", 0, 1)
        with pytest.raises(PFNNotFound):
            await se.rm("/missing")
        with pytest.raises(PFNNotFound):
            await se.rename("/missing", "/elsewhere")

    async def test_missing_directory_errors(self, se: StorageElement) -> None:
        """Listing or removing a missing directory is PFNNotFound."""
        with pytest.raises(PFNNotFound):
            await se.ls("/no/such/dir")
        if self.has_directories:
            with pytest.raises(PFNNotFound):
                await se.rmdir("/no/such/dir")

    async def test_failed_stream_leaves_nothing(self, se: StorageElement) -> None:
        """A stream failing midway leaves neither target nor temporary file."""
        data = os.urandom(100_000)
        with pytest.raises(RuntimeError, match="source stream broke"):
            await se.put(_failing_stream(data, 50_000), "/fail/target.bin", size=len(data))
        await assert_nothing_left(se, "/", "target.bin")
        with pytest.raises(NotFound):
            await se.stat("/fail/target.bin")

    async def test_failed_stream_keeps_old_file(self, se: StorageElement) -> None:
        """A failed overwrite keeps the previous content."""
        await se.put(stream(b"precious"), "/keep", size=8)
        with pytest.raises(RuntimeError):
            await se.put(_failing_stream(b"z" * 50_000, 10_000), "/keep", overwrite=True)
        assert await read_all(se, "/keep") == b"precious"
        await assert_nothing_left(se, "/")

    async def test_cancelled_put_leaves_nothing(self, se: StorageElement) -> None:
        """A cancelled put leaves neither target nor temporary file."""
        started = asyncio.Event()
        task = asyncio.create_task(
            se.put(_stalling_stream(b"q" * 100_000, started), "/cancel/me", size=200_000)
        )
        await asyncio.wait_for(started.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await assert_nothing_left(se, "/", "me")

    @pytest.mark.parametrize("declared", [5, 15])
    async def test_size_mismatch(self, se: StorageElement, declared: int) -> None:
        """A stream shorter or longer than ``size`` is SizeMismatch, leaving nothing."""
        with pytest.raises(SizeMismatch):
            await se.put(stream(b"0123456789", 3), "/sz/wrong", size=declared)
        await assert_nothing_left(se, "/", "wrong")

    # ------------------------------------------------------------ rm, dirs, rename

    async def test_rm(self, se: StorageElement) -> None:
        """Removing deletes one file and refuses a directory."""
        await se.put(stream(b"gone"), "/rm/x", size=4)
        await se.put(stream(b"stay"), "/rm/y", size=4)
        await se.rm("/rm/x")
        with pytest.raises(PFNNotFound):
            await se.stat("/rm/x")
        assert [i.path for i in await se.ls("/rm")] == ["/rm/y"]
        with pytest.raises(DFCError):
            await se.rm("/rm")
        assert await read_all(se, "/rm/y") == b"stay"

    async def test_mkdir_rmdir(self, se: StorageElement) -> None:
        """Making directories is idempotent; only empty ones can be removed."""
        await se.mkdir("/m/n/o")
        await se.mkdir("/m/n/o")  # existing is fine
        if not self.has_directories:
            return
        assert (await se.stat("/m/n/o")).type == "directory"
        assert await se.ls("/m/n/o") == []
        with pytest.raises(DirectoryNotEmpty):
            await se.rmdir("/m/n")
        await se.rmdir("/m/n/o")
        with pytest.raises(PFNNotFound):
            await se.stat("/m/n/o")
        await se.put(stream(b"f"), "/m/file", size=1)
        with pytest.raises((NotADirectory, DFCError)):
            await se.rmdir("/m/file")
        assert await read_all(se, "/m/file") == b"f"

    async def test_directory_errors(self, se: StorageElement) -> None:
        """Reading a directory is IsADirectory; listing a file is NotADirectory."""
        await se.put(stream(b"f"), "/dd/file", size=1)
        with pytest.raises(IsADirectory):
            await read_all(se, "/dd")
        if self.has_directories:
            with pytest.raises(NotADirectory):
                await se.ls("/dd/file")

    async def test_rename(self, se: StorageElement) -> None:
        """Renaming moves a file, creating the destination's parents."""
        await se.put(stream(b"moved"), "/ren/src", size=5)
        await se.rename("/ren/src", "/ren/new/parent/dst")
        with pytest.raises(PFNNotFound):
            await se.stat("/ren/src")
        assert await read_all(se, "/ren/new/parent/dst") == b"moved"

    async def test_rename_onto_existing(self, se: StorageElement) -> None:
        """Renaming onto a file is AlreadyExists unless overwrite."""
        await se.put(stream(b"one"), "/rx/a", size=3)
        await se.put(stream(b"two"), "/rx/b", size=3)
        with pytest.raises(AlreadyExists):
            await se.rename("/rx/a", "/rx/b")
        assert await read_all(se, "/rx/a") == b"one"
        assert await read_all(se, "/rx/b") == b"two"
        await se.rename("/rx/a", "/rx/b", overwrite=True)
        assert await read_all(se, "/rx/b") == b"one"
        assert [i.path for i in await se.ls("/rx")] == ["/rx/b"]

    # ------------------------------------------------------------ capabilities

    async def test_checksum_capability(self, se: StorageElement) -> None:
        """A checksum-capable SE returns the same adler32 as dfc.checksum."""
        data = os.urandom(1_000_003)
        await se.put(stream(data), "/ck", size=len(data))
        if not isinstance(se, SupportsChecksum):
            return
        expected = Hasher()
        expected.update(data)
        assert await se.checksum("/ck", "adler32") == expected.adler32
        xxh3 = await se.checksum("/ck", "xxh3")
        assert xxh3 is None or xxh3 == expected.xxh3
        assert await se.checksum("/ck", "no-such-algo") is None
        with pytest.raises(PFNNotFound):
            await se.checksum("/missing", "adler32")

    # ------------------------------------------------------------ large

    @pytest.mark.slow
    async def test_large_file(self, se: StorageElement) -> None:
        """A file above 64 MiB round-trips with identical checksums."""
        expected = Hasher()
        for chunk in pattern_chunks(LARGE_SIZE):
            expected.update(chunk)
        info = await se.put(_aiter(pattern_chunks(LARGE_SIZE)), "/big/large.bin", size=LARGE_SIZE)
        assert info.size == LARGE_SIZE
        assert (await se.stat("/big/large.bin")).size == LARGE_SIZE
        got = Hasher()
        async for chunk in se.open_read("/big/large.bin"):
            got.update(chunk)
        assert (got.size, got.adler32, got.xxh3) == (LARGE_SIZE, expected.adler32, expected.xxh3)
        tail = await se.read_range("/big/large.bin", LARGE_SIZE - 12345, 8)
        assert tail == (65).to_bytes(8, "little")
        await se.rm("/big/large.bin")


class Outage(Protocol):
    """Stops and restarts the server behind an SE (for :class:`SEOutageConformance`)."""

    async def stop(self) -> None:
        """Make the server unreachable (kill it, close its port, unmount...)."""
        ...

    async def start(self) -> None:
        """Bring the server back, with the data it had."""
        ...


class SEOutageConformance:
    """A server-backed SE turns a vanished server into retryable errors.

    Subclasses provide ``se`` (as for :class:`SEConformance`) and ``outage``.
    """

    @pytest.fixture
    def outage(self) -> Outage:
        """Controls the server behind ``se``; subclasses must override this."""
        raise NotImplementedError("subclasses must provide an `outage` fixture")

    async def test_stat_while_down_is_retryable(self, se: StorageElement, outage: Outage) -> None:
        """Stat against a stopped server is a retryable error."""
        await se.put(stream(b"here"), "/down/f", size=4)
        await outage.stop()
        try:
            with pytest.raises(DFCError) as err:
                await se.stat("/down/f")
            assert err.value.retryable, repr(err.value)
        finally:
            await outage.start()
        assert (await se.stat("/down/f")).size == 4

    async def test_put_while_down_leaves_nothing(self, se: StorageElement, outage: Outage) -> None:
        """Put against a stopped server is retryable and leaves nothing."""
        await outage.stop()
        try:
            with pytest.raises(DFCError) as err:
                await se.put(stream(b"x" * 10_000), "/down/put", size=10_000)
            assert err.value.retryable, repr(err.value)
        finally:
            await outage.start()
        await assert_nothing_left(se, "/", "put")

    async def test_server_stops_mid_read(self, se: StorageElement, outage: Outage) -> None:
        """A server stopping mid-read gives a retryable error or complete bytes."""
        data = os.urandom(8 * MiB)
        await se.put(stream(data, MiB), "/down/read", size=len(data))
        received = b""
        failure: DFCError | None = None
        reader = se.open_read("/down/read")
        try:
            received += await reader.__anext__()
            await outage.stop()
            async for chunk in reader:
                received += chunk
        except DFCError as exc:
            failure = exc
        finally:
            await reader.aclose()  # type: ignore[attr-defined]
            await outage.start()
        if failure is not None:
            assert failure.retryable, repr(failure)
        else:
            # A backend may legitimately have everything buffered or an open handle.
            assert received == data
        assert data.startswith(received)
