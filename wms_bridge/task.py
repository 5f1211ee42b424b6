"""Task files: what to run, on which inputs, split how, with outputs going where.

A task file is TOML (``.toml``), or YAML (``.yaml``/``.yml``) when PyYAML is
installed. Every problem is reported as ``FILE:LINE: FIELD: what is wrong``.
Example::

    name = "detsim"
    executable = "python3"
    script = "analyse.py"                  # a local file, shipped with the job
    arguments = ["--seed", "$(seed)", "$(inputs)"]
    environment = { MODE = "fast" }

    [inputs]                               # any of these; their union, in order
    lfns = ["/juno/production/x/a.root"]
    directory = "/juno/production/x"       # every file below it
    dataset = "muon-prd001"
    query = "/juno/production energy>1 particle=e+"
    preferred_se = ["IHEP-DISK"]           # read from these first

    [splitter]                             # mode: files_per_job | events | jobvars
    mode = "files_per_job"
    files_per_job = 4

    [outputs]                              # default dir: /juno/user/<i>/<user>/<subdir>/<name>
    subdir = "jsub"
    files = { "*.root" = "root", "*.txt" = "" }  # pattern -> directory ("" = dir itself)
    se = "IHEP-DISK"
    failover_se = ["CNAF-DISK"]
    meta = { jobId = "$(job)", tag = "v1" }

    [backend]                              # or: backend = "slurm"
    type = "local"

    [resources]
    cores = 1
    memory = "2G"
    wall_time = "1h30m"

Splitters, as in JSUB: ``files_per_job`` cuts the inputs into jobs of N files;
``events`` makes ``njobs`` jobs, each with ``events_per_job`` events and seed
``seed + job`` (``[splitter.vars]``: integers increase per job, strings get
``_<job>``); ``jobvars`` takes named value lists (``range``, ``list``,
``lines_in_file``, ``inputs``) from ``[splitter.jobvars.NAME]`` and zips those
of one ``group``, multiplies the groups, and zips group-less ones with that.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from wms_bridge import template
from wms_bridge._fields import MISSING, Doc
from wms_bridge._locate import parse
from wms_bridge.errors import TaskFileError

if TYPE_CHECKING:
    from pathlib import Path

    from wms_bridge._locate import FieldPath

__all__ = [
    "Backend",
    "Inputs",
    "JobVar",
    "OutputRule",
    "Outputs",
    "Resources",
    "Splitter",
    "TaskSpec",
    "default_output_dir",
    "load_task",
]

SplitMode = Literal["files_per_job", "events", "jobvars"]
Scalar = str | int | float

_MODES: dict[str, SplitMode] = {
    "files_per_job": "files_per_job",
    "splitbyfiles": "files_per_job",
    "events": "events",
    "splitbyevent": "events",
    "jobvars": "jobvars",
    "splitbyjobvars": "jobvars",
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_VARNAME = re.compile(r"[A-Za-z_]\w*")
#: Variables every job has (see :mod:`wms_bridge.split`).
COMMON_VARS = frozenset(
    {"job", "njobs", "task", "inputs", "input", "input_lfns", "input_lfn", "nfiles"}
)
EVENT_VARS = frozenset({"seed", "events", "first_event"})

TOP = {
    "name",
    "executable",
    "script",
    "arguments",
    "environment",
    "inputs",
    "splitter",
    "outputs",
    "backend",
    "resources",
}


@dataclass(frozen=True)
class Inputs:
    """Where the input files come from (their union, duplicates dropped)."""

    lfns: tuple[str, ...] = ()
    directories: tuple[str, ...] = ()
    dataset: str | None = None
    query: str | None = None
    preferred_se: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """No input source is given."""
        return not (self.lfns or self.directories or self.dataset or self.query)


@dataclass(frozen=True)
class JobVar:
    """A named list of values for the ``jobvars`` splitter.

    ``kind`` ``inputs`` takes the task's input files, ``per_job`` at a time.
    """

    name: str
    kind: str
    values: tuple[str, ...] = ()
    group: str | None = None
    per_job: int = 1


@dataclass(frozen=True)
class Splitter:
    """How a task becomes jobs."""

    mode: SplitMode = "files_per_job"
    files_per_job: int = 1
    njobs: int = 1
    events_per_job: int = 0
    seed: int = 1
    vars: dict[str, Scalar] = field(default_factory=dict)
    jobvars: tuple[JobVar, ...] = ()
    max_jobs: int = 100000


@dataclass(frozen=True)
class OutputRule:
    """Files matching ``pattern`` (in the job's directory) go to LFN directory ``dir``."""

    pattern: str
    dir: str


@dataclass(frozen=True)
class Outputs:
    """Where a job's outputs go and how they are registered."""

    dir: str
    rules: tuple[OutputRule, ...] = ()
    se: str | None = None
    failover_se: tuple[str, ...] = ()
    meta: dict[str, Scalar] = field(default_factory=dict)
    overwrite: bool = False


@dataclass(frozen=True)
class Resources:
    """What one job needs: cores, memory (MiB), wall time (seconds)."""

    cores: int = 1
    memory_mb: int | None = None
    wall_time: int | None = None


@dataclass(frozen=True)
class Backend:
    """Where jobs run, and backend-specific options."""

    type: str = "local"
    partition: str | None = None
    account: str | None = None
    max_running: int | None = None
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskSpec:
    """A validated task file."""

    name: str
    inputs: Inputs
    splitter: Splitter
    outputs: Outputs
    executable: str | None = None
    script: str | None = None
    arguments: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    backend: Backend = field(default_factory=Backend)
    resources: Resources = field(default_factory=Resources)
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible dict (see :meth:`from_json`)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskSpec:
        """Rebuild a spec from :meth:`to_json` output."""
        sp = dict(data["splitter"])
        sp["jobvars"] = tuple(JobVar(**_tuples(v)) for v in sp.get("jobvars", ()))
        out = dict(data["outputs"])
        out["rules"] = tuple(OutputRule(**r) for r in out.get("rules", ()))
        return cls(
            name=data["name"],
            inputs=Inputs(**_tuples(data["inputs"])),
            splitter=Splitter(**sp),
            outputs=Outputs(**_tuples(out)),
            executable=data.get("executable"),
            script=data.get("script"),
            arguments=tuple(data.get("arguments", ())),
            environment=dict(data.get("environment", {})),
            backend=Backend(**_tuples(data.get("backend", {}))),
            resources=Resources(**data.get("resources", {})),
            source=data.get("source", ""),
        )


def _tuples(data: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}


def default_output_dir(vo: str, user: str, name: str, subdir: str | None = None) -> str:
    """JUNO's user area: ``/<vo>/user/<initial>/<user>[/<subdir>]/<name>``."""
    parts = ["", vo.strip("/"), "user", user[:1], user]
    if subdir:
        parts.append(subdir.strip("/"))
    parts.append(name)
    return "/".join(parts)


def load_task(path: Path, *, user: str, vo: str = "juno") -> TaskSpec:
    """Read and validate the task file at ``path``.

    ``user`` and ``vo`` give the default output directory.

    Raises:
        TaskFileError: the file cannot be read or is invalid; the message names
            the file, the line and the field.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskFileError(f"{path}: cannot read the task file: {exc}") from None
    data, lines = parse(path, text)
    doc = Doc(path, data, lines)
    doc.table((), TOP)
    name = doc.string(("name",), required=True)
    assert name is not None
    if not _NAME.fullmatch(name):
        raise doc.error(("name",), "use letters, digits, '.', '_' and '-' (at most 100)")
    executable = doc.string(("executable",))
    script = _script(doc, path)
    if executable is None and script is None:
        raise doc.missing(("executable",))
    splitter = _splitter(doc, path)
    spec = TaskSpec(
        name=name,
        inputs=_inputs(doc),
        splitter=splitter,
        outputs=_outputs(doc, default_output_dir(vo, user, name, _subdir(doc))),
        executable=executable,
        script=script,
        arguments=_arguments(doc),
        environment=_environment(doc),
        backend=_backend(doc),
        resources=_resources(doc),
        source=str(path.resolve()),
    )
    _check_vars(doc, spec)
    return spec


# ---------------------------------------------------------------------- sections
def _script(doc: Doc, path: Path) -> str | None:
    script = doc.string(("script",))
    if script is None:
        return None
    local = (path.parent / script).expanduser()
    if not local.is_file():
        raise doc.error(("script",), f"no such file {str(local)!r}")
    return str(local.resolve())


def _arguments(doc: Doc) -> tuple[str, ...]:
    value = doc.get(("arguments",))
    if value is MISSING:
        return ()
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise doc.error(("arguments",), f"cannot split into words: {exc}") from None
    if not isinstance(value, list):
        raise doc.error(("arguments",), "expected a list of strings or a string")
    return tuple(str(doc.scalar(("arguments", i))) for i in range(len(value)))


def _environment(doc: Doc) -> dict[str, str]:
    table = doc.get(("environment",), {})
    if not isinstance(table, dict):
        raise doc.error(("environment",), "expected a table of NAME = value")
    out = {}
    for key in table:
        if not _VARNAME.fullmatch(key):
            raise doc.error(("environment", key), "not a valid environment variable name")
        out[key] = str(doc.scalar(("environment", key)))
    return out


def _inputs(doc: Doc) -> Inputs:
    doc.table(("inputs",), {"lfns", "directory", "dataset", "query", "preferred_se"})
    lfns = doc.strings(("inputs", "lfns"))
    for index, lfn in enumerate(lfns):
        if not lfn.startswith("/"):
            raise doc.error(("inputs", "lfns", index), f"not an absolute LFN: {lfn!r}")
    dirs = doc.strings(("inputs", "directory"))
    for index, lfn in enumerate(dirs):
        if not lfn.startswith("/"):
            raise doc.error(("inputs", "directory", index), f"not an absolute LFN: {lfn!r}")
    return Inputs(
        lfns=lfns,
        directories=dirs,
        dataset=doc.string(("inputs", "dataset")),
        query=doc.string(("inputs", "query")),
        preferred_se=doc.strings(("inputs", "preferred_se")),
    )


def _splitter(doc: Doc, path: Path) -> Splitter:
    allowed = {"mode", "files_per_job", "njobs", "events_per_job", "seed", "vars", "jobvars"}
    table = doc.table(("splitter",), allowed | {"max_jobs"})
    max_jobs = doc.integer(("splitter", "max_jobs"), minimum=1, default=100000)
    assert max_jobs is not None
    mode_name = doc.string(("splitter", "mode"))
    if mode_name is None:
        mode_name = _infer_mode(table)
    mode = _MODES.get(mode_name.lower().replace("-", "_"))
    if mode is None:
        raise doc.error(("splitter", "mode"), f"unknown mode {mode_name!r}; use " + _modes())
    wrong = {
        "files_per_job": {"njobs", "events_per_job", "seed", "vars", "jobvars"},
        "events": {"files_per_job", "jobvars"},
        "jobvars": {"files_per_job", "njobs", "events_per_job", "seed", "vars"},
    }[mode]
    for key in table:
        if key in wrong:
            raise doc.error(("splitter", key), f"not used by mode {mode!r}")
    if mode == "files_per_job":
        per = doc.integer(("splitter", "files_per_job"), minimum=1, default=1)
        return Splitter(mode, files_per_job=per or 1, max_jobs=max_jobs)
    if mode == "events":
        return Splitter(
            mode,
            njobs=doc.integer(("splitter", "njobs"), minimum=1, default=1) or 1,
            events_per_job=doc.integer(("splitter", "events_per_job"), minimum=0, default=0) or 0,
            seed=doc.integer(("splitter", "seed"), default=1) or 0,
            vars=_event_vars(doc),
            max_jobs=max_jobs,
        )
    return Splitter(mode, jobvars=_jobvars(doc, path), max_jobs=max_jobs)


def _modes() -> str:
    return "files_per_job, events or jobvars"


def _infer_mode(table: dict[str, Any]) -> str:
    if "jobvars" in table:
        return "jobvars"
    if {"njobs", "events_per_job", "seed"} & set(table):
        return "events"
    return "files_per_job"


def _event_vars(doc: Doc) -> dict[str, Scalar]:
    table = doc.get(("splitter", "vars"), {})
    if not isinstance(table, dict):
        raise doc.error(("splitter", "vars"), "expected a table of name = value")
    out: dict[str, Scalar] = {}
    for key in table:
        _check_name(doc, ("splitter", "vars", key), COMMON_VARS | EVENT_VARS)
        out[key] = doc.scalar(("splitter", "vars", key))
    return out


def _check_name(doc: Doc, fld: FieldPath, reserved: frozenset[str] = COMMON_VARS) -> None:
    name = str(fld[-1])
    if not _VARNAME.fullmatch(name):
        raise doc.error(fld, "a variable name is letters, digits and '_'")
    if name in reserved:
        raise doc.error(fld, f"{name!r} is a built-in variable")


def _jobvars(doc: Doc, path: Path) -> tuple[JobVar, ...]:
    table = doc.get(("splitter", "jobvars"), MISSING)
    if table is MISSING:
        raise doc.missing(("splitter", "jobvars"))
    if not isinstance(table, dict) or not table:
        raise doc.error(("splitter", "jobvars"), "expected tables [splitter.jobvars.NAME]")
    out = []
    for name in table:
        out.append(_jobvar(doc, ("splitter", "jobvars", name), path))
    if sum(1 for v in out if v.kind == "inputs") > 1:
        raise doc.error(("splitter", "jobvars"), "at most one jobvar may be of type 'inputs'")
    return tuple(out)


def _jobvar(doc: Doc, fld: FieldPath, path: Path) -> JobVar:
    _check_name(doc, fld)
    name = str(fld[-1])
    keys = {"type", "first", "step", "length", "last", "values", "file", "per_job", "group"}
    doc.table(fld, keys)
    kind = doc.string((*fld, "type"), required=True)
    group = doc.string((*fld, "group"))
    if kind == "range":
        first = doc.integer((*fld, "first"), default=1) or 0
        step = doc.integer((*fld, "step"), default=1) or 0
        if step == 0:
            raise doc.error((*fld, "step"), "must not be 0")
        length = doc.integer((*fld, "length"), minimum=0)
        last = doc.integer((*fld, "last"))
        if (length is None) == (last is None):
            raise doc.error(fld, "a range needs exactly one of 'length' and 'last'")
        if length is None:
            assert last is not None
            length = max(0, (last - first) // step + 1)
        values = tuple(str(first + i * step) for i in range(length))
        return JobVar(name, "range", values, group)
    if kind in {"list", "enumerate"}:
        items = doc.get((*fld, "values"))
        if not isinstance(items, list):
            raise doc.error((*fld, "values"), "expected a list of values")
        values = tuple(str(doc.scalar((*fld, "values", i))) for i in range(len(items)))
        return JobVar(name, "list", values, group)
    if kind == "lines_in_file":
        file = doc.string((*fld, "file"), required=True)
        assert file is not None
        try:
            text = (path.parent / file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise doc.error((*fld, "file"), f"cannot read {file!r}: {exc}") from None
        values = tuple(s for s in (line.strip() for line in text.splitlines()) if s)
        return JobVar(name, "list", values, group)
    if kind == "inputs":
        per_job = doc.integer((*fld, "per_job"), minimum=1, default=1) or 1
        return JobVar(name, "inputs", (), group, per_job)
    raise doc.error(
        (*fld, "type"), f"unknown type {kind!r}; use range, list, lines_in_file, inputs"
    )


def _subdir(doc: Doc) -> str | None:
    return doc.string(("outputs", "subdir"))


def _outputs(doc: Doc, default_dir: str) -> Outputs:
    keys = {"dir", "subdir", "files", "se", "failover_se", "meta", "overwrite"}
    doc.table(("outputs",), keys)
    base = doc.string(("outputs", "dir")) or default_dir
    if not base.startswith("/"):
        raise doc.error(("outputs", "dir"), f"not an absolute LFN directory: {base!r}")
    base = base.rstrip("/") or "/"
    return Outputs(
        dir=base,
        rules=_rules(doc, base),
        se=doc.string(("outputs", "se")),
        failover_se=doc.strings(("outputs", "failover_se")),
        meta=_meta(doc),
        overwrite=doc.boolean(("outputs", "overwrite"), default=False),
    )


def _rules(doc: Doc, base: str) -> tuple[OutputRule, ...]:
    value = doc.get(("outputs", "files"))
    if value is MISSING:
        return ()
    if isinstance(value, (str, list)):
        return tuple(OutputRule(p, base) for p in doc.strings(("outputs", "files")))
    if not isinstance(value, dict):
        raise doc.error(("outputs", "files"), "expected a list of patterns or pattern = dir")
    rules = []
    for pattern, target in value.items():
        fld = ("outputs", "files", pattern)
        if not isinstance(target, str):
            raise doc.error(fld, "expected a directory: '' (the output dir), relative or absolute")
        if "/" in pattern:
            raise doc.error(fld, "a pattern matches file names in the job directory, no '/'")
        target = target.strip()
        if target.startswith("/"):
            where = target.rstrip("/") or "/"
        elif target in {"", "."}:
            where = base
        else:
            where = f"{base.rstrip('/')}/{target.strip('/')}"
        rules.append(OutputRule(pattern, where))
    return tuple(rules)


def _meta(doc: Doc) -> dict[str, Scalar]:
    table = doc.get(("outputs", "meta"), {})
    if not isinstance(table, dict):
        raise doc.error(("outputs", "meta"), "expected a table of field = value")
    return {key: doc.scalar(("outputs", "meta", key)) for key in table}


def _backend(doc: Doc) -> Backend:
    value = doc.get(("backend",))
    if value is MISSING:
        return Backend()
    if isinstance(value, str):
        return Backend(type=_backend_type(doc, ("backend",), value))
    doc.table(("backend",), {"type", "partition", "account", "max_running", "options"})
    kind = _backend_type(doc, ("backend", "type"), doc.string(("backend", "type")) or "local")
    return Backend(
        type=kind,
        partition=doc.string(("backend", "partition")),
        account=doc.string(("backend", "account")),
        max_running=doc.integer(("backend", "max_running"), minimum=1),
        options=doc.strings(("backend", "options")),
    )


def _backend_type(doc: Doc, fld: FieldPath, kind: str) -> str:
    if kind not in {"local", "slurm"}:
        raise doc.error(fld, f"unknown backend {kind!r}; use local or slurm")
    return kind


def _resources(doc: Doc) -> Resources:
    doc.table(("resources",), {"cores", "memory", "wall_time"})
    memory = doc.get(("resources", "memory"))
    wall = doc.get(("resources", "wall_time"))
    return Resources(
        cores=doc.integer(("resources", "cores"), minimum=1, default=1) or 1,
        memory_mb=None if memory is MISSING else _memory(doc, memory),
        wall_time=None if wall is MISSING else _duration(doc, wall),
    )


_UNITS = {"": 1, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}


def _memory(doc: Doc, value: Any) -> int:
    fld = ("resources", "memory")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    text = str(value).strip().lower().removesuffix("b").removesuffix("i")
    found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)", text)
    if found is None or float(found.group(1)) <= 0:
        raise doc.error(fld, f"expected a size such as 512M or 2G (MiB if a number), got {value!r}")
    return max(1, round(float(found.group(1)) * _UNITS[found.group(2)]))


def _duration(doc: Doc, value: Any) -> int:
    fld = ("resources", "wall_time")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    text = str(value).strip().lower()
    clock = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d{1,2})(?::(\d{1,2}))?", text)
    if clock is not None:
        days, first, second, third = clock.groups()
        if third is None:  # MM:SS
            seconds = int(first) * 60 + int(second)
        else:
            seconds = int(first) * 3600 + int(second) * 60 + int(third)
        seconds += int(days or 0) * 86400
    else:
        units = re.fullmatch(r"(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?", text)
        if units is None or not any(units.groups()):
            raise doc.error(fld, f"expected a duration such as 1h30m or 01:30:00, got {value!r}")
        d, h, m, s = (int(g or 0) for g in units.groups())
        seconds = ((d * 24 + h) * 60 + m) * 60 + s
    if seconds <= 0:
        raise doc.error(fld, f"must be positive, got {value!r}")
    return seconds


def _check_vars(doc: Doc, spec: TaskSpec) -> None:
    """Every ``$(name)`` must be a variable the splitter defines."""
    known = set(COMMON_VARS)
    if spec.splitter.mode == "events":
        known |= EVENT_VARS | set(spec.splitter.vars)
    elif spec.splitter.mode == "jobvars":
        known |= {v.name for v in spec.splitter.jobvars}
    places: list[tuple[FieldPath, str]] = [
        (("arguments", i), a) for i, a in enumerate(spec.arguments)
    ]
    places += [(("environment", k), v) for k, v in spec.environment.items()]
    places += [
        (("outputs", "meta", k), v) for k, v in spec.outputs.meta.items() if isinstance(v, str)
    ]
    files = doc.get(("outputs", "files"), {})
    if isinstance(files, dict):
        places += [(("outputs", "files", k), v) for k, v in files.items()]
    for index, rule in enumerate(spec.outputs.rules):
        places.append((("outputs", "files", index), rule.pattern))
    places.append((("outputs", "dir"), spec.outputs.dir))
    for fld, text in places:
        for name in template.names(text):
            if name not in known:
                hint = ", ".join(f"$({n})" for n in sorted(known))
                raise doc.error(fld, f"unknown variable $({name}); known: {hint}")
