"""A real single-node Slurm 22.05 (Debian) with accounting, for tests, on free ports.

Fixtures:
    slurm_cluster: session-scoped :class:`SlurmCluster`: munge, MariaDB, slurmdbd,
        slurmctld and slurmd; stopped and deleted at the end of the session.
    slurm_env: sets ``SLURM_CONF`` for one test (``sbatch``, ``squeue``, ``sacct`` and
        ``scancel`` need it) and cancels the jobs the test left behind.

Recipe (shared/reference/SERVICES.md §4a). Every daemon runs in the foreground (``-D``,
``-F``) as a child of the test process, in its own process group, so nothing outlives
the session. The ports of MariaDB, slurmdbd, slurmctld and slurmd are free ones chosen
at run time; Slurm listens on all interfaces (22.05 has no bind-address option).

munge must use its default socket ``/run/munge/munge.socket.2``: slurmctld's link to
slurmdbd ignores ``AuthInfo=socket=``. A munged already answering there (another test
session's) is reused and left alone; otherwise one is started and stopped at the end.
``slurmctld`` insists that ``SlurmctldHost`` is this host's short name, and ``slurmd``
runs as the node of that name. Missing binaries skip the tests, or fail them under
``CI=true`` (install them with ``scripts/install-slurm-deps``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.servers._proc import (
    HOST,
    ManagedProcess,
    ServerStartError,
    find_binary,
    free_ports,
    in_ci,
    make_base_dir,
    port_open,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
CLUSTER = "dfctest"
DB_USER = "slurm"
DB_PASSWORD = "slurmpw"
DB_NAME = "slurm_acct_db"

BINARIES = {
    "munged": "munge",
    "munge": "munge",
    "unmunge": "munge",
    "mariadbd": "mariadb-server",
    "mariadb-install-db": "mariadb-server",
    "mariadb": "mariadb-client",
    "slurmdbd": "slurmdbd",
    "slurmctld": "slurm-wlm",
    "slurmd": "slurm-wlm",
    "sacctmgr": "slurm-client",
    "sbatch": "slurm-client",
    "squeue": "slurm-client",
    "sacct": "slurm-client",
    "scancel": "slurm-client",
    "scontrol": "slurm-client",
    "sinfo": "slurm-client",
}

SLURM_CONF = """\
ClusterName={cluster}
SlurmctldHost={host}({addr})
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
CryptoType=crypto/munge
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
SlurmctldPidFile={base}/run/slurmctld.pid
SlurmdPidFile={base}/run/slurmd.pid
SlurmctldLogFile={base}/log/slurmctld.log
SlurmdLogFile={base}/log/slurmd.log
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerParameters=sched_interval=1
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost={addr}
AccountingStoragePort={dbd_port}
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/filetxt
JobCompLoc={base}/log/jobcomp.txt
MinJobAge=3600
KillWait=2
NodeName={host} NodeAddr={addr} CPUs={cpus} RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""

SLURMDBD_CONF = """\
AuthType=auth/munge
DbdHost=localhost
DbdAddr={addr}
DbdPort={dbd_port}
SlurmUser=root
LogFile={base}/log/slurmdbd.log
PidFile={base}/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost={addr}
StoragePort={db_port}
StorageUser={db_user}
StoragePass={db_password}
StorageLoc={db_name}
"""


