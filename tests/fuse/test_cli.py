"""`dfc mount` / `dfc umount` as a user runs them: background mounts, errors, Ctrl-C."""

from __future__ import annotations

import errno
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import CLI
from tests.fuse.conftest import Grid, force_unmount, mounted, require_fuse


@pytest.fixture
def mnt(tmp_path: Path) -> Path:
    require_fuse()
    path = tmp_path / "juno"
    path.mkdir()
    yield path
    force_unmount(path)


def _wait_gone(pid: int, timeout: float = 15) -> None:
    from tests.servers._proc import pid_alive

    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid), "the mount process did not exit after unmounting"


def test_background_mount_and_umount(grid: Grid, cli: CLI, mnt: Path) -> None:
    from tests.fuse.conftest import _MADE

    grid.put("/juno/a.txt", b"hello\n")
    _MADE.append(mnt)
    run = cli.ok("mount", str(mnt), "--log-file", str(mnt.parent / "mount.log"))
    assert "mounted / at" in run.err and "dfc umount" in run.err
    pid = int(run.err.split("(pid ")[1].split(",")[0])
    assert mounted(mnt)
    assert (mnt / "juno" / "a.txt").read_bytes() == b"hello\n"
    again = cli("mount", str(mnt))
    assert again.code == errno.EEXIST
    assert "mounted there already" in again.err
    cli.ok("umount", str(mnt))
    assert not mounted(mnt)
    _wait_gone(pid)
    gone = cli("umount", str(mnt))
    assert gone.code == errno.EINVAL
    assert "is not a dfc mount" in gone.err


def test_umount_refused_while_busy_unless_lazy(grid: Grid, cli: CLI, mnt: Path) -> None:
    from tests.fuse.conftest import _MADE

    grid.put("/juno/a.txt", b"hello\n")
    _MADE.append(mnt)
    cli.ok("mount", str(mnt), "--log-file", str(mnt.parent / "mount.log"))
    holder = subprocess.Popen(["sleep", "60"], cwd=mnt / "juno")
    try:
        busy = cli("umount", str(mnt))
        assert busy.code == errno.EBUSY
        assert "in use" in busy.err
        assert mounted(mnt)
        cli.ok("umount", "--lazy", str(mnt))
        assert not mounted(mnt)
    finally:
        holder.kill()
        holder.wait()


def test_mount_errors_are_one_line(grid: Grid, cli: CLI, mnt: Path, tmp_path: Path) -> None:
    missing_root = cli("mount", str(mnt), "--root", "/nothing/here")
    assert missing_root.code == errno.ENOENT
    assert "/nothing/here" in missing_root.err and "Traceback" not in missing_root.err
    not_dir = cli("mount", str(tmp_path / "nowhere"))
    assert not_dir.code == errno.ENOTDIR
    assert not mounted(mnt)


def test_ctrl_c_unmounts_a_foreground_mount(grid: Grid, mnt: Path) -> None:
    import sys

    from tests.fuse.conftest import _MADE, child_env

    grid.put("/juno/a.txt", b"hello\n")
    _MADE.append(mnt)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dfc", "mount", str(mnt), "-f"],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not mounted(mnt) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert mounted(mnt)
        assert (mnt / "juno" / "a.txt").read_bytes() == b"hello\n"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0, out
        assert not mounted(mnt)
        assert b"unmounted" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_umount_after_the_mount_process_died(grid: Grid, cli: CLI, make_mount) -> None:
    import os

    mnt = make_mount()
    mnt.proc.kill()
    mnt.proc.wait()
    with pytest.raises(OSError) as info:
        os.listdir(mnt.path)
    assert info.value.errno == errno.ENOTCONN
    cli.ok("umount", str(mnt.path))
    assert not mounted(mnt.path)
