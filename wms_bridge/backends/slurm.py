"""The ``slurm`` backend: job arrays through ``sbatch``, ``squeue``, ``sacct``, ``scancel``.

Jobs go out as job arrays of at most :data:`ARRAY_CHUNK` tasks; the array's
batch script maps ``$SLURM_ARRAY_TASK_ID`` to the job's index (so that any
subset, e.g. the failed jobs of a resubmission, is one array) and runs the job
wrapper. A job's backend id is ``<array job id>_<array task id>``.

The view of the jobs comes from ``squeue`` (live, including jobs finished
within ``MinJobAge``) and ``sacct`` (accounting: finished jobs and their exit
codes); without accounting, ``scontrol show job`` stands in. The client
commands find the cluster as usual (``SLURM_CONF`` or the default).
"""

from __future__ import annotations

import math
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from wms_bridge.backends import python_path
from wms_bridge.errors import BackendError, BackendUnavailable
from wms_bridge.reconcile import BackendView

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from wms_bridge.config import JobSettings
    from wms_bridge.db import JobRow, TaskRow

__all__ = ["ARRAY_CHUNK", "SlurmBackend", "parse_ids", "slurm_time"]

ARRAY_CHUNK = 1000
TIMEOUT = 120

_QUEUED = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD"}
_RUNNING = {"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"}

SCRIPT = """\
#!/bin/bash
# dfc-job: task {task_id} ({name}), {count} jobs
MAP=({indices})
IDX=${{MAP[$SLURM_ARRAY_TASK_ID]}}
export PYTHONPATH={pythonpath}${{PYTHONPATH:+:$PYTHONPATH}}
exec {python} -m wms_bridge.wrapper "{jobs_dir}/$(printf %05d "$IDX")/job.json"
"""


