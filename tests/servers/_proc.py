"""Shared helpers for the real test servers: ports, binaries, processes.

Servers run in the foreground as children of the test process (never daemonised), each
in its own session/process group, so the test process reaps them and nothing is left
running. PID 1 on these machines does not reap orphans: a grandchild that outlives its
parent stays a ``<defunct>`` zombie, which :func:`pid_alive` treats as gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
LOG_TAIL_LINES = 60

S = TypeVar("S", bound="LocalServer")


class ServerStartError(RuntimeError):
    """A test server did not become ready; the message carries its log tail."""


def in_ci() -> bool:
    """Return whether the suite runs under CI (env ``CI=true``), where nothing may skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(reason: str) -> None:
    """Skip the calling test/fixture for a missing server, or fail under ``CI=true``.

    Raises:
        pytest.skip.Exception: outside CI.
        pytest.fail.Exception: under CI.
    """
    if in_ci():
        pytest.fail(f"{reason} (CI=true: run scripts/install-test-deps)", pytrace=False)
    pytest.skip(f"{reason} (run scripts/install-test-deps)")


def find_binary(name: str, *extra_dirs: str) -> str | None:
    """Find an executable on PATH, in this interpreter's scripts dir, or in extra_dirs."""
    dirs = [sysconfig.get_path("scripts"), *extra_dirs]
    for directory in dirs:
        candidate = Path(directory, name)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def require_binary(name: str, *extra_dirs: str, package: str) -> str:
    """Return the path of a server binary, or skip/fail (see :func:`missing`)."""
    path = find_binary(name, *extra_dirs)
    if path is None:
        missing(f"{name} not found (install {package})")
        raise AssertionError("unreachable")  # pragma: no cover
    return path


def require_module(module: str, *, package: str) -> None:
    """Check a client library is importable, or skip/fail (see :func:`missing`)."""
    try:
        __import__(module)
    except ImportError as exc:
        missing(f"Python module {module} not importable ({exc}); pip install {package}")


def free_ports(count: int = 1) -> list[int]:
    """Return ``count`` distinct TCP ports free on every local address right now.

    All sockets stay bound until every port is chosen, so the ports are distinct. Binding
    the IPv6 wildcard (dual-stack) checks the port for servers that bind ``*`` (xrootd)
    as well as for 127.0.0.1.
    """
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(_bind_any())
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    """Return one free TCP port (see :func:`free_ports`)."""
    return free_ports(1)[0]


def _bind_any(port: int = 0) -> socket.socket:
    if socket.has_ipv6:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(("::", port))
        except OSError:
            sock.close()
        else:
            return sock
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("0.0.0.0", port))  # probing only, closed at once
    except OSError:
        sock.close()
        raise
    return sock


def port_is_free(port: int) -> bool:
    """Return whether ``port`` can be bound on every local address right now."""
    try:
        _bind_any(port).close()
    except OSError:
        return False
    return True


def port_open(port: int, host: str = HOST) -> bool:
    """Return whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """Return whether pid is a live process; a zombie (state ``Z``) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the parenthesised command name, which may itself hold ')'.
    return stat[stat.rindex(")") + 2] not in "ZX"


