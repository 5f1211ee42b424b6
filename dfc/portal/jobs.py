"""Job pages: tasks with their jobs by state, a job's log, inputs and registered outputs.

The job system is the optional ``wms_bridge`` package, imported inside the handlers:
without it the pages say that the job bridge is not installed. Tasks belong to the
local user who submitted them, so only an API acting for that user sees them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dfc.errors import InvalidArgument, NotFound, PermissionDenied
from dfc.portal._app import call
from dfc.portal._render import render

if TYPE_CHECKING:
    from aiohttp import web

    from dfc.api import DFC

__all__ = ["LOG_LIMIT", "STATES", "add_routes"]

#: Job states, in the order the pages show them.
STATES = ("created", "queued", "running", "done", "failed", "killed")
#: The tail of each log file shown on a job's page (bytes).
LOG_LIMIT = 256 * 1024
MISSING = "the job bridge is not installed (the wms_bridge package is missing)"


def _bridge() -> Any:
    """The ``Jobs`` class of wms_bridge, or None when the bridge is not installed."""
    try:
        from wms_bridge.control import Jobs
    except ImportError:
        return None
    return Jobs


def _number(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(f"a {what} is a number") from None


def _owner_only(api: DFC) -> None:
    """Tasks are the submitting user's: refuse any other identity.

    Raises:
        PermissionDenied: the API acts for someone else.
    """
    if api.identity.user != api.settings.user:
        raise PermissionDenied(f"the jobs of {api.settings.user} are shown to that user only")


def _with_jobs(api: DFC, jobs_class: Any, fn: Any) -> Any:
    """Run ``fn(jobs)`` with a ``Jobs`` of the API's user; a missing task or job is a 404."""
    _owner_only(api)
    with jobs_class(api) as jobs:
        try:
            return fn(jobs)
        except LookupError as exc:  # TaskNotFound, JobNotFound
            raise NotFound(str(exc)) from None


def _missing(request: web.Request, title: str, status: int = 200) -> web.Response:
    return render(request, "jobs_missing.html", {"title": title, "message": MISSING}, status=status)


def _counts(counts: dict[str, int]) -> list[tuple[str, int]]:
    known = [(s, counts.get(s, 0)) for s in STATES]
    return known + sorted((s, n) for s, n in counts.items() if s not in STATES)


async def tasks(request: web.Request) -> web.StreamResponse:
    """The user's tasks, newest first, with their jobs counted by state.

    Raises:
        DFCError: refused (403 page).
    """
    jobs_class = _bridge()
    if jobs_class is None:
        return _missing(request, "Jobs")

    def listing(jobs: Any) -> list[dict[str, Any]]:
        rows = [
            {
                "task": s.task,
                "state": s.state,
                "counts": _counts(s.counts),
                "total": sum(s.counts.values()),
                "stale": s.stale,
            }
            for s in jobs.tasks()
        ]
        return sorted(rows, key=lambda r: -r["task"].id)

    rows = await call(request, lambda api: _with_jobs(api, jobs_class, listing))
    return render(request, "tasks.html", {"title": "Jobs", "tasks": rows, "states": STATES})


async def task(request: web.Request) -> web.StreamResponse:
    """One task: its jobs grouped by state, each linking to its page.

    Raises:
        DFCError: no such task (404 page), refused (403 page).
    """
    task_id = _number(request.match_info["id"], "task id")
    jobs_class = _bridge()
    if jobs_class is None:
        return _missing(request, f"Task {task_id}", status=404)

    def one(jobs: Any) -> dict[str, Any]:
        status = jobs.status(task_id)
        groups = [(s, [j for j in status.jobs if j.state == s]) for s, _ in _counts(status.counts)]
        return {
            "task": status.task,
            "state": status.state,
            "total": len(status.jobs),
            "groups": [(s, js) for s, js in groups if js],
        }

    context = await call(request, lambda api: _with_jobs(api, jobs_class, one))
    return render(request, "task.html", {"title": f"Task {task_id}", **context})


def _tail(path: Any) -> str | None:
    """The last :data:`LOG_LIMIT` bytes of a log file (None if there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - LOG_LIMIT))
            data = f.read()
    except OSError:
        return None
    text = data.decode("utf-8", errors="replace")
    return f"[… first {size - LOG_LIMIT} bytes left out]\n{text}" if size > LOG_LIMIT else text


async def task_job(request: web.Request) -> web.StreamResponse:
    """One job: state, exit code, reason, its log, input LFNs and registered outputs.

    Raises:
        DFCError: no such task or job (404 page), refused (403 page).
    """
    task_id = _number(request.match_info["id"], "task id")
    index = _number(request.query.get("index", ""), "job index")
    jobs_class = _bridge()
    if jobs_class is None:
        return _missing(request, f"Task {task_id} job {index}", status=404)

    def one(jobs: Any) -> dict[str, Any]:
        status = jobs.status(task_id)
        job = next((j for j in status.jobs if j.idx == index), None)
        if job is None:
            raise NotFound(f"task {task_id} has no job {index}")
        logs: list[tuple[str, str]] = []
        if job.attempt >= 1:
            for label, path in jobs.logs(task_id, index).items():
                text = _tail(path)
                if text is not None:
                    logs.append((label, text))
        return {"task": status.task, "job": job, "logs": logs, "outputs": job.outputs or []}

    context = await call(request, lambda api: _with_jobs(api, jobs_class, one))
    return render(request, "task_job.html", {"title": f"Task {task_id} job {index}", **context})


def add_routes(app: web.Application) -> None:
    """Add the job pages to the portal."""
    app.router.add_get("/tasks", tasks, name="tasks")
    app.router.add_get("/tasks/{id}", task, name="task")
    app.router.add_get("/tasks/{id}/job", task_job, name="task_job")
