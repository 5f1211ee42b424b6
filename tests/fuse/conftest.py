"""Real FUSE mounts for the tests: `dfc mount -f` in a subprocess, always unmounted.

Each mount runs the real command line (``python -m dfc mount MNT --foreground``)
against the test's dfc home. The fixture unmounts it after the test even when
the test fails, and a session-end check asserts that no mount made by the
tests is left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.servers._proc import missing

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.conftest import CLI

REPO = Path(__file__).resolve().parents[2]
MOUNT_TIMEOUT = 30.0
_MADE: list[Path] = []


def require_fuse() -> None:
    """Skip (or fail under CI=true) when FUSE cannot be used here."""
    if not Path("/dev/fuse").exists():
        missing("/dev/fuse missing (FUSE kernel module)")
    if shutil.which("fusermount3") is None:
        missing("fusermount3 not found (install Debian fuse3)")
    try:
        import mfusepy  # noqa: F401
    except ImportError as exc:
        missing(f"mfusepy not importable ({exc}); pip install 'dfc[fuse]'")
    except OSError as exc:
        missing(f"libfuse3 not loadable ({exc}); install Debian fuse3")


def mounted(path: Path) -> bool:
    from dfc.fuse.mount import is_mounted

    return is_mounted(path)


def force_unmount(path: Path) -> None:
    """Unmount ``path`` whatever state its server is in."""
    for args in (["-u"], ["-uz"]):
        if not mounted(path):
            return
        subprocess.run(["fusermount3", *args, str(path)], capture_output=True, check=False)
        deadline = time.monotonic() + 5
        while mounted(path) and time.monotonic() < deadline:
            time.sleep(0.05)


class Mount:
    """A running ``dfc mount --foreground`` process and its mount point."""

    def __init__(self, path: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.path = path
        self.proc = proc
        self.log_path = log

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def unmount(self) -> int:
        """Unmount with `dfc umount`-equivalent and return the server's exit status."""
        force_unmount(self.path)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


@pytest.fixture
def make_mount(tmp_path: Path) -> Iterator[Callable[..., Mount]]:
    """Start `dfc mount MNT --foreground *args`; every mount is unmounted afterwards."""
    require_fuse()
    made: list[Mount] = []

    def make(*args: str, site: str | None = None, name: str = "mnt") -> Mount:
        path = tmp_path / name
        path.mkdir(exist_ok=True)
        log = tmp_path / f"{name}.log"
        env = child_env(**({"DFC_SITE": site} if site else {}))
        cmd = [sys.executable, "-m", "dfc", "mount", str(path), "--foreground", *args]
        with log.open("ab") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        mount = Mount(path, proc, log)
        made.append(mount)
        _MADE.append(path)
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not mounted(path):
            if proc.poll() is not None:
                pytest.fail(f"dfc mount exited with {proc.returncode}:\n{mount.log}")
            if time.monotonic() > deadline:
                pytest.fail(f"not mounted after {MOUNT_TIMEOUT}s:\n{mount.log}")
            time.sleep(0.02)
        return mount

    try:
        yield make
    finally:
        for mount in reversed(made):
            if mount.proc.poll() is None and not mounted(mount.path):
                mount.proc.send_signal(signal.SIGTERM)
            mount.unmount()


@pytest.fixture(scope="session", autouse=True)
def no_mount_left_behind() -> Iterator[None]:
    """At the end of the session, no mount made by these tests may remain."""
    yield
    left = [p for p in _MADE if mounted(p)]
    for path in left:
        force_unmount(path)
    assert not left, f"mounts left behind: {left}"


def sh(
    cmd: str, *, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a shell command (the way a user would) and return its result."""
    return subprocess.run(
        cmd, shell=True, capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False
    )


def ok(cmd: str, **kw: object) -> str:
    """Run a shell command that must succeed; return its stdout."""
    done = sh(cmd, **kw)  # type: ignore[arg-type]
    assert done.returncode == 0, f"{cmd} -> {done.returncode}\n{done.stderr}"
    return done.stdout


def data(size: int, seed: int = 0) -> bytes:
    """Deterministic incompressible-looking bytes."""
    import random

    return random.Random(seed).randbytes(size)


class Grid:
    """A dfc home with two local SEs (IHEP-DISK at site IHEP, CNAF-DISK at CNAF)."""

    def __init__(self, cli: CLI, root: Path) -> None:
        self.cli = cli
        self.root = root
        self.ihep = root / "se" / "ihep"
        self.cnaf = root / "se" / "cnaf"
        self.local = root / "local"
        self.local.mkdir()

    def put(self, lfn: str, content: bytes, *, se: str = "IHEP-DISK") -> Path:
        """Upload ``content`` as ``lfn`` (parents created); return the local original."""
        local = self.local / lfn.lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(content)
        parent = lfn.rsplit("/", 1)[0] or "/"
        self.cli.ok("mkdir", "-p", parent)
        self.cli.ok("put", str(local), lfn, "--se", se)
        return local

    def se_path(self, se: str, lfn: str) -> Path:
        base = self.ihep if se == "IHEP-DISK" else self.cnaf
        return base / lfn.lstrip("/")


@pytest.fixture
def grid(cli: CLI, tmp_path: Path) -> Grid:
    g = Grid(cli, tmp_path)
    cli.ok("init")
    cli.ok("se", "add", "IHEP-DISK", f"file://{g.ihep}", "--site", "IHEP")
    cli.ok("se", "add", "CNAF-DISK", f"file://{g.cnaf}", "--site", "CNAF")
    return g
