"""Tasks: plan, submit, follow, resubmit and kill; the library behind ``dfc-job``.

:class:`Jobs` ties the task file, the splitter, the job database, the job
files on disk and a backend together::

    from dfc import DFC, Settings
    from wms_bridge.control import Jobs

    with DFC(Settings.load()) as dfc, Jobs(dfc) as jobs:
        task = jobs.submit(Path("task.toml"))
        status = jobs.status(task.id)
"""

from __future__ import annotations

import os
import posixpath
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wms_bridge import split as splitter
from wms_bridge.backends import get_backend
from wms_bridge.config import JobSettings
from wms_bridge.db import ACTIVE, JobDB
from wms_bridge.errors import BackendError, JobNotFound, StagingError
from wms_bridge.jobfiles import JobPaths, JobSpec, write_private_json
from wms_bridge.reconcile import reconcile
from wms_bridge.task import TaskSpec, load_task

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from dfc import DFC
    from wms_bridge.backends import Backend
    from wms_bridge.db import JobRow, TaskRow

__all__ = [
    "Jobs",
    "Plan",
    "TaskStatus",
    "TaskSummary",
    "describe_inputs",
    "letters",
    "task_state",
]

#: Identity and client settings a job inherits from the submitter.
PASS_ENV = ("X509_CERT_DIR", "X509_VOMS_DIR", "BEARER_TOKEN", "BEARER_TOKEN_FILE")


@dataclass(frozen=True)
class Plan:
    """A task before submission: the validated spec, its inputs and its jobs."""

    spec: TaskSpec
    inputs: list[str]
    jobs: list[splitter.JobPlan]

    def rendered(self, index: int) -> splitter.RenderedJob:
        """Job ``index`` with its variables substituted."""
        return splitter.render(self.spec, self.jobs[index])


@dataclass(frozen=True)
class TaskStatus:
    """A task and its jobs, after reconciliation with the backend."""

    task: TaskRow
    jobs: list[JobRow]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def state(self) -> str:
        """``done`` (all done), ``running`` (some active), ``failed`` or ``killed``, ``created``."""
        return task_state(self.counts)


@dataclass(frozen=True)
class TaskSummary:
    """A task in a listing: its job counts by state.

    Attributes:
        task: the task.
        counts: job state -> number of jobs.
        stale: why the counts could not be refreshed from the batch system.
    """

    task: TaskRow
    counts: dict[str, int]
    stale: str | None = None

    @property
    def state(self) -> str:
        """The task's state in one word (see :func:`task_state`)."""
        return task_state(self.counts)


def task_state(counts: dict[str, int]) -> str:
    """Summarise job counts by state into one word."""
    if counts.get("queued") or counts.get("running"):
        return "running"
    total = sum(counts.values())
    if total and counts.get("done") == total:
        return "done"
    for word in ("failed", "killed", "created"):
        if counts.get(word):
            return word
    return "done"


def letters(counts: dict[str, int]) -> str:
    """JSUB's status column: ``D:8 F:1 R:1 W:0 K:0``."""
    pairs = [
        ("D", counts.get("done", 0)),
        ("F", counts.get("failed", 0)),
        ("R", counts.get("running", 0)),
        ("W", counts.get("queued", 0) + counts.get("created", 0)),
        ("K", counts.get("killed", 0)),
    ]
    return " ".join(f"{k}:{v}" for k, v in pairs)


def _shipped_script(spec: TaskSpec, task_dir: str) -> str | None:
    """Where the task's script is for its jobs: copied into the task directory."""
    return None if spec.script is None else str(Path(task_dir) / Path(spec.script).name)