def slurm_time(seconds: int) -> str:
    """A wall time for ``--time``: whole minutes, at least one, as ``D-HH:MM:00``."""
    minutes = max(1, math.ceil(seconds / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    return f"{days}-{hours:02d}:{mins:02d}:00"


def parse_ids(text: str) -> list[str]:
    """Expand Slurm's compressed array ids: ``12_[0-2,5%2]`` -> ``12_0 12_1 12_2 12_5``."""
    found = re.fullmatch(r"(\d+)_\[([^\]]+)\]", text.strip())
    if found is None:
        return [text.strip()]
    base, spec = found.groups()
    out: list[str] = []
    for part in spec.split("%", 1)[0].split(","):
        bounds = part.split("-", 1)
        try:
            low = int(bounds[0])
            high = int(bounds[1].split(":", 1)[0]) if len(bounds) == 2 else low
        except ValueError:
            continue
        out.extend(f"{base}_{i}" for i in range(low, high + 1))
    return out


def _exit_code(text: str) -> int | None:
    """``3:0`` -> 3; ``0:15`` (killed by signal 15) -> 128 + 15."""
    found = re.fullmatch(r"(\d+):(\d+)", text.strip())
    if found is None:
        return None
    code, sig = int(found.group(1)), int(found.group(2))
    return 128 + sig if sig and not code else code


def _view(state: str, exit_code: int | None = None) -> BackendView:
    word = state.split()[0].upper() if state.strip() else "UNKNOWN"
    if word in _QUEUED:
        return BackendView("queued", detail=word)
    if word in _RUNNING:
        return BackendView("running", detail=word)
    return BackendView("finished", exit_code, word)


class SlurmBackend:
    """Jobs on a Slurm cluster."""

    name = "slurm"

    def __init__(self, settings: JobSettings) -> None:
        self.settings = settings

    # ------------------------------------------------------------------ commands
    def _run(self, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        exe = shutil.which(argv[0])
        if exe is None:
            raise BackendUnavailable(f"{argv[0]} not found: is Slurm installed on this host?")
        try:
            proc = subprocess.run(
                [exe, *argv[1:]], capture_output=True, text=True, check=False, timeout=TIMEOUT
            )
        except subprocess.TimeoutExpired:
            raise BackendUnavailable(f"{argv[0]} did not answer within {TIMEOUT} s") from None
        except OSError as exc:
            raise BackendUnavailable(f"cannot run {argv[0]}: {exc}") from None
        if check and proc.returncode != 0:
            message = (proc.stderr or proc.stdout).strip().splitlines()
            why = message[-1] if message else f"exit status {proc.returncode}"
            cls = BackendUnavailable if "connect" in why.lower() else BackendError
            raise cls(f"{argv[0]} failed: {why}")
        return proc

    # ------------------------------------------------------------------ submit
    def submit(self, task: TaskRow, jobs: Sequence[JobRow]) -> dict[int, str]:
        """Submit ``jobs`` as job arrays of at most :data:`ARRAY_CHUNK`.

        Raises:
            BackendError: ``sbatch`` refused (nothing of that chunk was submitted).
        """
        out: dict[int, str] = {}
        indices = [j.idx for j in jobs]
        slurm_dir = Path(task.task_dir) / "slurm"
        slurm_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for start in range(0, len(indices), ARRAY_CHUNK):
            chunk = indices[start : start + ARRAY_CHUNK]
            script = slurm_dir / f"submit-{stamp}-{start // ARRAY_CHUNK}.sh"
            script.write_text(self._script(task, chunk), encoding="utf-8")
            script.chmod(0o700)
            proc = self._run(
                ["sbatch", "--parsable", *self._options(task, len(chunk)), str(script)]
            )
            array_id = proc.stdout.strip().split(";", 1)[0]
            if not array_id.isdigit():
                raise BackendError(f"sbatch answered {proc.stdout.strip()!r}, not a job id")
            out.update({idx: f"{array_id}_{k}" for k, idx in enumerate(chunk)})
        return out

    def _script(self, task: TaskRow, chunk: Sequence[int]) -> str:
        return SCRIPT.format(
            task_id=task.id,
            name=task.name,
            count=len(chunk),
            indices=" ".join(str(i) for i in chunk),
            pythonpath=shlex.quote(python_path()),
            python=shlex.quote(sys.executable),
            jobs_dir=str(Path(task.task_dir) / "jobs").replace('"', '\\"'),
        )

    def _options(self, task: TaskRow, count: int) -> list[str]:
        spec = task.spec
        backend = spec.get("backend", {})
        resources = spec.get("resources", {})
        array = f"0-{count - 1}"
        if backend.get("max_running"):
            array += f"%{backend['max_running']}"
        opts = [
            f"--array={array}",
            f"--job-name=dfc.{task.id}.{task.name}",
            f"--output={Path(task.task_dir) / 'slurm' / '%A_%a.out'}",
            f"--chdir={task.task_dir}",
            "--ntasks=1",
            f"--cpus-per-task={int(resources.get('cores') or 1)}",
        ]
        if resources.get("memory_mb"):
            opts.append(f"--mem={int(resources['memory_mb'])}M")
        if resources.get("wall_time"):
            opts.append(f"--time={slurm_time(int(resources['wall_time']))}")
        if backend.get("partition"):
            opts.append(f"--partition={backend['partition']}")
        if backend.get("account"):
            opts.append(f"--account={backend['account']}")
        opts.extend(backend.get("options") or ())
        return opts

    # ------------------------------------------------------------------ poll
    def poll(self, task: TaskRow, jobs: Sequence[JobRow]) -> Mapping[int, BackendView]:
        """Ask ``squeue``, then ``sacct`` (or ``scontrol``) for jobs ``squeue`` no longer shows.

        Raises:
            BackendError: the commands fail.
        """
        by_id = {j.backend_id: j.idx for j in jobs if j.backend_id}
        if not by_id:
            return {}
        arrays = sorted({bid.split("_", 1)[0] for bid in by_id})
        seen = self._squeue(arrays)
        missing = [a for a in arrays if not any(b.startswith(f"{a}_") for b in seen)]
        finished = [b for b, v in seen.items() if v.state == "finished"]
        ask = sorted(set(missing) | {b.split("_", 1)[0] for b in finished})
        if ask:
            seen.update(self._accounting(ask, set(seen)))
        return {idx: seen[bid] for bid, idx in by_id.items() if bid in seen}

    def _squeue(self, arrays: Iterable[str]) -> dict[str, BackendView]:
        out: dict[str, BackendView] = {}
        for array in arrays:
            proc = self._run(
                ["squeue", "-h", "-r", "-t", "all", "-o", "%i|%T", "-j", array], check=False
            )
            if proc.returncode != 0:
                if "invalid job id" in proc.stderr.lower():
                    continue  # purged from the controller: ask the accounting
                raise BackendUnavailable(f"squeue failed: {proc.stderr.strip()}")
            for line in proc.stdout.splitlines():
                if "|" in line:
                    ident, state = line.split("|", 1)
                    for one in parse_ids(ident):
                        out[one] = _view(state)
        return out

    def _accounting(self, arrays: list[str], live: set[str]) -> dict[str, BackendView]:
        proc = self._run(
            ["sacct", "-n", "-P", "-X", "-o", "JobID,State,ExitCode", "-j", ",".join(arrays)],
            check=False,
        )
        if proc.returncode != 0:
            return self._scontrol(arrays)
        out: dict[str, BackendView] = {}
        for line in proc.stdout.splitlines():
            parts = line.split("|")
            if len(parts) < 3:
                continue
            for one in parse_ids(parts[0]):
                view = _view(parts[1], _exit_code(parts[2]))
                if one not in live or view.state == "finished":
                    out[one] = view
        return out

    def _scontrol(self, arrays: list[str]) -> dict[str, BackendView]:
        out: dict[str, BackendView] = {}
        for array in arrays:
            proc = self._run(["scontrol", "-o", "show", "job", array], check=False)
            for line in proc.stdout.splitlines():
                fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
                task_id = fields.get("ArrayTaskId")
                if not task_id:
                    continue
                for one in parse_ids(f"{array}_[{task_id}]"):
                    out[one] = _view(
                        fields.get("JobState", ""), _exit_code(fields.get("ExitCode", ""))
                    )
        return out

    # ------------------------------------------------------------------ cancel
    def cancel(self, task: TaskRow, jobs: Sequence[JobRow]) -> None:
        """``scancel`` the jobs (finished ones are ignored by Slurm).

        Raises:
            BackendError: ``scancel`` failed.
        """
        ids = [j.backend_id for j in jobs if j.backend_id]
        for start in range(0, len(ids), 500):
            proc = self._run(["scancel", *ids[start : start + 500]], check=False)
            if proc.returncode != 0 and "invalid job id" not in proc.stderr.lower():
                raise BackendError(f"scancel failed: {proc.stderr.strip()}")
