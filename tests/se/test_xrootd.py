"""root:// storage elements against a real xrootd server (Debian xrootd-server)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import uuid
import zlib

import pytest
from XRootD.client.flags import QueryCode

from dfc.errors import (
    AlreadyExists,
    ConfigError,
    DFCError,
    DirectoryNotEmpty,
    InvalidArgument,
    IsADirectory,
    NoSpace,
    NotADirectory,
    OptionalDependencyMissing,
    PermissionDenied,
    PFNNotFound,
    SETimeout,
    SEUnavailable,
    StorageError,
)
from dfc.models import SEInfo
from dfc.se import StorageElement, SupportsChecksum, SupportsCopy, _xrd, open_se
from dfc.se._errors import XRootDFailure, translate_exception
from dfc.se.testing import (
    SEConformance,
    SEOutageConformance,
    assert_nothing_left,
    read_all,
    stream,
)
from dfc.se.xrootd import CHECKSUMS_IN_FLIGHT, XRootDSE, parse_root_url
from tests.servers._proc import free_port
from tests.servers.xrootd import launch_xrootd

pytestmark = pytest.mark.xrootd

MiB = 1024 * 1024


class ServerOutage:
    """Stops and restarts a test server without blocking the event loop."""

    def __init__(self, server) -> None:
        self.server = server

    async def stop(self) -> None:
        await asyncio.to_thread(self.server.stop)

    async def start(self) -> None:
        await asyncio.to_thread(self.server.start)


@pytest.fixture(scope="module")
def xrd_server():
    """A private xrootd for this module: its outage tests stop and restart it."""
    server = launch_xrootd()
    try:
        yield server
    finally:
        server.close()


def _se_url(server, base: str) -> str:
    return f"root://{server.host}/{base}"


@pytest.fixture
async def xrd_se(xrd_server):
    base = f"/dfc-test-{uuid.uuid4().hex[:12]}"
    # Small chunks so reads and writes cross several in-flight requests.
    se = XRootDSE("XRD", _se_url(xrd_server, base), chunk_size=MiB, parallel=3)
    await se.mkdir("/")
    yield se
    await se.close()


class TestXRootDSE(SEConformance, SEOutageConformance):
    @pytest.fixture
    async def se(self, xrd_se):
        return xrd_se

    @pytest.fixture
    def outage(self, xrd_server):
        return ServerOutage(xrd_server)


class TestXRootDSEDefaults(SEConformance):
    """The production settings (8 MiB chunks), opened through the registry."""

    @pytest.fixture
    async def se(self, xrd_server):
        se = open_se(SEInfo("XRD", _se_url(xrd_server, f"/dfc-def-{uuid.uuid4().hex[:12]}")))
        await se.mkdir("/")
        yield se
        await se.close()


# ---------------------------------------------------------------- URLs and options


@pytest.mark.parametrize(
    ("url", "host", "base"),
    [
        ("root://eos.example.org//eos/juno", "eos.example.org", "/eos/juno"),
        ("root://eos.example.org:1094//eos/juno/", "eos.example.org:1094", "/eos/juno"),
        ("root://eos.example.org/eos/juno", "eos.example.org", "/eos/juno"),
        ("root://h:1094//", "h:1094", ""),
        ("root://h:1094", "h:1094", ""),
    ],
)
def test_parse_root_url(url, host, base):
    assert parse_root_url(url) == (host, base)


@pytest.mark.parametrize("url", ["root:///data", "https://h//x", "root://h//x?authz=tok"])
def test_bad_urls(url):
    with pytest.raises(InvalidArgument):
        XRootDSE("X", url)


def test_pfns_use_the_double_slash():
    se = XRootDSE("X", "root://h:1094/data/se")
    assert se.url == "root://h:1094//data/se"
    assert se.pfn("/juno/a b.root") == "root://h:1094//data/se/juno/a b.root"
    assert XRootDSE("Y", "root://h:1094//").pfn("/f") == "root://h:1094//f"


def test_options():
    se = XRootDSE.from_info(
        SEInfo("X", "root://h//d"), {"chunk_size": 1024, "timeout": 5, "parallel": 2}
    )
    assert (se.chunk_size, se.timeout, se.parallel) == (1024, 5, 2)
    with pytest.raises(ConfigError, match="unknown option"):
        XRootDSE.from_info(SEInfo("X", "root://h//d"), {"secret": "x"})
    with pytest.raises(ConfigError, match="timeout"):
        XRootDSE.from_info(SEInfo("X", "root://h//d"), {"timeout": "10"})


def test_capabilities():
    se = XRootDSE("X", "root://h//d")
    assert isinstance(se, StorageElement)
    assert isinstance(se, SupportsChecksum)
    assert se.remote_checksum
    assert not isinstance(se, SupportsCopy)


async def test_question_mark_refused(xrd_se):
    with pytest.raises(InvalidArgument, match=r"'\?'"):
        await xrd_se.put(stream(b"x"), "/what?x=1", size=1)


# ---------------------------------------------------------------- server behaviour


async def test_server_checksum_is_adler32_of_the_bytes(xrd_se):
    data = os.urandom(3 * MiB + 5)
    await xrd_se.put(stream(data, MiB), "/ck/f", size=len(data))
    assert await xrd_se.checksum("/ck/f", "ADLER32") == f"{zlib.adler32(data):08x}"
    assert await xrd_se.checksum("/ck/f", "md5") is None
    with pytest.raises(IsADirectory):
        await xrd_se.checksum("/ck", "adler32")


async def test_many_checksums_at_once_wait_their_turn_here(xrd_se, monkeypatch):
    # An xrootd as configured by default runs 4 checksum jobs and tells queries
    # beyond 12 at a time to come back in 30 s (kXR_wait): the SE never has more
    # than CHECKSUMS_IN_FLIGHT of them at the server.
    datas = {f"/many/f{i:02d}": os.urandom(1000 + i) for i in range(36)}
    for path, data in datas.items():
        await xrd_se.put(stream(data), path, size=len(data))
    in_flight = peak = 0
    real = _xrd.call

    async def counting(method, *args, **kwargs):
        nonlocal in_flight, peak
        query = bool(args) and args[0] == QueryCode.CHECKSUM
        in_flight += query
        peak = max(peak, in_flight)
        try:
            return await real(method, *args, **kwargs)
        finally:
            in_flight -= query

    monkeypatch.setattr(_xrd, "call", counting)
    got = await asyncio.gather(*(xrd_se.checksum(path, "adler32") for path in datas))
    assert got == [f"{zlib.adler32(data):08x}" for data in datas.values()]
    assert peak == CHECKSUMS_IN_FLIGHT


async def test_listing_is_never_stale(xrd_se):
    await xrd_se.put(stream(b"1"), "/st/a", size=1)
    await xrd_se.put(stream(b"2"), "/st/b", size=1)
    assert [i.path for i in await xrd_se.ls("/st")] == ["/st/a", "/st/b"]
    await xrd_se.rm("/st/a")
    assert [i.path for i in await xrd_se.ls("/st")] == ["/st/b"]
    await xrd_se.rm("/st/b")
    await xrd_se.rmdir("/st")
    with pytest.raises(PFNNotFound):
        await xrd_se.ls("/st")


async def test_put_onto_a_directory_is_refused_at_the_commit(xrd_se):
    """With overwrite, or a small file, no stat comes first: the move refuses the directory."""
    await xrd_se.put(stream(b"in"), "/pd/dir/inner", size=2)
    for overwrite in (True, False):
        with pytest.raises(IsADirectory):
            await xrd_se.put(stream(b"x" * 10), "/pd/dir", size=10, overwrite=overwrite)
    with pytest.raises(IsADirectory):  # unknown size, but small: also at the commit
        await xrd_se.put(stream(b"x" * 10), "/pd/dir")
    with pytest.raises(IsADirectory):  # large, unknown size: after the first block
        await xrd_se.put(stream(b"x" * (2 * MiB), MiB), "/pd/dir")
    await assert_nothing_left(xrd_se, "/pd")
    assert await read_all(xrd_se, "/pd/dir/inner") == b"in"


async def test_small_put_without_overwrite_keeps_the_old_file(xrd_se):
    await xrd_se.put(stream(b"old"), "/keep/f", size=3)
    with pytest.raises(AlreadyExists):
        await xrd_se.put(stream(b"new"), "/keep/f", size=3)
    with pytest.raises(AlreadyExists):  # a large one is refused before the upload
        await xrd_se.put(stream(b"n" * (MiB + 1)), "/keep/f", size=MiB + 1)
    assert await read_all(xrd_se, "/keep/f") == b"old"
    await assert_nothing_left(xrd_se, "/keep")


async def test_rename_makes_missing_parents_itself(xrd_se, monkeypatch):
    """A server whose mv does not make parents (dCache, EOS): dfc makes them and retries."""
    await xrd_se.put(stream(b"mv"), "/rn/src", size=2)
    real_mv = xrd_se._mv
    calls = []

    async def mv_without_parents(snorm, dnorm):
        calls.append(dnorm)
        if len(calls) == 1:
            raise XRootDFailure(
                400, 3011, "[ERROR] Server responded with an error: [3011] no such file"
            )
        await real_mv(snorm, dnorm)

    monkeypatch.setattr(xrd_se, "_mv", mv_without_parents)
    await xrd_se.rename("/rn/src", "/rn/a/b/dst")
    assert calls == ["/rn/a/b/dst", "/rn/a/b/dst"]
    assert await read_all(xrd_se, "/rn/a/b/dst") == b"mv"
    with pytest.raises(PFNNotFound, match="rn/src"):
        await xrd_se.rename("/rn/src", "/rn/other")


async def test_reads_close_their_files(xrd_se):
    """Reads do not wait for their closes; closing the SE waits for them."""
    data = os.urandom(3 * MiB + 1)
    block = os.urandom(MiB)  # one full block: only the size tells it is the end
    await xrd_se.put(stream(data, MiB), "/rd/f", size=len(data))
    await xrd_se.put(stream(b"tiny"), "/rd/tiny", size=4)
    await xrd_se.put(stream(block), "/rd/block")
    for _ in range(5):
        assert await read_all(xrd_se, "/rd/f") == data
        assert await read_all(xrd_se, "/rd/tiny") == b"tiny"
        assert await read_all(xrd_se, "/rd/block") == block
        assert await read_all(xrd_se, "/rd/block", MiB - 1) == block[-1:]
        assert await read_all(xrd_se, "/rd/f", MiB - 1, MiB + 2) == data[MiB - 1 : 2 * MiB + 1]
        assert await read_all(xrd_se, "/rd/tiny", 1, 2) == b"in"
        assert await xrd_se.read_range("/rd/tiny", 2, 10) == b"ny"
    await xrd_se.close()
    assert not xrd_se._closing


async def test_client_threads_keep_their_python_thread_state(xrd_se):
    """The client's callback threads keep one Python thread state (see :mod:`dfc.se._xrd`).

    A thread-local value lives in the thread state: set by one answer's
    callback, it is still there at the next answer on that thread only if the
    bindings did not create and delete a thread state around each callback.
    """
    await xrd_se.put(stream(b"x"), "/ts/f")
    local = threading.local()
    seen: list[tuple[int, int | None]] = []

    def on_end(end: _xrd.ChainEnd) -> None:
        seen.append((threading.get_ident(), getattr(local, "mark", None)))
        local.mark = len(seen)

    for _ in range(4):
        steps = [_xrd.Step(xrd_se._fs.stat, (xrd_se._fspath("/ts/f"),))]
        end = await _xrd.Chain(steps, xrd_se.timeout, on_end).start().done
        assert end.error is None
    first_seen: set[int] = set()
    for ident, mark in seen:
        if ident in first_seen:
            assert mark is not None, seen
        first_seen.add(ident)
    assert len(first_seen) < len(seen)  # some thread answered twice


@pytest.mark.parametrize("when", ["started", "finished"])
@pytest.mark.parametrize("overwrite", [False, True])
async def test_cancelled_small_put_leaves_nothing(xrd_se, monkeypatch, when, overwrite):
    """A small put is one chain of requests; a cancelled caller never finds its file.

    Cancelled while the chain runs, it stops before its next request and the
    temporary file is removed; cancelled after the move went through (before
    the caller resumed), the put is undone.
    """
    real_start = _xrd.Chain.start
    task: asyncio.Task[object] | None = None

    def start_and_cancel(chain):
        real_start(chain)
        assert task is not None
        if when == "started":
            task.cancel()
        else:
            chain.done.add_done_callback(lambda _: task.cancel())
        return chain

    monkeypatch.setattr(_xrd.Chain, "start", start_and_cancel)
    await xrd_se.mkdir("/cx")
    task = asyncio.create_task(xrd_se.put(stream(b"x" * 5000), "/cx/f", overwrite=overwrite))
    with pytest.raises(asyncio.CancelledError):
        await task
    monkeypatch.undo()
    await assert_nothing_left(xrd_se, "/cx", "f")
    with pytest.raises(PFNNotFound):
        await xrd_se.stat("/cx/f")


async def test_cancelled_read_closes_its_file(xrd_se, monkeypatch):
    """A read cancelled while its first chain runs still closes the file."""
    data = os.urandom(2 * MiB)
    await xrd_se.put(stream(data, MiB), "/cr/f", size=len(data))
    real_start = _xrd.Chain.start
    task: asyncio.Task[bytes] | None = None

    def start_and_cancel(chain):
        real_start(chain)
        assert task is not None
        chain.done.add_done_callback(lambda _: task.cancel())
        return chain

    monkeypatch.setattr(_xrd.Chain, "start", start_and_cancel)
    task = asyncio.create_task(read_all(xrd_se, "/cr/f"))
    with pytest.raises(asyncio.CancelledError):
        await task
    monkeypatch.undo()
    await asyncio.sleep(0)  # the close starts once the chain has ended
    await xrd_se.close()
    assert not xrd_se._closing_sync
    assert await read_all(xrd_se, "/cr/f") == data


async def test_errors(xrd_se):
    await xrd_se.put(stream(b"f"), "/e/file", size=1)
    with pytest.raises(PFNNotFound, match="missing"):
        await read_all(xrd_se, "/no/parent/missing")
    with pytest.raises(IsADirectory):
        await xrd_se.rm("/e")
    with pytest.raises(DirectoryNotEmpty):
        await xrd_se.rmdir("/e")
    with pytest.raises(NotADirectory):
        await xrd_se.rmdir("/e/file")
    with pytest.raises(AlreadyExists):
        await xrd_se.mkdir("/e/file")
    with pytest.raises(NotADirectory):
        await xrd_se.mkdir("/e/file/sub")


async def test_permission_denied(xrd_server, xrd_se):
    # As root, the server runs as user xrootd and cannot write a root-owned
    # directory; otherwise it runs as us and cannot write a read-only one.
    locked = xrd_server.data_dir / xrd_se.base.lstrip("/") / "locked"
    locked.mkdir(mode=0o755)
    if os.geteuid() != 0:
        locked.chmod(0o555)
    with pytest.raises(PermissionDenied) as err:
        await xrd_se.put(stream(b"x"), "/locked/f", size=1)
    assert "\n" not in str(err.value)
    await assert_nothing_left(xrd_se, "/", "f")


async def test_server_stops_mid_put(xrd_server, xrd_se):
    """A server dying mid-upload is a retryable error; after a restart puts work again."""
    outage = ServerOutage(xrd_server)

    async def dying_stream():
        for i in range(6):
            if i == 3:
                await outage.stop()
            yield os.urandom(MiB)

    try:
        with pytest.raises(DFCError) as err:
            await xrd_se.put(dying_stream(), "/mid/put.bin", size=6 * MiB)
        assert err.value.retryable, repr(err.value)
    finally:
        await outage.start()
    with pytest.raises(PFNNotFound):
        await xrd_se.stat("/mid/put.bin")
    data = os.urandom(2 * MiB)
    await xrd_se.put(stream(data, MiB), "/mid/put.bin", size=len(data))
    assert await read_all(xrd_se, "/mid/put.bin") == data


async def test_unreachable_server_is_unavailable():
    se = XRootDSE("GONE", f"root://127.0.0.1:{free_port()}//x")
    with pytest.raises(SEUnavailable) as err:
        await se.stat("/f")
    assert err.value.retryable
    assert "root://127.0.0.1" in str(err.value)


# ---------------------------------------------------------------- status translation


@pytest.mark.parametrize(
    ("code", "errno", "text", "expected"),
    [
        (400, 3011, "[ERROR] Server responded with an error: [3011] no such file", PFNNotFound),
        (400, 3010, "not authorized", PermissionDenied),
        (400, 3009, "no space", NoSpace),
        (400, 3021, "over quota", NoSpace),
        (400, 3018, "file exists", AlreadyExists),
        (400, 3016, "is a directory", IsADirectory),
        (400, 3005, "Unable to remove /a; directory not empty", DirectoryNotEmpty),
        (400, 3005, "Unable to open directory /a/x; not a directory", NotADirectory),
        (400, 3005, "Unable to create /a; permission denied", PermissionDenied),
        (400, 3005, "something odd", StorageError),
        (400, 3024, "overloaded", SEUnavailable),
        (400, 3034, "request timed out", SETimeout),
        (108, 0, "[FATAL] Connection error", SEUnavailable),
        (206, 0, "[ERROR] Operation expired", SETimeout),
        (204, 0, "[FATAL] Auth failed", PermissionDenied),
        (999, 0, "[ERROR] who knows", StorageError),
    ],
)
def test_status_translation(code, errno, text, expected):
    mapped = translate_exception(XRootDFailure(code, errno, text + "\n"), "root://h//f", "stat")
    assert type(mapped) is expected
    assert str(mapped).startswith("stat root://h//f: ")
    assert "\n" not in str(mapped)
    assert "[ERROR]" not in str(mapped)


def hide_package(monkeypatch, package: str, *dependents: str) -> None:
    """Make ``import package`` fail as if it were not installed (restored after the test)."""
    for name in list(sys.modules):
        if name == package or name.startswith(package + ".") or name in dependents:
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, package, None)


def test_missing_extra_names_the_pip_command(monkeypatch):
    hide_package(monkeypatch, "XRootD", "dfc.se.xrootd", "dfc.se._xrd")
    with pytest.raises(OptionalDependencyMissing, match=r"pip install 'dfc\[xrootd\]'") as err:
        open_se(SEInfo("X", "root://h//d"))
    assert "XRootD" in str(err.value)