def _missing(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (CI=true: run scripts/install-slurm-deps)", pytrace=False)
    pytest.skip(f"{reason} (run scripts/install-slurm-deps)")


def _require_binaries() -> dict[str, str]:
    found: dict[str, str] = {}
    for name, package in BINARIES.items():
        path = find_binary(name, "/usr/sbin", "/usr/bin")
        if path is None:
            _missing(f"{name} not found (install Debian {package})")
        else:
            found[name] = path
    for user in ("munge", "mysql"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            _missing(f"user {user!r} missing (the Debian packages create it)")
    if os.geteuid() != 0:
        _missing("a Slurm cluster for tests needs root (SlurmUser=root, munge socket)")
    return found


class SlurmCluster:
    """A running single-node Slurm cluster with accounting (``sacct`` works).

    Attributes:
        conf: the ``slurm.conf`` path; clients need it as ``SLURM_CONF``.
        env: the environment variables a client needs (``SLURM_CONF``).
        node: the node (this host's short name).
        cpus: CPUs of the node.
    """

    def __init__(self, base_dir: Path, bins: dict[str, str]) -> None:
        self.base_dir = base_dir
        self.bins = bins
        self.node = socket.gethostname().split(".")[0]
        self.cpus = os.cpu_count() or 1
        db_port, dbd_port, ctld_port, slurmd_port = free_ports(4)
        self.ports = {"mariadb": db_port, "slurmdbd": dbd_port, "slurmctld": ctld_port}
        self.ports["slurmd"] = slurmd_port
        for sub in ("state", "spool", "log", "run", "db/data", "db/run"):
            (base_dir / sub).mkdir(parents=True)
        self.db_dir = base_dir / "db"
        self.db_socket = self.db_dir / "run" / "mysqld.sock"
        values = {
            "cluster": CLUSTER,
            "host": self.node,
            "addr": HOST,
            "ctld_port": ctld_port,
            "slurmd_port": slurmd_port,
            "dbd_port": dbd_port,
            "db_port": db_port,
            "db_user": DB_USER,
            "db_password": DB_PASSWORD,
            "db_name": DB_NAME,
            "base": base_dir,
            "cpus": self.cpus,
        }
        self.conf = base_dir / "slurm.conf"
        self.conf.write_text(SLURM_CONF.format(**values))
        dbd_conf = base_dir / "slurmdbd.conf"
        dbd_conf.write_text(SLURMDBD_CONF.format(**values))
        dbd_conf.chmod(0o600)
        self.env = {"SLURM_CONF": str(self.conf)}
        self.munge: ManagedProcess | None = None
        log = base_dir / "log"
        self.mariadb = ManagedProcess(
            f"mariadbd on port {db_port}",
            [
                bins["mariadbd"],
                "--no-defaults",
                "--user=mysql",
                f"--datadir={self.db_dir / 'data'}",
                f"--socket={self.db_socket}",
                f"--pid-file={self.db_dir / 'run' / 'mysqld.pid'}",
                f"--port={db_port}",
                f"--bind-address={HOST}",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=64M",
                "--skip-name-resolve",
            ],
            log_path=log / "mariadbd.log",
            ready=lambda: self.db_socket.exists() and port_open(db_port),
            cwd=base_dir,
        )
        self.slurmdbd = ManagedProcess(
            f"slurmdbd on port {dbd_port}",
            [bins["slurmdbd"], "-D"],
            log_path=log / "slurmdbd.out",
            ready=lambda: port_open(dbd_port),
            cwd=base_dir,
            env=self.env,
            extra_logs=[log / "slurmdbd.log"],
        )
        self.slurmctld = ManagedProcess(
            f"slurmctld on port {ctld_port}",
            [bins["slurmctld"], "-D", "-i"],
            log_path=log / "slurmctld.out",
            ready=lambda: port_open(ctld_port),
            cwd=base_dir,
            env=self.env,
            extra_logs=[log / "slurmctld.log"],
        )
        self.slurmd = ManagedProcess(
            f"slurmd on port {slurmd_port}",
            [bins["slurmd"], "-D", "-N", self.node],
            log_path=log / "slurmd.out",
            ready=self._node_idle,
            cwd=base_dir,
            env=self.env,
            extra_logs=[log / "slurmd.log"],
        )

    # ------------------------------------------------------------------ helpers
    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a Slurm client command against this cluster.

        Raises:
            ServerStartError: ``check`` and it failed.
        """
        cmd = [self.bins.get(argv[0], argv[0]), *argv[1:]]
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env={**os.environ, **self.env},
            check=False,
            timeout=60,
        )
        if check and proc.returncode != 0:
            raise ServerStartError(
                f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stdout}{proc.stderr}"
            )
        return proc

    def _node_idle(self) -> bool:
        out = self.run("sinfo", "-h", "-N", "-o", "%N %t", check=False).stdout.split()
        return len(out) == 2 and out[1] in {"idle", "mix", "alloc"}

    def _sql(self, statements: str) -> None:
        proc = subprocess.run(
            [self.bins["mariadb"], f"--socket={self.db_socket}", "-u", "root", "-e", statements],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if proc.returncode != 0:
            raise ServerStartError(f"mariadb failed: {proc.stderr}\n{self.mariadb.logs()}")

    def _munge_ok(self) -> bool:
        if not MUNGE_SOCKET.exists():
            return False
        cred = subprocess.run(
            [self.bins["munge"], "-n"], capture_output=True, check=False, timeout=10
        )
        if cred.returncode != 0:
            return False
        check = subprocess.run(
            [self.bins["unmunge"]], input=cred.stdout, capture_output=True, check=False, timeout=10
        )
        return check.returncode == 0

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Start munge (unless one answers), MariaDB, slurmdbd, slurmctld and slurmd.

        Raises:
            ServerStartError: a daemon did not come up (the message has its logs).
        """
        self._start_munge()
        self._start_mariadb()
        self.slurmdbd.start()
        self._wait(
            lambda: self.run("sacctmgr", "-n", "show", "cluster", check=False).returncode == 0,
            "slurmdbd answering sacctmgr",
            self.slurmdbd,
        )
        self.run("sacctmgr", "-i", "add", "cluster", CLUSTER)
        self.slurmctld.start()
        self.slurmd.start()

    def _start_munge(self) -> None:
        if self._munge_ok():
            return
        munge_dirs = (MUNGE_SOCKET.parent, Path("/var/log/munge"), Path("/var/lib/munge"))
        entry = pwd.getpwnam("munge")
        for path in munge_dirs:
            path.mkdir(parents=True, exist_ok=True)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        self.munge = ManagedProcess(
            "munged",
            ["runuser", "-u", "munge", "--", self.bins["munged"], "-F", "--force"],
            log_path=self.base_dir / "log" / "munged.log",
            ready=self._munge_ok,
            cwd=self.base_dir,
        )
        self.munge.start()

    def _start_mariadb(self) -> None:
        entry = pwd.getpwnam("mysql")
        for path in [self.db_dir, *self.db_dir.rglob("*")]:
            os.lchown(path, entry.pw_uid, entry.pw_gid)
        proc = subprocess.run(
            [
                self.bins["mariadb-install-db"],
                "--no-defaults",
                "--user=mysql",
                f"--datadir={self.db_dir / 'data'}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if proc.returncode != 0:
            raise ServerStartError(f"mariadb-install-db failed: {proc.stdout}{proc.stderr}")
        self.mariadb.start()
        grants = "".join(
            f"CREATE USER IF NOT EXISTS '{DB_USER}'@'{h}' IDENTIFIED BY '{DB_PASSWORD}';"
            f"GRANT ALL ON {DB_NAME}.* TO '{DB_USER}'@'{h}';"
            for h in (HOST, "localhost")
        )
        self._sql(grants)

    @staticmethod
    def _wait(cond: object, what: str, proc: ManagedProcess, timeout: float = 30.0) -> None:
        assert callable(cond)
        deadline = time.monotonic() + timeout
        while not cond():
            if not proc.running:
                raise ServerStartError(
                    f"{proc.name} exited while waiting for {what}\n{proc.logs()}"
                )
            if time.monotonic() > deadline:
                raise ServerStartError(f"timed out waiting for {what}\n{proc.logs()}")
            time.sleep(0.1)

    def cancel_all(self) -> None:
        """Cancel every job of the cluster and wait until none is left running."""
        if not self.slurmctld.running:
            return
        self.run("scancel", "--full", "--partition=debug", check=False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            out = self.run("squeue", "-h", "-o", "%i", check=False)
            if out.returncode != 0 or not out.stdout.strip():
                return
            time.sleep(0.2)

    def logs(self) -> str:
        """Return the tail of every daemon's logs."""
        procs = [self.munge, self.mariadb, self.slurmdbd, self.slurmctld, self.slurmd]
        return "\n".join(p.logs() for p in procs if p is not None)

    def stop(self) -> None:
        """Cancel the jobs, then stop slurmd, slurmctld, slurmdbd, MariaDB and our munged."""
        with contextlib.suppress(ServerStartError, OSError, subprocess.TimeoutExpired):
            self.cancel_all()
        for proc in (self.slurmd, self.slurmctld, self.slurmdbd, self.mariadb):
            proc.stop()
        if self.munge is not None:
            self.munge.stop()
            self.munge = None

    def close(self) -> None:
        """Stop everything and delete the cluster's files."""
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)


def launch_slurm() -> SlurmCluster:
    """Start a new single-node cluster, or skip/fail if Slurm is not installed.

    Raises:
        ServerStartError: a daemon did not come up.
    """
    bins = _require_binaries()
    cluster = SlurmCluster(make_base_dir("dfc-slurm-"), bins)
    try:
        cluster.start()
    except BaseException:
        cluster.close()
        raise
    return cluster


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """A session-wide Slurm cluster; stopped and removed at the end of the session."""
    cluster = launch_slurm()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def slurm_env(
    slurm_cluster: SlurmCluster, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SlurmCluster]:
    """Point Slurm clients at the test cluster; cancel leftover jobs afterwards."""
    for key, value in slurm_cluster.env.items():
        monkeypatch.setenv(key, value)
    try:
        yield slurm_cluster
    finally:
        slurm_cluster.cancel_all()
