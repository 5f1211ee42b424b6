"""The ``local`` backend: a detached runner with a bounded pool of processes on this host.

``submit`` marks jobs queued in the job database and makes sure a runner is
alive. The runner (``dfc-job runner``, started detached in its own session)
is the only process that starts jobs: it claims queued jobs while cores are
free (``local_slots``; a job takes ``resources.cores`` of them), runs each
wrapper in its own process group, records its process id, and settles the job
when it ends. It exits after ``runner_idle`` seconds with nothing to do.

The runner holds a lock file; at most one runs per job directory. Jobs survive
the runner: when a new runner starts it adopts the jobs still running (known
by process id and start time) and settles them when they end, from their own
reports. ``kill`` signals a job's process group directly.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wms_bridge.backends import python_path, wrapper_command
from wms_bridge.db import ACTIVE, JobDB
from wms_bridge.errors import BackendError
from wms_bridge.jobfiles import JobPaths, read_status
from wms_bridge.reconcile import BackendView, settle

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import FrameType

    from wms_bridge.config import JobSettings
    from wms_bridge.db import JobRow, TaskRow

__all__ = [
    "LocalBackend",
    "Runner",
    "process_alive",
    "runner_pid",
    "stop_group",
    "stop_groups",
]

TERM_GRACE = 5.0
POLL = 0.2
START_TIMEOUT = 30.0


# ---------------------------------------------------------------------- processes
def _start_ticks(pid: int) -> int | None:
    """The start time of ``pid`` (clock ticks since boot), or None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in "ZX":
        return None
    return int(fields[19])


def process_alive(backend_id: str | None) -> bool:
    """Whether the process ``"<pid>:<start ticks>"`` still runs (zombies count as gone)."""
    ident = _parse_id(backend_id)
    return ident is not None and _start_ticks(ident[0]) == ident[1]


def _parse_id(backend_id: str | None) -> tuple[int, int] | None:
    if not backend_id or ":" not in backend_id:
        return None
    pid, ticks = backend_id.split(":", 1)
    try:
        return int(pid), int(ticks)
    except ValueError:
        return None


def stop_group(backend_id: str | None, *, grace: float = TERM_GRACE) -> None:
    """SIGTERM the process group of a job, then SIGKILL it after ``grace`` seconds."""
    stop_groups([backend_id], grace=grace)


def stop_groups(backend_ids: Sequence[str | None], *, grace: float = TERM_GRACE) -> None:
    """SIGTERM the process groups of jobs, then SIGKILL those left after ``grace`` seconds.

    A process id that now belongs to another process (other start time) is left alone.
    """
    groups = []
    for backend_id in backend_ids:
        ident = _parse_id(backend_id)
        if ident is not None and _start_ticks(ident[0]) == ident[1]:
            groups.append(ident[0])
            _signal_group(ident[0], signal.SIGTERM)
    deadline = time.monotonic() + grace
    while groups and time.monotonic() < deadline:
        groups = [g for g in groups if _group_alive(g)]
        time.sleep(0.05)
    for pgid in groups:
        _signal_group(pgid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] not in "ZX" and int(fields[2]) == pgid:
            return True
    return False


# ---------------------------------------------------------------------- runner files
def _lock_path(settings: JobSettings) -> Path:
    return settings.jobs_dir / "runner.lock"


