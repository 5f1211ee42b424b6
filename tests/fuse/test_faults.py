"""An XRootD storage element that stops or hangs under a mount: EIO after the timeout, no hang."""

from __future__ import annotations

import hashlib
import os
import signal
import time

import pytest

from tests.fuse.conftest import Grid, data, ok, sh

MiB = 1 << 20


@pytest.fixture
def xrootd_grid(grid: Grid, make_xrootd_server):
    from tests.servers._proc import missing

    try:
        import dfc.se.xrootd  # noqa: F401
    except ImportError as exc:
        missing(f"the XRootD SE backend is not importable ({exc}); pip install 'dfc[xrootd]'")
    server = make_xrootd_server()
    grid.cli.ok("se", "add", "XRD-DISK", f"{server.url}/se", "--site", "XRD")
    return grid, server


def test_xrootd_server_stopped_or_hung_gives_eio(xrootd_grid, make_mount) -> None:
    grid, server = xrootd_grid
    files = {f"/juno/x/{n}.root": data(3 * MiB + n, n) for n in range(3)}
    for lfn, content in files.items():
        grid.put(lfn, content, se="XRD-DISK")
    mnt = make_mount("--timeout", "3")
    assert (
        ok(f"md5sum {mnt / 'juno/x/0.root'}").split()[0]
        == hashlib.md5(files["/juno/x/0.root"]).hexdigest()
    )

    server.stop()  # down: connections refused
    started = time.monotonic()
    done = sh(f"cat {mnt / 'juno/x/1.root'} > /dev/null", timeout=90)
    assert done.returncode != 0 and "Input/output error" in done.stderr
    assert time.monotonic() - started < 60
    assert sorted(os.listdir(mnt / "juno/x")) == ["0.root", "1.root", "2.root"]  # still serving

    server.start()
    assert server.process.pid is not None
    os.kill(server.process.pid, signal.SIGSTOP)  # hung: connections accepted, never answered
    try:
        started = time.monotonic()
        done = sh(f"cat {mnt / 'juno/x/2.root'} > /dev/null", timeout=90)
        assert done.returncode != 0 and "Input/output error" in done.stderr
        assert time.monotonic() - started < 60
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    assert "XRD-DISK" in mnt.log
    assert mnt.unmount() == 0
