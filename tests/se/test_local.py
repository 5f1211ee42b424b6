from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess

import pytest

from dfc.checksum import Hasher
from dfc.errors import (
    ConfigError,
    DFCError,
    InvalidArgument,
    NotADirectory,
    PermissionDenied,
    SEUnavailable,
)
from dfc.models import SEInfo
from dfc.se import LocalSE, SupportsChecksum, open_se
from dfc.se.testing import SEConformance, SEOutageConformance, read_all, stream

KiB = 1024


@pytest.fixture
async def local_se(tmp_path):
    # Small chunks so that every test crosses several read-ahead/write-behind steps.
    se = LocalSE("LOCAL", f"file://{tmp_path / 'se'}", chunk_size=256 * KiB)
    await se.mkdir("/")
    yield se
    await se.close()


class _MoveRootAway:
    """An "outage" of a local SE: its root directory disappears (unmounted disk)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.parked = root + ".parked"

    async def stop(self) -> None:
        os.rename(self.root, self.parked)

    async def start(self) -> None:
        if os.path.exists(self.parked):
            os.rename(self.parked, self.root)


class TestLocalSE(SEConformance, SEOutageConformance):
    @pytest.fixture
    async def se(self, local_se):
        return local_se

    @pytest.fixture
    def outage(self, local_se):
        return _MoveRootAway(local_se.root)


class TestLocalSEDefaults(SEConformance):
    """The production settings: 8 MiB chunks, fsync on."""

    @pytest.fixture
    async def se(self, tmp_path):
        se = open_se(SEInfo("LOCAL", f"file://{tmp_path / 'se'}"))
        await se.mkdir("/")
        yield se
        await se.close()


def test_is_checksum_capable(local_se):
    assert isinstance(local_se, SupportsChecksum)


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("file:///data/se", "/data/se"),
        ("file:///data/se/", "/data/se"),
        ("file://localhost/data/se", "/data/se"),
        ("/data/se", "/data/se"),
    ],
)
def test_url_forms(url, root):
    se = LocalSE("L", url)
    assert se.root == root
    assert se.url == "file://" + root
    assert se.pfn("/a b/c") == f"file://{root}/a b/c"


@pytest.mark.parametrize("url", ["file://relative/path", "relative", "s3://bucket/x"])
def test_bad_urls(url):
    with pytest.raises(InvalidArgument):
        LocalSE("L", url)


@pytest.mark.parametrize(
    "options",
    [{"chunk_size": "big"}, {"chunk_size": 0}, {"fsync": "yes"}, {"colour": "blue"}],
)
def test_bad_options(options, tmp_path):
    with pytest.raises(ConfigError):
        open_se(SEInfo("L", f"file://{tmp_path}"), options)


def test_options_applied(tmp_path):
    se = open_se(SEInfo("L", f"file://{tmp_path}"), {"chunk_size": 1024, "fsync": False})
    assert isinstance(se, LocalSE)
    assert (se.chunk_size, se.fsync) == (1024, False)


async def test_symlink_does_not_escape_via_dotdot(local_se, tmp_path):
    (tmp_path / "outside").write_bytes(b"secret")
    with pytest.raises(InvalidArgument):
        await read_all(local_se, "/../outside")
    with pytest.raises(InvalidArgument):
        await local_se.rename("/x", "/../../outside")
    with pytest.raises(InvalidArgument):
        await local_se.rmdir("/")
    assert (tmp_path / "outside").read_bytes() == b"secret"


async def test_vanished_root_is_a_clear_error(local_se):
    await local_se.put(stream(b"data"), "/d/f", size=4)
    shutil.rmtree(local_se.root)
    for call in (
        local_se.stat("/d/f"),
        local_se.ls("/d"),
        local_se.put(stream(b"new"), "/d/g", size=3),
        local_se.mkdir("/d/e"),
        read_all(local_se, "/d/f"),
    ):
        with pytest.raises(SEUnavailable) as err:
            await call
        message = str(err.value)
        assert "does not exist" in message
        assert local_se.root in message
        assert "\n" not in message
    assert not os.path.exists(local_se.root)  # put did not silently recreate it
    await local_se.mkdir("/")  # explicitly creating the root is allowed
    assert await local_se.ls("/") == []


def _make_unwritable(path: str) -> None:
    """Make a directory unwritable even for root (uid 0 ignores mode bits)."""
    if os.getuid() != 0:
        os.chmod(path, 0o555)
        return
    chattr = shutil.which("chattr")
    reason = "running as root without a working `chattr +i` (immutable flag)"
    if chattr is None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    done = subprocess.run([chattr, "+i", path], capture_output=True, check=False)
    if done.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: {done.stderr.decode().strip()}")
        pytest.skip(reason)


def _make_writable(path: str) -> None:
    if os.getuid() != 0:
        os.chmod(path, 0o755)
    elif chattr := shutil.which("chattr"):
        subprocess.run([chattr, "-i", path], capture_output=True, check=False)


async def test_unwritable_directory(local_se):
    await local_se.mkdir("/ro")
    await local_se.put(stream(b"old"), "/ro/existing", size=3)
    target = os.path.join(local_se.root, "ro")
    _make_unwritable(target)
    try:
        with pytest.raises(PermissionDenied) as err:
            await local_se.put(stream(b"x" * 100), "/ro/new", size=100)
        message = str(err.value)
        assert message.startswith("put file://")
        assert "/ro/new" in message
        assert "\n" not in message
        assert err.value.errno == 13
        assert not err.value.retryable
        with pytest.raises(PermissionDenied):
            await local_se.rm("/ro/existing")
        assert await read_all(local_se, "/ro/existing") == b"old"
    finally:
        _make_writable(target)
    assert sorted(os.listdir(target)) == ["existing"]


async def test_temp_file_is_hidden_name_next_to_target(local_se):
    seen = []

    async def watching():
        yield b"a" * 1000
        seen.extend(os.listdir(os.path.join(local_se.root, "t")))
        yield b"b" * 1000

    await local_se.put(watching(), "/t/final.dat", size=2000)
    assert len(seen) == 1
    assert seen[0].startswith(".final.dat.dfc-part-")
    assert os.listdir(os.path.join(local_se.root, "t")) == ["final.dat"]


async def test_source_dfc_error_propagates_unchanged(local_se):
    async def broken():
        yield b"x"
        raise SEUnavailable("source SE went away")

    with pytest.raises(SEUnavailable, match="source SE went away"):
        await local_se.put(broken(), "/p", size=2)
    assert await local_se.ls("/") == []


async def test_bytearray_and_memoryview_chunks(local_se):
    buf = bytearray(b"abcdef")

    async def mutable():
        yield buf
        buf[:] = b"zzzzzz"  # the producer reuses its buffer
        yield memoryview(b"ghi")

    await local_se.put(mutable(), "/mv", size=9)
    assert await read_all(local_se, "/mv") == b"abcdefghi"


async def test_close_then_reuse(local_se):
    await local_se.close()
    await local_se.put(stream(b"after"), "/after", size=5)
    assert await read_all(local_se, "/after") == b"after"


async def test_errors_are_dfc_errors_with_errno(local_se):
    with pytest.raises(DFCError) as err:
        await local_se.stat("/nothing")
    assert err.value.errno == 2


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_cancelled_reads_and_puts_do_not_leak_descriptors(local_se):
    data = os.urandom(4 * 1024 * KiB)
    await local_se.put(stream(data, 256 * KiB), "/src", size=len(data))
    before = _open_fds()

    async def slow_reader():
        # aclosing: an abandoned async generator is otherwise closed only when
        # garbage-collected, and keeps its file open until then.
        async with contextlib.aclosing(local_se.open_read("/src")) as chunks:
            async for _ in chunks:
                await asyncio.sleep(3600)

    async def endless():
        while True:
            yield b"z" * 65536
            await asyncio.sleep(0)

    for _ in range(5):
        tasks = [
            asyncio.create_task(slow_reader()),
            asyncio.create_task(local_se.put(endless(), "/sink")),
        ]
        await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with pytest.raises(asyncio.CancelledError):
                await task
    assert _open_fds() == before
    assert [i.path for i in await local_se.ls("/")] == ["/src"]
    assert await read_all(local_se, "/src") == data


def _reader(data: bytes):
    """A ``readinto`` over ``data`` for :meth:`LocalSE.put_from`."""
    view = memoryview(data)

    def readinto(buf: memoryview) -> int:
        nonlocal view
        n = min(len(buf), len(view))
        buf[:n] = view[:n]
        view = view[n:]
        return n

    return readinto


async def test_put_from_to_vanished_root_does_not_recreate_it(local_se):
    shutil.rmtree(local_se.root)
    with pytest.raises(SEUnavailable, match="does not exist"):
        await local_se.put_from(_reader(b"data"), "/d/f", Hasher())
    assert not os.path.exists(local_se.root)


@pytest.mark.parametrize("how", ["put", "put_from"])
async def test_file_in_place_of_a_parent_directory(local_se, how):
    await local_se.put(stream(b"file"), "/a", size=4)
    call = (
        local_se.put(stream(b"new"), "/a/b/c", size=3)
        if how == "put"
        else local_se.put_from(_reader(b"new"), "/a/b/c", Hasher())
    )
    with pytest.raises(NotADirectory) as err:
        await call
    message = str(err.value)
    assert message.startswith("put file://"), message  # the put's error, not its cleanup's
    assert "/a/b/c" in message
    assert sorted(os.listdir(local_se.root)) == ["a"]
    assert await read_all(local_se, "/a") == b"file"


async def test_put_creates_missing_parents_under_the_root(local_se):
    info = await local_se.put_from(_reader(b"deep"), "/x/y/z/f", Hasher())
    assert info.size == 4
    assert await read_all(local_se, "/x/y/z/f") == b"deep"
    assert [n for n in os.listdir(os.path.join(local_se.root, "x/y/z"))] == ["f"]
