"""The files of a task on disk: job specs, per-attempt reports, logs and manifests.

Layout of a task directory::

    <task dir>/task.json                 the validated task (for reference)
    <task dir>/<script>                  the task's script, shipped with the jobs
    <task dir>/proxy.pem                 the user's proxy, delegated to the jobs
    <task dir>/slurm/                    sbatch scripts and Slurm's own output
    <task dir>/jobs/00003/job.json       what job 3 runs (rewritten on resubmit)
    <task dir>/jobs/00003/attempt-2/     one run of it:
        status.json                      the wrapper's report (state, exit code, phase)
        wrapper.log stdout.log stderr.log
        inputs.json outputs.json         stage-in manifest, stage-out report
        work/                            the sandbox (removed after success)

The wrapper reports by rewriting ``status.json`` atomically; the controller
reads it (:func:`read_status`) and folds it into the job database.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["JobPaths", "JobSpec", "Status", "read_status", "write_private_json", "write_status"]


@dataclass(frozen=True)
class JobSpec:
    """Everything the wrapper needs to run one attempt of a job (``job.json``)."""

    task_id: int
    task: str
    index: int
    attempt: int
    argv: list[str]
    environment: dict[str, str]
    inputs: list[str]
    outputs: list[tuple[str, str]]
    se: str | None = None
    failover_se: list[str] = field(default_factory=list)
    preferred_se: list[str] = field(default_factory=list)
    meta: dict[str, str | int | float] = field(default_factory=dict)
    overwrite: bool = False
    keep_workdir: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobSpec:
        """Rebuild from :meth:`to_json` output."""
        data = dict(data)
        data["outputs"] = [tuple(pair) for pair in data.get("outputs", [])]
        return cls(**data)


@dataclass(frozen=True)
class Status:
    """A job attempt's own report (``status.json``)."""

    state: str
    phase: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    host: str | None = None
    pid: int | None = None
    started: float | None = None
    finished: float | None = None
    outputs: list[dict[str, Any]] | None = None


class JobPaths:
    """Where the files of job ``index`` of the task in ``task_dir`` live."""

    def __init__(self, task_dir: Path | str, index: int) -> None:
        self.task_dir = Path(task_dir)
        self.index = index
        self.dir = self.task_dir / "jobs" / f"{index:05d}"
        self.spec = self.dir / "job.json"

    def attempt(self, attempt: int) -> Path:
        """The directory of one attempt."""
        return self.dir / f"attempt-{attempt}"

    def status(self, attempt: int) -> Path:
        """The wrapper's report of one attempt."""
        return self.attempt(attempt) / "status.json"

    def workdir(self, attempt: int) -> Path:
        """The sandbox the program runs in."""
        return self.attempt(attempt) / "work"

    def logs(self, attempt: int) -> dict[str, Path]:
        """The log files of one attempt, by label."""
        base = self.attempt(attempt)
        return {
            "wrapper": base / "wrapper.log",
            "stdout": base / "stdout.log",
            "stderr": base / "stderr.log",
        }

    def manifest(self, attempt: int) -> Path:
        """The stage-in manifest of one attempt."""
        return self.attempt(attempt) / "inputs.json"

    def report(self, attempt: int) -> Path:
        """The stage-out report of one attempt."""
        return self.attempt(attempt) / "outputs.json"


def write_private_json(path: Path, data: Any) -> None:
    """Write JSON readable by the owner only (specs carry URLs and proxy paths), atomically.

    Raises:
        OSError: it cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def write_status(path: Path, status: Status) -> None:
    """Replace the report at ``path`` atomically.

    Raises:
        OSError: it cannot be written.
    """
    write_private_json(path, asdict(status))


def read_status(path: Path) -> Status | None:
    """The report at ``path``, or ``None`` if there is none (yet) or it is unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("state"), str):
        return None
    known = {k: v for k, v in data.items() if k in Status.__dataclass_fields__}
    try:
        return Status(**known)
    except TypeError:
        return None