class Jobs:
    """Tasks and their jobs, for the user of ``dfc``'s settings."""

    def __init__(self, dfc: DFC, settings: JobSettings | None = None) -> None:
        self.dfc = dfc
        self.settings = settings if settings is not None else JobSettings.load(dfc.settings)
        self._db: JobDB | None = None

    def __enter__(self) -> Jobs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the job database."""
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> JobDB:
        """The job database, opened on first use.

        Raises:
            BackendError: it cannot be opened.
        """
        if self._db is None:
            self._db = JobDB(self.settings.db_url)
        return self._db

    def backend(self, name: str) -> Backend:
        """The backend called ``name``.

        Raises:
            TaskFileError: unknown backend.
        """
        return get_backend(name, self.settings)

    # ------------------------------------------------------------------ planning
    def load(self, path: Path) -> TaskSpec:
        """Read and validate a task file.

        Raises:
            TaskFileError: it is invalid (the message names the line and field).
        """
        return load_task(path, user=self.dfc.settings.user, vo=self.settings.vo)

    def plan(self, path: Path) -> Plan:
        """Validate a task file, resolve its inputs in the catalogue and split it.

        Raises:
            TaskFileError: the file is invalid or its splitting fails.
            StagingError: an input does not exist.
            DFCError: the catalogue refuses a dataset, query or directory.
        """
        spec = self.load(path)
        inputs = self.resolve_inputs(spec)
        return Plan(spec, inputs, splitter.split(spec, inputs))

    def resolve_inputs(self, spec: TaskSpec) -> list[str]:
        """The input LFNs of ``spec``: explicit ones, directories, dataset, query.

        Raises:
            StagingError: explicit LFNs that do not exist, or a directory given as file.
            DFCError: the catalogue refuses a dataset, query or directory.
        """
        found: dict[str, None] = dict.fromkeys(spec.inputs.lfns)
        if spec.inputs.lfns:
            stat = self.dfc.stat(list(spec.inputs.lfns))
            if stat.failed:
                lines = "; ".join(f"{k}: {v}" for k, v in list(stat.failed.items())[:5])
                more = f" (and {len(stat.failed) - 5} more)" if len(stat.failed) > 5 else ""
                raise StagingError(f"{spec.source}: inputs.lfns: {lines}{more}")
            dirs = [lfn for lfn, e in stat.succeeded.items() if e.is_dir]
            if dirs:
                raise StagingError(f"{spec.source}: inputs.lfns: {dirs[0]} is a directory")
        for directory in spec.inputs.directories:
            found.update(dict.fromkeys(e.lfn for e in self.dfc.walk(directory, files_only=True)))
        if spec.inputs.dataset is not None:
            found.update(dict.fromkeys(self.dfc.resolve_inputs(dataset=spec.inputs.dataset)))
        if spec.inputs.query is not None:
            found.update(dict.fromkeys(self.dfc.resolve_inputs(query=spec.inputs.query)))
        return list(found)

    # ------------------------------------------------------------------ submit
    def submit(self, path: Path) -> TaskRow:
        """Plan a task file, record the task and submit its jobs.

        Raises:
            TaskFileError, StagingError: see :meth:`plan`.
            BackendError: the batch system refused the jobs (they stay
                ``created``; ``resubmit`` tries again).
        """
        plan = self.plan(path)
        return self.submit_plan(plan)

    def submit_plan(self, plan: Plan) -> TaskRow:
        """Record and submit a planned task (see :meth:`submit`).

        Raises:
            BackendError: the batch system refused the jobs.
        """
        spec = plan.spec
        backend = self.backend(spec.backend.type)
        base = self.settings.jobs_dir / "tasks"
        task = self.db.create_task(
            name=spec.name,
            owner=self.dfc.settings.user,
            backend=backend.name,
            task_dir=str(base / f"{{id}}-{spec.name}"),
            spec=spec.to_json(),
            jobs_=[(j.index, j.inputs, j.vars) for j in plan.jobs],
        )
        task_dir = Path(task.task_dir)
        try:
            task_dir.mkdir(parents=True, exist_ok=True)
            write_private_json(task_dir / "task.json", spec.to_json())
            if spec.script is not None:
                target = task_dir / Path(spec.script).name
                shutil.copyfile(spec.script, target)
                target.chmod(0o755)
        except OSError as exc:
            raise BackendError(f"cannot prepare {task_dir}: {exc}") from None
        self._send(task, self.db.jobs(task.id), backend)
        return task

    def _job_env(self, task: TaskRow) -> dict[str, str]:
        """What a job needs to act as the submitting user on the same catalogue."""
        env = self.settings.env()
        for name in PASS_ENV:
            if os.environ.get(name):
                env[name] = os.environ[name]
        proxy = Path(os.environ.get("X509_USER_PROXY") or f"/tmp/x509up_u{os.getuid()}")
        if proxy.is_file():
            # Delegated with the job: a private copy in the task directory.
            copy = Path(task.task_dir) / "proxy.pem"
            try:
                fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(proxy.read_bytes())
            except OSError as exc:
                raise BackendError(f"cannot delegate the proxy {proxy}: {exc}") from None
            env["X509_USER_PROXY"] = str(copy)
        return env

    def _write_spec(self, task: TaskRow, job: JobRow, attempt: int, env: dict[str, str]) -> None:
        spec = TaskSpec.from_json(task.spec)
        plan = splitter.JobPlan(job.idx, tuple(job.inputs), dict(job.vars))
        rendered = splitter.render(spec, plan, _shipped_script(spec, task.task_dir))
        job_spec = JobSpec(
            task_id=task.id,
            task=task.name,
            index=job.idx,
            attempt=attempt,
            argv=list(rendered.argv),
            environment={**env, **rendered.environment},
            inputs=list(job.inputs),
            outputs=[tuple(pair) for pair in rendered.outputs],  # type: ignore[misc]
            se=spec.outputs.se,
            failover_se=list(spec.outputs.failover_se),
            preferred_se=list(spec.inputs.preferred_se),
            meta=dict(rendered.meta),
            overwrite=spec.outputs.overwrite,
        )
        paths = JobPaths(task.task_dir, job.idx)
        try:
            write_private_json(paths.spec, job_spec.to_json())
            paths.attempt(attempt).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(f"cannot write {paths.spec}: {exc}") from None

    def _send(self, task: TaskRow, jobs: Sequence[JobRow], backend: Backend) -> list[int]:
        """Write the next attempt's specs, queue the jobs and hand them to the backend."""
        if not jobs:
            return []
        env = self._job_env(task)
        for job in jobs:
            self._write_spec(task, job, job.attempt + 1, env)
        now = time.time()
        for attempt in sorted({j.attempt for j in jobs}):
            group = [j.idx for j in jobs if j.attempt == attempt]
            self.db.update_jobs(
                task.id, group, state="queued", attempt=attempt + 1, submitted=now,
                backend_id=None, exit_code=None, reason=None, phase=None, outputs=None,
                host=None, started=None, finished=None,
            )  # fmt: skip
        queued = self.db.jobs(task.id, indices=[j.idx for j in jobs])
        try:
            ids = backend.submit(task, queued)
        except BackendError as exc:
            self.db.update_jobs(
                task.id, [j.idx for j in queued], expect={"queued"}, state="created",
                reason=f"submission failed: {exc}",
            )  # fmt: skip
            raise
        for idx, backend_id in ids.items():
            self.db.update_job(task.id, idx, backend_id=backend_id)
        return [j.idx for j in queued]

    # ------------------------------------------------------------------ follow
    def task(self, ref: int | str) -> TaskRow:
        """The task with id ``ref``, or the newest task named ``ref``.

        Raises:
            TaskNotFound: no such task.
        """
        return self.db.task(ref, owner=self.dfc.settings.user)

    def refresh(self, task: TaskRow) -> list[JobRow]:
        """Reconcile the active jobs of ``task`` with their reports and the backend.

        Raises:
            BackendError: the batch system cannot be asked.
        """
        active = self.db.jobs(task.id, states=ACTIVE)
        if active:
            views = self.backend(task.backend).poll(task, active)
            reconcile(self.db, task, active, views)
        return self.db.jobs(task.id)

    def status(self, ref: int | str) -> TaskStatus:
        """A task and its jobs, reconciled.

        Raises:
            TaskNotFound: no such task.
            BackendError: the batch system cannot be asked.
        """
        task = self.task(ref)
        jobs = self.refresh(task)
        counts: dict[str, int] = {}
        for job in jobs:
            counts[job.state] = counts.get(job.state, 0) + 1
        return TaskStatus(task, jobs, counts)

    def tasks(self, *, refresh: bool = True) -> list[TaskSummary]:
        """The user's tasks with their job counts by state (active ones reconciled first).

        A task whose batch system cannot be asked keeps its last known counts,
        with the reason in :attr:`TaskSummary.stale`.
        """
        counts = self.db.counts()
        out = []
        for task in self.db.tasks(owner=self.dfc.settings.user):
            mine = counts.get(task.id, {})
            stale = None
            if refresh and (mine.get("queued") or mine.get("running")):
                try:
                    self.refresh(task)
                except BackendError as exc:
                    stale = str(exc)
                mine = self.db.counts().get(task.id, {})
            out.append(TaskSummary(task, mine, stale))
        return out

    def wait(self, ref: int | str, *, timeout: float, interval: float = 0.5) -> TaskStatus:
        """Poll until no job of the task is active, or ``timeout`` seconds pass.

        Raises:
            TaskNotFound: no such task.
            BackendError: the batch system cannot be asked.
        """
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(ref)
            if not any(j.active for j in status.jobs) or time.monotonic() > deadline:
                return status
            time.sleep(interval)

    # ------------------------------------------------------------------ control
    def resubmit(
        self, ref: int | str, *, failed_only: bool = False, indices: Iterable[int] | None = None
    ) -> list[int]:
        """Submit again the jobs that did not succeed; return their indices.

        Without ``failed_only``: failed, killed and never-submitted jobs; with
        it, failed jobs only. ``indices`` narrows the choice further.

        Raises:
            TaskNotFound: no such task.
            BackendError: the batch system refused.
        """
        task = self.task(ref)
        self.refresh(task)
        states = {"failed"} if failed_only else {"failed", "killed", "created"}
        jobs = self.db.jobs(task.id, indices=indices, states=states)
        return self._send(task, jobs, self.backend(task.backend))

    def kill(self, ref: int | str, *, indices: Iterable[int] | None = None) -> list[int]:
        """Stop the queued and running jobs of a task; return their indices.

        Raises:
            TaskNotFound: no such task.
            BackendError: the batch system refused.
        """
        task = self.task(ref)
        jobs = self.db.jobs(task.id, indices=indices, states=ACTIVE)
        # Marked first, so that the local runner starts none of them meanwhile.
        self.db.update_jobs(
            task.id, [j.idx for j in jobs], expect=ACTIVE, state="killed",
            reason="killed by the user", finished=time.time(),
        )  # fmt: skip
        try:
            self.backend(task.backend).cancel(task, jobs)
        except BackendError:
            for state in ACTIVE:
                back = [j.idx for j in jobs if j.state == state]
                self.db.update_jobs(
                    task.id, back, expect={"killed"}, state=state, reason=None, finished=None
                )
            raise
        return [j.idx for j in jobs]

    # ------------------------------------------------------------------ results
    def logs(self, ref: int | str, index: int, *, attempt: int | None = None) -> dict[str, Path]:
        """The log files of a job's attempt (default: the latest), by label.

        Raises:
            TaskNotFound: no such task.
            JobNotFound: no such job or attempt.
        """
        task = self.task(ref)
        job = self.db.job(task.id, index)
        number = job.attempt if attempt is None else attempt
        if number < 1 or number > job.attempt:
            raise JobNotFound(f"job {index} of task {task.id} has no attempt {number}")
        paths = JobPaths(task.task_dir, index)
        logs = paths.logs(number)
        if task.backend == "slurm" and job.backend_id and number == job.attempt:
            logs["slurm"] = Path(task.task_dir) / "slurm" / f"{job.backend_id}.out"
        return logs

    def outputs(self, ref: int | str) -> list[dict[str, Any]]:
        """The outputs registered by the finished jobs of a task (LFN, SE, size, checksum).

        Raises:
            TaskNotFound: no such task.
        """
        status = self.status(ref)
        out = []
        for job in status.jobs:
            for item in job.outputs or []:
                out.append({"job": job.idx, **item})
        return out


def describe_inputs(lfns: Sequence[str], limit: int = 3) -> str:
    """A short human list of LFNs: the first few names and a count."""
    names = [posixpath.basename(x) for x in lfns[:limit]]
    more = f" +{len(lfns) - limit}" if len(lfns) > limit else ""
    return ", ".join(names) + more
