"""A real XRootD data server for tests (Debian ``xrootd-server``), on a free port.

Fixtures:
    xrootd_server: session-scoped :class:`XRootDServer`.
    make_xrootd_server: builder of private servers, closed at the end of the test; use
        it for tests that stop or kill the server mid-operation.

The server exports ``/`` from its own temp dir with adler32 checksums (``xrootd.chksum
adler32``) and root:// third-party copy enabled, no authentication. Run as root it drops
privileges to the ``xrootd`` user (``-R xrootd``; it refuses to run as root), so its data
dir belongs to that user. XRootD 5.5 has no bind-address option: it listens on ``*``.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.servers._proc import (
    HOST,
    LocalServer,
    ManagedProcess,
    free_port,
    make_base_dir,
    missing,
    port_open,
    require_binary,
    server_factory,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

RUN_AS = "xrootd"

CONFIG = """\
all.role server
all.export /
oss.localroot {data}
xrd.port {port}
all.adminpath {admin}
all.pidpath {run}
xrootd.chksum adler32
ofs.tpc autorm xfr 4 pgm {xrdcp} --server
"""


class XRootDServer(LocalServer):
    """A running xrootd: ``url`` is ``root://127.0.0.1:PORT/``, files under ``data_dir``.

    A file at PFN ``root://127.0.0.1:PORT//a/b`` is ``data_dir / "a/b"`` on disk.
    """

    def __init__(self, base_dir: Path, port: int, binary: str, xrdcp: str) -> None:
        super().__init__(base_dir)
        self.port = port
        self.data_dir = base_dir / "data"
        self.user = RUN_AS if os.geteuid() == 0 else None
        dirs = {name: base_dir / name for name in ("data", "admin", "run")}
        for path in dirs.values():
            path.mkdir()
        config = base_dir / "xrootd.cfg"
        config.write_text(CONFIG.format(port=port, xrdcp=xrdcp, **dirs))
        self.fix_ownership()
        for name in ("admin", "run"):
            self._chown_tree(dirs[name])
        # -s: without a pid file named here xrootd writes /tmp/xrootd.anon.env, one file
        # shared by every instance on the machine
        argv = [binary, "-c", str(config), "-s", str(dirs["run"] / "xrootd.pid")]
        if self.user is not None:
            argv += ["-R", self.user]
        self.process = ManagedProcess(
            f"xrootd on port {port}",
            argv,
            log_path=base_dir / "xrootd.log",
            ready=lambda: port_open(port),
            cwd=base_dir,
        )

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the ``hostid`` fsspec-xrootd wants."""
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """``root://127.0.0.1:PORT/``; append ``/abs/path`` for a PFN (double slash)."""
        return f"root://{self.host}/"

    def fix_ownership(self) -> None:
        """Give ``data_dir`` back to the server's user after a test wrote into it directly."""
        self._chown_tree(self.data_dir)

    def _chown_tree(self, root: Path) -> None:
        if self.user is None:
            return
        entry = pwd.getpwnam(self.user)
        for path in [root, *root.rglob("*")]:
            os.lchown(path, entry.pw_uid, entry.pw_gid)


def launch_xrootd() -> XRootDServer:
    """Start a new xrootd on a free port, or skip/fail if it is not installed.

    Raises:
        ServerStartError: it did not come up (the message has its log).
    """
    binary = require_binary("xrootd", "/usr/bin", package="Debian xrootd-server")
    xrdcp = require_binary("xrdcp", "/usr/bin", package="Debian xrootd-client")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            missing(f"user {RUN_AS!r} missing (Debian xrootd-server creates it)")
    server = XRootDServer(make_base_dir("dfc-xrootd-"), free_port(), binary, xrdcp)
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server


@pytest.fixture(scope="session")
def xrootd_server() -> Iterator[XRootDServer]:
    """A session-wide xrootd server; stopped and removed at the end of the session."""
    server = launch_xrootd()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def make_xrootd_server() -> Iterator[Callable[[], XRootDServer]]:
    """A builder of private xrootd servers, all closed at the end of the test."""
    with server_factory(launch_xrootd) as make:
        yield make
