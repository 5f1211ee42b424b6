"""``dfc-job``: stage data for jobs, and split, submit and follow tasks.

Data goes to stdout (``--json`` for machines), messages to stderr; a failure
exits with the error's errno. Commands: ``stage-in``, ``stage-out``,
``submit``, ``list``, ``status``, ``resubmit``, ``kill``, ``logs``, ``outputs``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from dfc import DFC, BulkResult, DFCError
    from wms_bridge.control import Jobs, Plan, TaskStatus

__all__ = ["app", "main"]

app = typer.Typer(
    name="dfc-job",
    help=(
        "dfc-job: stage data in and out of grid jobs, and split tasks into jobs "
        "submitted to a batch system (local or Slurm), as JUNO's JSUB does.\n\n"
        "Inside a job: `dfc-job stage-in`, `dfc-job stage-out`. For tasks: "
        "`dfc-job submit task.toml`, then `list`, `status`, `logs`, `outputs`, "
        "`resubmit`, `kill`."
    ),
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
TaskArg = Annotated[
    str, typer.Argument(help="Task id, or name (the newest task of that name).", metavar="TASK")
]
JobsOpt = Annotated[
    str | None, typer.Option("--jobs", metavar="LIST", help="Only these job indices, e.g. 0,3,5-7.")
]


@dataclass
class State:
    """Root options, and the objects built from them on first use."""

    catalog: str | None = None
    site: str | None = None
    _dfc: DFC | None = field(default=None, repr=False)
    _jobs: Jobs | None = field(default=None, repr=False)

    def dfc(self) -> DFC:
        """The :class:`dfc.DFC` for these options.

        Raises:
            DFCError: the configuration is invalid.
        """
        if self._dfc is None:
            from dfc import DFC, Settings

            self._dfc = DFC(Settings.load(catalog=self.catalog, site=self.site))
        return self._dfc

    def jobs(self) -> Jobs:
        """The task controller.

        Raises:
            DFCError: the configuration is invalid.
        """
        if self._jobs is None:
            from wms_bridge.control import Jobs

            self._jobs = Jobs(self.dfc())
        return self._jobs

    def close(self) -> None:
        """Release what was opened."""
        if self._jobs is not None:
            self._jobs.close()
        if self._dfc is not None:
            self._dfc.close()


def _state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj


@app.callback()
def root(
    ctx: typer.Context,
    catalog: Annotated[
        str | None,
        typer.Option("--catalog", metavar="URL", help="Catalogue URL (default: as for `dfc`)."),
    ] = None,
    site: Annotated[
        str | None,
        typer.Option("--site", metavar="SITE", help="Your site, for replica choice ($DFC_SITE)."),
    ] = None,
) -> None:
    """Options for every command."""
    ctx.obj = State(catalog=catalog, site=site)
    ctx.call_on_close(ctx.obj.close)


# ---------------------------------------------------------------------- output helpers
def _emit(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def _fail_lines(result: BulkResult[Any]) -> int:
    for key, err in result.failed.items():
        text = str(err)
        print(f"dfc-job: {text}" if key in text else f"dfc-job: {key}: {text}", file=sys.stderr)
    if not result.failed:
        return 0
    return min(next(iter(result.failed.values())).errno, 255) or 1


def _indices(text: str | None) -> list[int] | None:
    if text is None:
        return None
    out: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            out.extend(range(int(low), int(high or low) + 1))
    except ValueError:
        raise typer.BadParameter(f"expected indices such as 0,3,5-7, got {text!r}") from None
    return out


def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "-"


# ---------------------------------------------------------------------- staging
@app.command("stage-in")
def stage_in_cmd(
    ctx: typer.Context,
    lfns: Annotated[list[str] | None, typer.Argument(help="Input LFNs.", metavar="LFN")] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            metavar="FILE",
            help="Take the LFNs from a manifest (JSON) or a list file.",
        ),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", metavar="NAME", help="Take a dataset's files.")
    ] = None,
    query: Annotated[
        str | None,
        typer.Option(
            "--query", metavar="'PATH TERM...'", help="Take the files matching 'PATH TERM...'."
        ),
    ] = None,
    dest: Annotated[Path, typer.Option("--dest", metavar="DIR", help="Local directory.")] = Path(
        "."
    ),
    parallel: Annotated[
        int | None, typer.Option("--parallel", min=1, metavar="N", help="Concurrent downloads.")
    ] = None,
    preferred_se: Annotated[
        list[str] | None,
        typer.Option("--preferred-se", metavar="SE", help="Read from this SE first."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE", help="Manifest to write (default DEST/inputs.json)."),
    ] = None,
    retries: Annotated[
        int,
        typer.Option(
            "--retries", min=0, metavar="N", help="Rounds of retries after transient failures."
        ),
    ] = 2,
    as_json: JsonOpt = False,
) -> None:
    """Download inputs from their closest good replica, verified; write a manifest."""
    from wms_bridge.stage import read_lfns, stage_in

    dfc = _state(ctx).dfc()
    wanted = list(lfns or [])
    if manifest is not None:
        wanted += read_lfns(manifest)
    if dataset is not None or query is not None:
        wanted += dfc.resolve_inputs(dataset=dataset, query=query)
    if not wanted:
        raise typer.BadParameter("give LFNs, --manifest, --dataset or --query")
    result = stage_in(
        dfc,
        wanted,
        dest,
        parallel=parallel,
        preferred_se=preferred_se or (),
        retries=retries,
        manifest=out or dest / "inputs.json",
    )
    if as_json:
        _emit({"files": [asdict(s) for s in result.succeeded.values()],
               "failed": {k: str(v) for k, v in result.failed.items()}})  # fmt: skip
    else:
        for staged in result.succeeded.values():
            print(f"{staged.lfn}\t{staged.path}\t{staged.se or '(local copy)'}\t{staged.adler32}")
    if result.failed:
        print(f"dfc-job: {len(result.failed)} of {len(wanted)} inputs not staged:", file=sys.stderr)
    raise typer.Exit(_fail_lines(result))


def _meta_pairs(items: list[str] | None) -> dict[str, str | int | float]:
    out: dict[str, str | int | float] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected FIELD=VALUE, got {item!r}")
        typed: str | int | float = value
        for kind in (int, float):
            try:
                typed = kind(value)
                break
            except ValueError:
                continue
        out[key.strip()] = typed
    return out


@app.command("stage-out")
def stage_out_cmd(
    ctx: typer.Context,
    patterns: Annotated[
        list[str], typer.Argument(help="Output files (glob patterns).", metavar="PATTERN")
    ],
    to: Annotated[
        str, typer.Option("--to", metavar="LFN_DIR", help="LFN directory for the outputs.")
    ],
    se: Annotated[
        str | None, typer.Option("--se", metavar="SE", help="SE to write to first.")
    ] = None,
    failover_se: Annotated[
        list[str] | None,
        typer.Option("--failover-se", metavar="SE", help="Next SE if the previous fails."),
    ] = None,
    meta: Annotated[
        list[str] | None,
        typer.Option("--meta", metavar="FIELD=VALUE", help="Metadata FIELD=VALUE for each output."),
    ] = None,
    ancestors_from: Annotated[
        Path | None,
        typer.Option(
            "--ancestors-from",
            metavar="MANIFEST",
            help="Record the manifest's inputs as ancestors.",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace outputs registered with other content.")
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", metavar="FILE", help="Write the outcome as JSON to this file."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload and register outputs with failover, metadata and ancestry."""
    from wms_bridge.stage import expand_patterns, read_manifest, stage_out

    files, unmatched = expand_patterns(patterns, Path.cwd())
    ancestors = [e["lfn"] for e in read_manifest(ancestors_from)] if ancestors_from else []
    result = stage_out(
        _state(ctx).dfc(),
        files,
        to,
        se=se,
        failover_se=failover_se or (),
        meta=_meta_pairs(meta),
        ancestors=ancestors,
        overwrite=overwrite,
        report=report,
    )
    for pattern in unmatched:
        print(f"dfc-job: {pattern}: no file matches", file=sys.stderr)
    if as_json:
        _emit({"files": [asdict(s) for s in result.succeeded.values()],
               "failed": {k: str(v) for k, v in result.failed.items()}})  # fmt: skip
    else:
        for staged in result.succeeded.values():
            note = "reused" if staged.reused else "stored"
            print(f"{staged.lfn}\t{staged.se}\t{staged.size}\t{staged.adler32}\t{note}")
    code = _fail_lines(result)
    raise typer.Exit(code or (2 if unmatched else 0))


