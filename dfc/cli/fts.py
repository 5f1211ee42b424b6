"""``dfc fts``: transfer jobs (list, status, retry, cancel) and the transfer agent.

Also the renderers of ``dfc replicate --async`` and ``--dry-run``.
"""

from __future__ import annotations

import itertools
import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dfc.cli._app import CONTEXT, JsonOpt, app, state
from dfc.cli._coerce import FastGroup
from dfc.cli._output import emit_json, human_size, report_failures

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

    from dfc import DFC, DFCError
    from dfc.api._transfers import JobStatus, TransferFile, TransferJob
    from dfc.fts.job import TransferPlan

__all__ = ["read_lfn_file", "show_plan", "submit_job"]

fts = typer.Typer(
    cls=FastGroup,
    name="fts",
    help="Transfer jobs: list, status, retry, cancel; and the transfer agent.",
    no_args_is_help=True,
    context_settings=CONTEXT,
)
app.add_typer(fts)

JobArg = Annotated[int, typer.Argument(help="The job id.", metavar="JOB")]
StateOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--state",
        help="Only these states (repeat): SUBMITTED ACTIVE FINISHED FAILED CANCELED "
        "(jobs also FINISHEDDIRTY).",
    ),
]


# ---------------------------------------------------------------------- commands
@fts.command("list")
def list_jobs(
    ctx: typer.Context,
    states: StateOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many jobs.")] = 50,
    json: JsonOpt = False,
) -> None:
    """List transfer jobs, newest first.

    Example: dfc fts list --state ACTIVE
    """
    jobs = state(ctx).api().fts_jobs(states=_states(states), limit=limit)
    if json:
        emit_json([job_json(j) for j in jobs])
        return
    print(
        f"{'JOB':>6} {'STATE':<13} {'P':>1} {'FILES':>7} {'DONE':>7} {'FAILED':>6} "
        f"{'ACTIVE':>6} {'BYTES':>9}  {'CREATED':<16}  DESCRIPTION"
    )
    for j in jobs:
        c = j.counts
        print(
            f"{j.id:>6} {j.state:<13} {j.priority:>1} {c.files:>7} {c.finished:>7} "
            f"{c.failed:>6} {c.active:>6} {human_size(c.bytes_total):>9}  "
            f"{_when(j.created):<16}  {j.description}"
        )


