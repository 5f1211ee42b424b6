"""Split a task into jobs, as JSUB's splitters do, and render each job's command.

Every job has the variables ``$(job)`` (0-based index), ``$(njobs)``,
``$(task)``, ``$(nfiles)``, ``$(input_lfns)``/``$(input_lfn)`` (its input LFNs /
the first) and ``$(inputs)``/``$(input)`` (their local paths, relative to the
job's working directory: ``inputs/<file name>``). The ``events`` splitter adds
``$(seed)``, ``$(events)`` and ``$(first_event)``; ``jobvars`` adds one variable
per jobvar.
"""

from __future__ import annotations

import itertools
import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wms_bridge import template
from wms_bridge.errors import TaskFileError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from wms_bridge.task import JobVar, Scalar, TaskSpec

__all__ = ["INPUT_DIR", "JobPlan", "RenderedJob", "render", "split", "values"]

#: Inputs are staged into this directory, inside the job's working directory.
INPUT_DIR = "inputs"


@dataclass(frozen=True)
class JobPlan:
    """One job of a task: its input LFNs and its own variables."""

    index: int
    inputs: tuple[str, ...] = ()
    vars: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RenderedJob:
    """A job with every variable substituted: what the wrapper executes."""

    argv: tuple[str, ...]
    environment: dict[str, str]
    outputs: tuple[tuple[str, str], ...]
    meta: dict[str, Scalar]


def split(spec: TaskSpec, inputs: Sequence[str]) -> list[JobPlan]:
    """Cut ``spec`` into jobs over the resolved input LFNs ``inputs``.

    A task that names no inputs at all is one job under ``files_per_job``.

    Raises:
        TaskFileError: the inputs of a ``files_per_job`` task resolved to no
            file, or two inputs of one job share a file name.
    """
    sp = spec.splitter
    rows: list[tuple[tuple[str, ...], dict[str, str]]]
    if sp.mode == "files_per_job" and not inputs and spec.inputs.empty:
        rows = [((), {})]  # a task without inputs: one job
    elif sp.mode == "files_per_job":
        if not inputs:
            raise TaskFileError(f"{spec.source}: inputs: no input files (files_per_job needs some)")
        n = sp.files_per_job
        rows = [(tuple(inputs[i : i + n]), {}) for i in range(0, len(inputs), n)]
    elif sp.mode == "events":
        rows = [(tuple(inputs), _event_vars(spec, i)) for i in range(sp.njobs)]
    else:
        rows = _jobvar_rows(spec, inputs)
    rows = rows[: sp.max_jobs]
    jobs = []
    for index, (lfns, own) in enumerate(rows):
        _check_names(spec, index, lfns)
        common = {
            "job": str(index),
            "njobs": str(len(rows)),
            "task": spec.name,
            "nfiles": str(len(lfns)),
        }
        jobs.append(JobPlan(index, lfns, {**common, **own}))
    return jobs


def _event_vars(spec: TaskSpec, index: int) -> dict[str, str]:
    sp = spec.splitter
    out = {
        "seed": str(sp.seed + index),
        "events": str(sp.events_per_job),
        "first_event": str(index * sp.events_per_job),
    }
    for name, value in sp.vars.items():
        out[name] = _increment(value, index)
    return out


def _increment(value: Scalar, index: int) -> str:
    """JSUB's rule: integers increase per job, strings get ``_<job>``."""
    if isinstance(value, int):
        return str(value + index)
    if isinstance(value, str):
        return f"{value}_{index}"
    return str(value)


def _jobvar_rows(
    spec: TaskSpec, inputs: Sequence[str]
) -> list[tuple[tuple[str, ...], dict[str, str]]]:
    """Zip the jobvars of a group, multiply the groups, zip group-less ones along."""
    columns: dict[str, list[tuple[tuple[str, ...] | None, str]]] = {}
    for var in spec.splitter.jobvars:
        columns[var.name] = _column(var, inputs)
    groups: dict[str, list[str]] = {}
    loose: list[str] = []
    for var in spec.splitter.jobvars:
        if var.group is None:
            loose.append(var.name)
        else:
            groups.setdefault(var.group, []).append(var.name)
    Row = dict[str, tuple[tuple[str, ...] | None, str]]
    rows: list[Row] | None = None
    for names in groups.values():
        zipped: list[Row] = [dict(zip(names, vals, strict=True)) for vals in _zip(columns, names)]
        rows = zipped if rows is None else [a | b for a, b in itertools.product(rows, zipped)]
    if loose:
        extra: list[Row] = [dict(zip(loose, vals, strict=True)) for vals in _zip(columns, loose)]
        rows = extra if rows is None else [a | b for a, b in zip(rows, extra, strict=False)]
    out = []
    for row in rows or []:
        lfns: tuple[str, ...] = tuple(inputs)
        values = {}
        for name, (chunk, text) in row.items():
            values[name] = text
            if chunk is not None:
                lfns = chunk
        out.append((lfns, values))
    return out


def _zip(
    columns: dict[str, list[tuple[tuple[str, ...] | None, str]]], names: list[str]
) -> list[tuple[tuple[tuple[str, ...] | None, str], ...]]:
    return list(zip(*(columns[n] for n in names), strict=False))


def _column(var: JobVar, inputs: Sequence[str]) -> list[tuple[tuple[str, ...] | None, str]]:
    if var.kind != "inputs":
        return [(None, v) for v in var.values]
    n = var.per_job
    chunks = [tuple(inputs[i : i + n]) for i in range(0, len(inputs), n)]
    return [(c, " ".join(c)) for c in chunks]


def _check_names(spec: TaskSpec, index: int, lfns: tuple[str, ...]) -> None:
    seen: dict[str, str] = {}
    for lfn in lfns:
        name = posixpath.basename(lfn)
        if name in seen:
            raise TaskFileError(
                f"{spec.source}: inputs: job {index} has two inputs named {name!r} "
                f"({seen[name]} and {lfn}); they would overwrite each other"
            )
        seen[name] = lfn


def values(spec: TaskSpec, job: JobPlan) -> dict[str, str | list[str]]:
    """Every variable of ``job``, list variables as lists."""
    local = [f"{INPUT_DIR}/{posixpath.basename(lfn)}" for lfn in job.inputs]
    out: dict[str, str | list[str]] = dict(job.vars)
    out.update(
        inputs=local,
        input=local[0] if local else "",
        input_lfns=list(job.inputs),
        input_lfn=job.inputs[0] if job.inputs else "",
    )
    out.setdefault("task", spec.name)
    return out


def render(spec: TaskSpec, job: JobPlan, script: str | None = None) -> RenderedJob:
    """Substitute ``job``'s variables into the command, environment and outputs.

    ``script`` is where the task's script will be in the job (default: its
    path in the task file).
    """
    vals = values(spec, job)
    argv: list[str] = []
    if spec.executable:
        argv.append(spec.executable)
    if spec.script:
        argv.append(script or spec.script)
    argv += template.expand_args(spec.arguments, vals)
    meta: dict[str, Scalar] = {}
    for key, value in spec.outputs.meta.items():
        if isinstance(value, str) and template.names(value):
            meta[key] = _typed(template.substitute(value, vals))
        else:
            meta[key] = value
    outputs = tuple(
        (template.substitute(r.pattern, vals), template.substitute(r.dir, vals))
        for r in spec.outputs.rules
    )
    env = {k: template.substitute(v, vals) for k, v in spec.environment.items()}
    return RenderedJob(tuple(argv), env, outputs, meta)


def _typed(text: str) -> Scalar:
    """A substituted metadata value: an integer or a float if it reads as one."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text