def group_members(pgid: int) -> list[int]:
    """Return the live (non-zombie) processes whose process group is ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] not in "ZX" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def log_tail(paths: Iterable[Path], lines: int = LOG_TAIL_LINES) -> str:
    """Return the last lines of each existing log file, each under a header."""
    parts = []
    for path in paths:
        try:
            text = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        parts.append(f"----- {path} (last {lines} lines) -----")
        parts.extend(text[-lines:])
    return "\n".join(parts) if parts else "(no log output)"


class ManagedProcess:
    """A server process in the foreground of its own process group, restartable.

    Args:
        name: Label used in messages.
        argv: Command line.
        log_path: File receiving stdout and stderr (appended across restarts).
        ready: Called repeatedly after the start until it returns True.
        cwd: Working directory.
        env: Extra environment variables.
        extra_logs: Further log files the server writes, shown on failure.
        start_timeout: Seconds to wait for ``ready``.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        ready: Callable[[], bool],
        cwd: Path,
        env: Mapping[str, str] | None = None,
        extra_logs: Sequence[Path] = (),
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.ready = ready
        self.cwd = cwd
        self.env = dict(env or {})
        self.extra_logs = list(extra_logs)
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.last_start_seconds: float | None = None

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs."""
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def logs(self) -> str:
        """Return the tail of the server's logs."""
        return log_tail([self.log_path, *self.extra_logs])

    def start(self) -> None:
        """Start the server and wait until ``ready()``.

        Raises:
            ServerStartError: it exited or did not become ready in time (message has
                the command line and the log tail); the process is stopped first.
        """
        if self.running:
            return
        t0 = time.monotonic()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = t0 + self.start_timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                self._fail(f"exited with status {code} during start-up")
            if self._ready():
                break
            if time.monotonic() > deadline:
                self._fail(f"not ready after {self.start_timeout:.0f}s")
            time.sleep(0.02)
        self.last_start_seconds = time.monotonic() - t0

    def _ready(self) -> bool:
        try:
            return self.ready()
        except OSError:
            return False

    def _fail(self, what: str) -> None:
        self.stop(kill=True)
        raise ServerStartError(f"{self.name} {what}\ncommand: {' '.join(self.argv)}\n{self.logs()}")

    def stop(self, *, kill: bool = False, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server and everything in its process group. Idempotent.

        Graceful by default: SIGTERM to the server, which stops its own children (a
        wrapper such as ``runuser`` forwards the signal). With ``kill`` (a crash), or if
        the server is still alive after ``timeout`` seconds, everything gets SIGKILL,
        children first so that the server can still reap them: an orphan is re-parented
        to PID 1, which here never reaps it. Leftovers of the group are killed last.
        """
        proc, self.proc = self.proc, None
        if proc is None:
            return
        pgid = proc.pid  # start_new_session=True: the leader's pid is the group id
        if proc.poll() is None and not kill:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=timeout)
        if proc.poll() is None:
            _kill_all([pid for pid in group_members(pgid) if pid != pgid], timeout=1.0)
            proc.kill()
            proc.wait()
        _kill_all(group_members(pgid), timeout=timeout)


def _kill_all(pids: list[int], *, timeout: float) -> None:
    """SIGKILL pids, then wait until each is reaped (or a zombie nobody reaps)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    zombies_since: float | None = None
    while time.monotonic() < deadline:
        present = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        if not present:
            return
        if any(pid_alive(pid) for pid in present):
            zombies_since = None
        elif zombies_since is None:
            zombies_since = time.monotonic()
        elif time.monotonic() - zombies_since > 0.2:
            return  # only zombies left, and their parent does not reap them: gone
        time.sleep(0.01)


def make_base_dir(prefix: str) -> Path:
    """Create a fresh world-traversable temp dir (servers may run as another user)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


class LocalServer:
    """Base of the test servers: one restartable process with its state in ``base_dir``.

    Subclasses build :attr:`process` in their constructor. :meth:`close` stops the
    server and removes ``base_dir``, so a test session leaves nothing behind.
    """

    process: ManagedProcess

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.process.running

    @property
    def start_seconds(self) -> float | None:
        """Seconds the last :meth:`start` took until the server was ready."""
        return self.process.last_start_seconds

    def start(self) -> None:
        """Start the server (same ports, same data) unless it runs; wait until ready.

        Raises:
            ServerStartError: it did not come up; the message has its logs.
        """
        self.process.start()

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server; ``kill=True`` simulates a crash (SIGKILL, no clean-up)."""
        self.process.stop(kill=kill)

    @contextlib.contextmanager
    def stopped(self, *, kill: bool = False) -> Iterator[None]:
        """Keep the server stopped inside the block and start it again afterwards."""
        self.stop(kill=kill)
        try:
            yield
        finally:
            self.start()

    def logs(self) -> str:
        """Return the tail of the server's logs."""
        return self.process.logs()

    def close(self) -> None:
        """Stop the server and delete all its files."""
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)


@contextlib.contextmanager
def server_factory(launch: Callable[[], S]) -> Iterator[Callable[[], S]]:
    """Yield a builder of fresh servers; every server built is closed on exit."""
    built: list[S] = []

    def make() -> S:
        server = launch()
        built.append(server)
        return server

    try:
        yield make
    finally:
        for server in reversed(built):
            server.close()