@fts.command("status")
def status(
    ctx: typer.Context,
    job: JobArg,
    watch: Annotated[
        bool, typer.Option("--watch", help="Redraw every second until the job is final.")
    ] = False,
    files: Annotated[
        bool, typer.Option("--files", help="List the files, with every failed try.")
    ] = False,
    states: StateOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show a job: files done/failed/active, bytes, rate, ETA, and per-link figures.

    --files lists its files (--state filters) with every failed try and its error.
    With --watch the exit status is 0 when the job FINISHED, 1 otherwise.

    Examples: dfc fts status 17 --watch ; dfc fts status 17 --files --state FAILED --json
    """
    api = state(ctx).api()
    if files:
        _print_files(api.fts_files(job, states=_states(states)), json)
        return
    if watch:
        final = _watch(api, job, json)
        raise typer.Exit(0 if final.state == "FINISHED" else 1)
    st = api.fts_status(job)
    if json:
        emit_json(status_json(st))
    else:
        print("\n".join(status_lines(st)))


@fts.command("retry")
def retry(ctx: typer.Context, job: JobArg, json: JsonOpt = False) -> None:
    """Put the FAILED files of a job back in the queue (an agent or `dfc replicate` copies them).

    Example: dfc fts retry 17 && dfc fts agent --once
    """
    before = state(ctx).api().fts_job(job).counts.failed
    done = state(ctx).api().fts_retry(job)
    if json:
        emit_json(job_json(done))
    else:
        print(f"job {done.id}: {before} failed file(s) queued again; state {done.state}")


@fts.command("cancel")
def cancel(ctx: typer.Context, job: JobArg, json: JsonOpt = False) -> None:
    """Cancel a job: waiting and active files become CANCELED (agents stop their copies).

    Example: dfc fts cancel 17
    """
    done = state(ctx).api().fts_cancel(job)
    if json:
        emit_json(job_json(done))
    else:
        print(f"job {done.id}: {done.state} ({done.counts.canceled} file(s) canceled)")


@fts.command("agent")
def agent(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Drain the queue and exit instead of waiting for work.")
    ] = False,
) -> None:
    """Run the transfer agent: copy queued files until stopped (SIGTERM, Ctrl-C).

    Several agents share a PostgreSQL catalogue; on SQLite one runs at a time.
    Files of an agent that died are taken over after `agent_grace` seconds.

    Examples: dfc fts agent ; dfc fts agent --once
    """

    def started(agent_id: int) -> None:
        print(f"dfc: transfer agent {agent_id} started", file=sys.stderr, flush=True)

    report = state(ctx).api().fts_agent(once=once, on_start=started)
    print(
        f"dfc: transfer agent stopped: {report.finished} copied "
        f"({human_size(report.bytes)}), {report.skipped} already there, "
        f"{report.failed} failed, {report.retried} to retry, {report.recovered} taken over, "
        f"{report.released} given back",
        file=sys.stderr,
    )


# ---------------------------------------------------------------------- replicate helpers
def read_lfn_file(path: Path) -> Iterator[str]:
    """Yield the LFNs of a file, one per line ('-' is stdin; blank lines and '#' skipped).

    Raises:
        typer.BadParameter: the file cannot be read.
    """
    try:
        stream = sys.stdin if str(path) == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc.strerror}") from None
    try:
        for line in stream:
            name = line.strip()
            if name and not name.startswith("#"):
                yield name
    finally:
        if stream is not sys.stdin:
            stream.close()


def submit_job(
    api: DFC,
    lfns: Iterable[str],
    to: str,
    *,
    source: str | None,
    recursive: bool,
    priority: int,
    json: bool,
) -> int:
    """``dfc replicate --async``: queue a job, print its id; return the exit status."""
    names = iter(lfns)
    head = list(itertools.islice(names, 3))
    more = "" if len(head) < 3 else " ..."
    sub = api.fts_submit(
        itertools.chain(head, names),
        to,
        source=source,
        recursive=recursive,
        priority=priority,
        description=f"replicate {'-r ' if recursive else ''}{' '.join(head)}{more} --to {to}",
    )
    if json:
        emit_json(
            {
                "job": None if sub.job is None else job_json(sub.job),
                "failed": {k: str(v) for k, v in sub.failed.items()},
            }
        )
    elif sub.job is not None:
        c = sub.job.counts
        print(sub.job.id)
        print(
            f"dfc: job {sub.job.id} queued: {c.files} file(s), {human_size(c.bytes_total)}"
            f"{f', {c.skipped} already at {to}' if c.skipped else ''}; "
            f"follow it with `dfc fts status {sub.job.id} --watch`",
            file=sys.stderr,
        )
    return _report(sub.failed)


def show_plan(
    api: DFC,
    lfns: Iterable[str],
    to: str,
    *,
    source: str | None,
    recursive: bool,
    json: bool,
) -> int:
    """``dfc replicate --dry-run``: print the plan; return the exit status."""
    plan = api.fts_plan(lfns, to, source=source, recursive=recursive)
    if json:
        emit_json(plan_json(plan))
    else:
        print("\n".join(plan_lines(plan, to)))
    return _report(plan.failed)


def _report(failed: dict[str, DFCError]) -> int:
    from dfc import BulkResult

    return report_failures(BulkResult(failed=failed)) if failed else 0


# ---------------------------------------------------------------------- rendering
def _states(states: list[str] | None) -> list[str] | None:
    return [s.upper() for s in states] if states else None


def _when(t: float | None) -> str:
    return "-" if t is None else datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def job_json(job: TransferJob) -> dict[str, Any]:
    """The documented JSON shape of a job."""
    from dfc import to_json

    out: dict[str, Any] = to_json(job)
    return out


def status_json(st: JobStatus) -> dict[str, Any]:
    """The documented JSON shape of ``fts status``."""
    from dfc import to_json

    return {
        **job_json(st.job),
        "rate": st.rate,
        "eta": st.eta,
        "window": st.window,
        "links": to_json(st.links),
    }


def plan_json(plan: TransferPlan) -> dict[str, Any]:
    """The documented JSON shape of ``replicate --dry-run``."""
    from dfc import to_json

    return {
        "files": plan.files,
        "bytes": plan.bytes,
        "links": to_json(plan.links),
        "skipped": plan.skipped,
        "skipped_bytes": plan.skipped_bytes,
        "no_source": plan.no_source,
        "no_source_count": plan.no_source_count,
        "failed": {k: str(v) for k, v in plan.failed.items()},
    }


def plan_lines(plan: TransferPlan, to: str) -> list[str]:
    """Human lines of a plan."""
    lines = [f"would copy {plan.files} file(s), {human_size(plan.bytes)}, to {to}"]
    lines += [
        f"  {link.source} -> {link.dest}: {link.files} file(s), {human_size(link.bytes)}"
        for link in plan.links
    ]
    lines.append(f"already at {to} (skipped): {plan.skipped} ({human_size(plan.skipped_bytes)})")
    lines.append(f"no usable source: {plan.no_source_count}")
    lines += [f"  {lfn}: {why}" for lfn, why in plan.no_source.items()]
    return lines


def status_lines(st: JobStatus) -> list[str]:
    """Human lines of ``fts status``."""
    j, c = st.job, st.job.counts
    lines = [
        f"job {j.id}: {j.state}  priority {j.priority}  owner {j.owner}  "
        f"created {_when(j.created)}" + (f"  finished {_when(j.finished)}" if j.finished else ""),
        f"  {j.description}" if j.description else "",
        f"files: {c.files} total, {c.finished} finished ({c.skipped} already there), "
        f"{c.failed} failed, {c.active} active, {c.submitted} waiting, {c.canceled} canceled",
        f"bytes: {human_size(c.bytes_done)} of {human_size(c.bytes_total)}, "
        f"{human_size(st.rate)}/s, ETA {_duration(st.eta)}",
    ]
    if st.links:
        lines.append(
            f"  {'LINK':<32} {'DONE':>7} {'FAILED':>6} {'ACTIVE':>6} {'WAITING':>7} "
            f"{'BYTES':>9} {'RATE':>9} {'LIMIT':>5}"
        )
    for link in st.links:
        name = f"{link.source or '(not started)'} -> {link.dest}"
        rate = human_size(link.recent_bytes / st.window) + "/s"
        limit = "-" if link.limit is None else str(link.limit)
        lines.append(
            f"  {name:<32} {link.finished:>7} {link.failed:>6} {link.active:>6} "
            f"{link.submitted:>7} {human_size(link.bytes_done):>9} {rate:>9} {limit:>5}"
        )
    return [line for line in lines if line]


def _print_files(files: Iterable[TransferFile], json: bool) -> None:
    if json:
        from dfc import to_json

        emit_json([to_json(f) for f in files])
        return
    for f in files:
        src = f.source or "-"
        tail = " (already there)" if f.skipped else ""
        print(f"{f.id:>8} {f.state:<9} {f.lfn} -> {f.dest} from {src} tries {f.attempt}{tail}")
        for a in f.attempts:
            print(f"{'':>10}try {a.attempt} {a.state} {a.source or '-'} [{a.kind}] {a.error}")
        if f.error and f.state in ("FAILED", "CANCELED", "SUBMITTED"):
            print(f"{'':>10}error [{f.error_kind}] {f.error}")


def _watch(api: DFC, job: int, json: bool) -> TransferJob:
    """Redraw the status every second until the job is final; return it."""
    live: Any = None
    if sys.stdout.isatty() and not json:
        from rich.live import Live
        from rich.text import Text

        live = Live(Text(""), refresh_per_second=4, transient=False)
        live.start()
    try:
        while True:
            st = api.fts_status(job)
            if json:
                emit_json(status_json(st))
            elif live is not None:
                from rich.text import Text

                live.update(Text("\n".join(status_lines(st))))
            else:
                c = st.job.counts
                print(
                    f"job {job}: {st.job.state} {c.finished}/{c.files} finished, {c.failed} "
                    f"failed, {c.active} active, {human_size(st.rate)}/s",
                    flush=True,
                )
            if st.job.final:
                if live is None and not json:
                    print("\n".join(status_lines(st)))
                return st.job
            time.sleep(1.0)
    finally:
        if live is not None:
            live.stop()