# ---------------------------------------------------------------------- tasks
def _print_plan(plan: Plan) -> None:
    spec = plan.spec
    print(f"task {spec.name}: {len(plan.jobs)} jobs on {spec.backend.type}, "
          f"{len(plan.inputs)} input files, outputs under {spec.outputs.dir}")  # fmt: skip
    for job in plan.jobs:
        rendered = plan.rendered(job.index)
        print(f"job {job.index}: {' '.join(rendered.argv)}")
        for lfn in job.inputs:
            print(f"  in  {lfn}")
        for pattern, directory in rendered.outputs:
            print(f"  out {pattern} -> {directory}/")


@app.command()
def submit(
    ctx: typer.Context,
    taskfile: Annotated[
        Path, typer.Argument(help="The task file (TOML, or YAML).", metavar="TASKFILE")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the jobs and their inputs; submit nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Split a task into jobs and submit them."""
    jobs = _state(ctx).jobs()
    plan = jobs.plan(taskfile)
    if dry_run:
        if as_json:
            _emit({"task": plan.spec.to_json(), "inputs": plan.inputs,
                   "jobs": [{"index": j.index, "inputs": list(j.inputs), "vars": j.vars,
                             **asdict(plan.rendered(j.index))} for j in plan.jobs]})  # fmt: skip
        else:
            _print_plan(plan)
        return
    task = jobs.submit_plan(plan)
    if as_json:
        _emit({"id": task.id, "name": task.name, "backend": task.backend,
               "jobs": len(plan.jobs), "task_dir": task.task_dir})  # fmt: skip
    else:
        print(f"task {task.id} ({task.name}): {len(plan.jobs)} jobs submitted to {task.backend}")


@app.command("list")
def list_cmd(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List your tasks and their jobs: D done, F failed, R running, W waiting, K killed."""
    from wms_bridge.control import letters

    rows = _state(ctx).jobs().tasks()
    for row in rows:
        if row.stale:
            print(f"dfc-job: warning: task {row.task.id}: {row.stale}", file=sys.stderr)
    if as_json:
        _emit([{"id": r.task.id, "name": r.task.name, "backend": r.task.backend,
                "state": r.state, "jobs": r.counts, "created": r.task.created}
               for r in rows])  # fmt: skip
        return
    print(f"{'ID':>4}  {'NAME':<20} {'BACKEND':<7} {'STATE':<8} {'JOBS':<28} CREATED")
    for r in rows:
        print(f"{r.task.id:>4}  {r.task.name:<20} {r.task.backend:<7} {r.state:<8} "
              f"{letters(r.counts):<28} {_when(r.task.created)}")  # fmt: skip


def _status_json(status: TaskStatus, with_jobs: bool) -> dict[str, Any]:
    task = status.task
    out: dict[str, Any] = {"id": task.id, "name": task.name, "backend": task.backend,
                           "state": status.state, "jobs": status.counts,
                           "task_dir": task.task_dir}  # fmt: skip
    if with_jobs:
        out["job_list"] = [asdict(j) for j in status.jobs]
    return out


@app.command()
def status(
    ctx: typer.Context,
    task: TaskArg,
    jobs: Annotated[bool, typer.Option("--jobs", help="Show every job.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a task's state, reconciled with the batch system."""
    from wms_bridge.control import letters

    found = _state(ctx).jobs().status(task)
    if as_json:
        _emit(_status_json(found, jobs))
        return
    row = found.task
    print(f"task {row.id} ({row.name}) on {row.backend}: {found.state}  {letters(found.counts)}")
    if not jobs:
        return
    print(f"{'JOB':>5}  {'STATE':<8} {'TRY':>3} {'EXIT':>4}  {'BACKEND ID':<14} REASON")
    for job in found.jobs:
        code = "-" if job.exit_code is None else str(job.exit_code)
        reason = job.reason or (job.phase if job.state == "running" else "") or ""
        print(f"{job.idx:>5}  {job.state:<8} {job.attempt:>3} {code:>4}  "
              f"{job.backend_id or '-':<14} {reason}")  # fmt: skip


@app.command()
def resubmit(
    ctx: typer.Context,
    task: TaskArg,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed jobs.")] = False,
    jobs: JobsOpt = None,
) -> None:
    """Submit again the jobs that failed, were killed or never went out."""
    done = _state(ctx).jobs().resubmit(task, failed_only=failed, indices=_indices(jobs))
    print(f"resubmitted {len(done)} jobs" + (f": {_ranges(done)}" if done else ""))


@app.command()
def kill(ctx: typer.Context, task: TaskArg, jobs: JobsOpt = None) -> None:
    """Stop the queued and running jobs of a task."""
    done = _state(ctx).jobs().kill(task, indices=_indices(jobs))
    print(f"killed {len(done)} jobs" + (f": {_ranges(done)}" if done else ""))


def _ranges(indices: list[int]) -> str:
    parts: list[str] = []
    for idx in sorted(indices):
        if parts and parts[-1].split("-")[-1] == str(idx - 1):
            parts[-1] = f"{parts[-1].split('-')[0]}-{idx}"
        else:
            parts.append(str(idx))
    return ",".join(parts)


@app.command()
def logs(
    ctx: typer.Context,
    task: TaskArg,
    job: Annotated[int, typer.Argument(help="Job index.", metavar="JOB")],
    attempt: Annotated[
        int | None,
        typer.Option("--attempt", min=1, metavar="N", help="Attempt (default: the latest)."),
    ] = None,
) -> None:
    """Print a job's logs: the wrapper's, the program's stdout and stderr."""
    found = _state(ctx).jobs().logs(task, job, attempt=attempt)
    for label, path in found.items():
        print(f"==> {label}: {path} <==")
        try:
            sys.stdout.write(path.read_text(encoding="utf-8", errors="replace"))
        except FileNotFoundError:
            print("(none yet)")


@app.command()
def outputs(ctx: typer.Context, task: TaskArg, as_json: JsonOpt = False) -> None:
    """List the outputs registered by a task's finished jobs."""
    found = _state(ctx).jobs().outputs(task)
    if as_json:
        _emit(found)
        return
    for item in found:
        print(f"{item['lfn']}\t{item['se']}\t{item['size']}\t{item['adler32']}\tjob {item['job']}")


@app.command(hidden=True)
def runner(ctx: typer.Context) -> None:
    """Run the local backend's runner in the foreground (started by submit)."""
    from wms_bridge.backends.local import Runner

    raise typer.Exit(Runner(_state(ctx).jobs().settings).run())


def main(argv: list[str] | None = None) -> None:
    """Run ``dfc-job``; the one place that turns dfc errors into exit codes."""
    from dfc import DFCError
    from dfc.signals import TerminateAsInterrupt

    with TerminateAsInterrupt("dfc-job"):  # Ctrl-C and SIGTERM: exit 130 and 143
        try:
            app(args=argv, prog_name="dfc-job")
        except DFCError as exc:
            _report(exc)
        except BrokenPipeError:
            sys.exit(0)


def _report(exc: DFCError) -> None:
    print(f"dfc-job: {exc}", file=sys.stderr)
    sys.exit(min(exc.errno, 255) or 1)
