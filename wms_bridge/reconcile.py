"""Fold a job's own report and the batch system's view into the job database.

The wrapper's report (``status.json``) is the truth about what the job did;
the batch system's view says whether it is still queued or running, and tells
of jobs that ended without reporting (cancelled, out of wall time, lost with
their node). Updates are compare-and-set on an active state, so a ``kill``
recorded meanwhile is never overwritten.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from wms_bridge.db import ACTIVE, FINAL
from wms_bridge.jobfiles import JobPaths, read_status

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from wms_bridge.db import JobDB, JobRow, TaskRow
    from wms_bridge.jobfiles import Status

__all__ = ["BackendView", "reconcile", "settle"]

ViewState = Literal["queued", "running", "finished", "unknown"]


@dataclass(frozen=True)
class BackendView:
    """What the batch system says about one job.

    Attributes:
        state: ``queued``, ``running``, ``finished`` or ``unknown`` (no record).
        exit_code: the exit status, when finished and known.
        detail: the batch system's own word for it (``CANCELLED``, ``TIMEOUT``, ...).
    """

    state: ViewState
    exit_code: int | None = None
    detail: str = ""


UNKNOWN = BackendView("unknown")
_KILLED = {"CANCELLED", "KILLED"}


def settle(job: JobRow, report: Status | None, view: BackendView) -> dict[str, Any] | None:
    """The column changes that bring active ``job`` up to date, or ``None``."""
    if report is not None and report.state in FINAL:
        return {
            "state": report.state,
            "exit_code": report.exit_code,
            "reason": report.reason,
            "phase": report.phase,
            "outputs": report.outputs,
            "host": report.host,
            "started": report.started or job.started,
            "finished": report.finished or time.time(),
        }
    if view.state == "finished":
        detail = view.detail or "exited"
        code = f", exit code {view.exit_code}" if view.exit_code is not None else ""
        state = "killed" if detail.split()[0].upper() in _KILLED else "failed"
        reason = f"the job ended without reporting ({detail}{code})"
        if detail.upper().startswith("TIMEOUT"):
            reason = "wall time exceeded (the batch system stopped the job)"
        return {
            "state": state,
            "exit_code": view.exit_code,
            "reason": reason,
            "phase": report.phase if report is not None else None,
            "finished": time.time(),
        }
    running = view.state == "running" or (report is not None and report.state == "running")
    if running:
        changes: dict[str, Any] = {"state": "running"}
        if report is not None:
            changes.update(phase=report.phase, host=report.host, started=report.started)
        elif job.started is None:
            changes["started"] = time.time()
        if job.state == "running" and all(getattr(job, k) == v for k, v in changes.items()):
            return None
        return changes
    return None


def reconcile(
    db: JobDB, task: TaskRow, jobs: Sequence[JobRow], views: Mapping[int, BackendView]
) -> int:
    """Bring the active ``jobs`` of ``task`` up to date; return how many changed."""
    changed = 0
    for job in jobs:
        if job.state not in ACTIVE:
            continue
        report = read_status(JobPaths(task.task_dir, job.idx).status(job.attempt))
        update = settle(job, report, views.get(job.idx, UNKNOWN))
        if update is not None and db.update_job(task.id, job.idx, expect=ACTIVE, **update):
            changed += 1
    return changed