def runner_pid(settings: JobSettings) -> int | None:
    """The process id of the live runner, or ``None`` when none runs.

    The runner holds an exclusive lock on ``runner.lock`` and writes its pid
    into it; -1 means a runner holds the lock but has not written its pid yet.
    """
    try:
        fd = os.open(_lock_path(settings), os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            return int(os.pread(fd, 32, 0).decode().strip() or "-1")
        except (OSError, ValueError):
            return -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


_LAUNCHER = (
    "import subprocess, sys\n"
    "log = open(sys.argv[1], 'ab')\n"
    "subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log, stderr=log,\n"
    "                 start_new_session=True, close_fds=True)\n"
)


def _spawn_runner(settings: JobSettings) -> None:
    """Start a runner fully detached: through a launcher that exits at once."""
    settings.jobs_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **settings.env(), "PYTHONPATH": _pythonpath()}
    argv = [sys.executable, "-m", "wms_bridge", "runner"]
    launcher = [sys.executable, "-c", _LAUNCHER, str(settings.jobs_dir / "runner.log"), *argv]
    proc = subprocess.run(launcher, env=env, check=False, capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise BackendError(f"cannot start the local runner: {proc.stderr.decode(errors='replace')}")
    # Wait until it holds the lock, so that the next command does not start another.
    deadline = time.monotonic() + START_TIMEOUT
    while runner_pid(settings) is None:
        if time.monotonic() > deadline:
            log = settings.jobs_dir / "runner.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise BackendError(f"the local runner did not start; {log}:\n{tail}")
        time.sleep(0.02)


def _pythonpath() -> str:
    extra = os.environ.get("PYTHONPATH")
    return python_path() + (f":{extra}" if extra else "")


# ---------------------------------------------------------------------- backend
class LocalBackend:
    """Jobs on this host, run by the detached runner."""

    name = "local"

    def __init__(self, settings: JobSettings) -> None:
        self.settings = settings

    def ensure_runner(self) -> None:
        """Start a runner unless one is alive.

        Raises:
            BackendError: it cannot be started.
        """
        if runner_pid(self.settings) is None:
            _spawn_runner(self.settings)

    def submit(self, task: TaskRow, jobs: Sequence[JobRow]) -> dict[int, str]:
        """Queued jobs are picked up by the runner; make sure one runs.

        Raises:
            BackendError: the runner cannot be started.
        """
        self.ensure_runner()
        return {}

    def poll(self, task: TaskRow, jobs: Sequence[JobRow]) -> Mapping[int, BackendView]:
        """Running jobs whose process is gone are finished; restart a dead runner.

        Raises:
            BackendError: a runner is needed and cannot be started.
        """
        views: dict[int, BackendView] = {}
        for job in jobs:
            if job.state == "queued":
                views[job.idx] = BackendView("queued")
            elif job.backend_id is not None:
                alive = process_alive(job.backend_id)
                views[job.idx] = BackendView("running" if alive else "finished", detail="exited")
        if any(j.state == "queued" for j in jobs):
            self.ensure_runner()
        return views

    def cancel(self, task: TaskRow, jobs: Sequence[JobRow]) -> None:
        """Stop the process groups of running jobs (queued ones never start)."""
        stop_groups([job.backend_id for job in jobs])


# ---------------------------------------------------------------------- runner
@dataclass
class _Child:
    task: TaskRow
    job: JobRow
    backend_id: str
    cores: int
    started: float
    proc: subprocess.Popen[bytes] | None = None
    term_sent: float | None = None


class Runner:
    """The local runner's loop (run by ``dfc-job runner``)."""

    def __init__(self, settings: JobSettings) -> None:
        self.settings = settings
        self.db = JobDB(settings.db_url)
        self.children: dict[tuple[int, int], _Child] = {}
        self.tasks: dict[int, TaskRow] = {}
        self.stopping = False
        self.host = socket.gethostname()

    def run(self) -> int:
        """Run until idle for ``runner_idle`` seconds or signalled; return the exit status.

        Exits at once (status 0) if another runner holds the lock.
        """
        self.settings.jobs_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(_lock_path(self.settings), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            self.db.close()
            return 0
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)
            self._log(f"runner {os.getpid()} started ({self.settings.local_slots} slots)")
            self._adopt()
            self._loop()
            self._log(f"runner {os.getpid()} stops ({len(self.children)} jobs left running)")
            return 0
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)
            self.db.close()

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _log(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{stamp} {message}", flush=True)

    def _loop(self) -> None:
        idle_since = time.monotonic()
        while not self.stopping:
            self._reap()
            self._enforce_wall_time()
            queued = self._start_jobs()
            if self.children or queued:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > self.settings.runner_idle:
                return
            time.sleep(POLL)

    def _task(self, task_id: int) -> TaskRow:
        if task_id not in self.tasks:
            self.tasks[task_id] = self.db.task(task_id)
        return self.tasks[task_id]

    def _mine(self) -> list[JobRow]:
        """Active local jobs of the tasks in this runner's job directory.

        A shared database (the catalogue's PostgreSQL) holds other hosts' and
        users' local jobs too: they are theirs to run.
        """
        root = str(self.settings.jobs_dir.resolve()) + os.sep
        return [
            j
            for j in self.db.active("local")
            if str(Path(self._task(j.task_id).task_dir).resolve()).startswith(root)
        ]

    def _cores(self, task: TaskRow) -> int:
        cores = int(task.spec.get("resources", {}).get("cores", 1) or 1)
        return max(1, min(cores, self.settings.local_slots))

    def _adopt(self) -> None:
        """Take over the jobs a previous runner started that still run."""
        for job in self._mine():
            if job.state != "running" or job.backend_id is None:
                continue
            task = self._task(job.task_id)
            child = _Child(task, job, job.backend_id, self._cores(task), job.started or time.time())
            self.children[(job.task_id, job.idx)] = child
            self._log(f"adopted task {job.task_id} job {job.idx} ({job.backend_id})")

    def _start_jobs(self) -> int:
        """Start queued jobs while cores are free; return how many wait."""
        queued = [j for j in self._mine() if j.state == "queued"]
        used = sum(c.cores for c in self.children.values())
        waiting = len(queued)
        for job in queued:
            task = self._task(job.task_id)
            cores = self._cores(task)
            if used + cores > self.settings.local_slots:
                break
            if self._spawn(task, job, cores):
                used += cores
            waiting -= 1
        return waiting

    def _spawn(self, task: TaskRow, job: JobRow, cores: int) -> bool:
        paths = JobPaths(task.task_dir, job.idx)
        attempt = paths.attempt(job.attempt)
        try:
            attempt.mkdir(parents=True, exist_ok=True)
            with (attempt / "wrapper.log").open("ab") as log:
                proc = subprocess.Popen(
                    wrapper_command(paths.spec),
                    cwd=attempt,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, "PYTHONPATH": _pythonpath()},
                )
        except OSError as exc:
            self.db.update_job(
                task.id, job.idx, expect={"queued"}, state="failed",
                reason=f"cannot start the job wrapper: {exc}", finished=time.time(),
            )  # fmt: skip
            return False
        ticks = _start_ticks(proc.pid)
        backend_id = f"{proc.pid}:{ticks}"
        now = time.time()
        claimed = self.db.update_job(
            task.id, job.idx, expect={"queued"}, state="running",
            backend_id=backend_id, started=now, host=self.host,
        )  # fmt: skip
        child = _Child(task, job, backend_id, cores, now, proc)
        if not claimed:  # killed (or changed) meanwhile
            stop_group(backend_id, grace=1.0)
            proc.wait()
            return False
        self.children[(task.id, job.idx)] = child
        self._log(f"started task {task.id} job {job.idx} attempt {job.attempt} ({backend_id})")
        return True

    def _reap(self) -> None:
        for key, child in list(self.children.items()):
            if child.proc is not None:
                code = child.proc.poll()
                if code is None:
                    continue
            elif process_alive(child.backend_id):
                continue
            else:
                code = None
            del self.children[key]
            self._settle(child, code)

    def _settle(self, child: _Child, code: int | None) -> None:
        task, job = child.task, child.job
        report = read_status(JobPaths(task.task_dir, job.idx).status(job.attempt))
        detail = "exited" if code is None or code >= 0 else f"killed by signal {-code}"
        view = BackendView("finished", code if code is None or code >= 0 else None, detail)
        fresh = self.db.job(task.id, job.idx)
        if fresh.attempt != job.attempt:
            # The job was killed and resubmitted before this process was reaped:
            # its end belongs to the old attempt, not to the queued new one.
            self._log(f"task {task.id} job {job.idx} attempt {job.attempt} ended (exit {code})")
            return
        update = settle(fresh, report, view)
        if update is not None:
            self.db.update_job(task.id, job.idx, expect=ACTIVE, **update)
        self._log(f"task {task.id} job {job.idx} ended (exit {code})")

    def _enforce_wall_time(self) -> None:
        now = time.time()
        for child in self.children.values():
            limit = _wall_time(child.task)
            if limit is None or now - child.started <= limit:
                continue
            ident = _parse_id(child.backend_id)
            if ident is None:
                continue
            if child.term_sent is None:
                child.term_sent = now
                self.db.update_job(
                    child.task.id, child.job.idx, expect=ACTIVE, state="failed",
                    reason=f"wall time exceeded ({limit} s)", finished=now,
                )  # fmt: skip
                _signal_group(ident[0], signal.SIGTERM)
            elif now - child.term_sent > TERM_GRACE:
                _signal_group(ident[0], signal.SIGKILL)


def _wall_time(task: TaskRow) -> int | None:
    value: Any = task.spec.get("resources", {}).get("wall_time")
    return int(value) if value else None


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
