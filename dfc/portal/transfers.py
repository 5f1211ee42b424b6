"""Transfer pages: jobs with state, progress and ETA; a job's files and attempts, live."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dfc.errors import InvalidArgument
from dfc.portal._app import call, take
from dfc.portal._render import render

if TYPE_CHECKING:
    from dfc.api import DFC

__all__ = ["add_routes"]

STATES = ("SUBMITTED", "ACTIVE", "FINISHED", "FINISHEDDIRTY", "FAILED", "CANCELED")
#: Files of a job shown on its page.
FILES_LIMIT = 1000


def _job_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise InvalidArgument("a job id is a number") from None


async def jobs(request: web.Request) -> web.StreamResponse:
    """Transfer jobs, newest first, optionally of one state.

    Raises:
        DFCError: the queue cannot be read.
    """
    state = request.query.get("state") or None
    if state is not None and state not in STATES:
        raise InvalidArgument(f"unknown state {state!r}")
    rows = await call(
        request, lambda api: api.fts_jobs(states=[state] if state else None, limit=200)
    )
    return render(
        request,
        "transfers.html",
        {"title": "Transfers", "jobs": rows, "state": state, "states": STATES},
    )


def _job(api: DFC, job_id: int) -> dict[str, Any]:
    status = api.fts_status(job_id)
    shown = take(api.fts_files(job_id), 0, FILES_LIMIT + 1)
    return {"status": status, "files": shown[:FILES_LIMIT], "more": len(shown) > FILES_LIMIT}


async def job(request: web.Request) -> web.StreamResponse:
    """One job: its counters, per-link figures, files with attempts and errors.

    Raises:
        DFCError: no such job (404 page).
    """
    job_id = _job_id(request)
    context = await call(request, lambda api: _job(api, job_id))
    return render(request, "job.html", {"title": f"Transfer job {job_id}", **context})


def _status(api: DFC, job_id: int) -> dict[str, Any]:
    status = api.fts_status(job_id)
    job = status.job
    counts = job.counts
    return {
        "id": job.id,
        "state": job.state,
        "final": job.final,
        "time": time.time(),
        "files": counts.files,
        "submitted": counts.submitted,
        "active": counts.active,
        "finished": counts.finished,
        "failed": counts.failed,
        "canceled": counts.canceled,
        "bytes_total": counts.bytes_total,
        "bytes_done": counts.bytes_done,
        "rate": status.rate,
        "eta": status.eta,
        "links": [
            {
                "source": link.source or "",
                "dest": link.dest,
                "finished": link.finished,
                "failed": link.failed,
                "active": link.active,
                "submitted": link.submitted,
                "rate": link.recent_bytes / status.window if status.window else 0.0,
            }
            for link in status.links
        ],
    }


async def job_status(request: web.Request) -> web.StreamResponse:
    """A job's counters as JSON, for the page's live refresh.

    Raises:
        DFCError: no such job (404 page).
    """
    job_id = _job_id(request)
    body = await call(request, lambda api: _status(api, job_id))
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def add_routes(app: web.Application) -> None:
    """Add the transfer pages to the portal."""
    app.router.add_get("/transfers", jobs, name="transfers")
    app.router.add_get("/transfers/{id}", job, name="job")
    app.router.add_get("/transfers/{id}/status", job_status, name="job_status")
