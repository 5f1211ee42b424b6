"""Fixtures for wms_bridge: a dfc grid with input data, and ``dfc-job`` run in-process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dfc import DFC, Settings
from wms_bridge.backends.local import process_alive, runner_pid, stop_group
from wms_bridge.config import JobSettings
from wms_bridge.control import Jobs

if TYPE_CHECKING:
    from collections.abc import Iterator

INPUT_DIR = "/juno/production/test/e2e/detsim"
DATASET = "/juno/production/test/e2e/ds-detsim"
N_INPUTS = 40

#: The user's program in the end-to-end tasks: reads its inputs, writes two outputs.
#: With $FAIL_ONCE set, job $FAIL_JOB fails (exit 3) the first time it runs.
JOB_PY = """\
import os, sys, zlib
job = sys.argv[1]
inputs = sys.argv[2:]
marker = os.environ.get("FAIL_ONCE", "")
if marker and job == os.environ.get("FAIL_JOB") and not os.path.exists(marker):
    open(marker, "w").close()
    print("failing on purpose", file=sys.stderr)
    sys.exit(3)
data = b"".join(open(p, "rb").read() for p in inputs)
with open(f"sum-{job}.txt", "w") as out:
    out.write(f"job {job} files {len(inputs)} bytes {len(data)} adler {zlib.adler32(data):08x}\\n")
with open(f"copy-{job}.dat", "wb") as out:
    out.write(data[::-1])
"""

#: A program that waits until a file appears (or 120 s), for kill and restart tests.
WAIT_PY = """\
import os, sys, time
go = sys.argv[1]
deadline = time.time() + 120
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.1)
open("done-" + sys.argv[2] + ".txt", "w").write("ok\\n")
"""


def adler(data: bytes) -> str:
    return f"{zlib.adler32(data) & 0xFFFFFFFF:08x}"


@dataclass
class Run:
    """The outcome of one ``dfc-job`` invocation."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class JobCLI:
    """Runs ``dfc-job`` in-process, the way a user types it."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def __call__(self, *args: str | os.PathLike[str]) -> Run:
        from wms_bridge.cli import main

        self._capsys.readouterr()
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:
            code = 0
        out, err = self._capsys.readouterr()
        return Run(code, out, err)

    def ok(self, *args: str | os.PathLike[str]) -> Run:
        run = self(*args)
        assert run.code == 0, f"dfc-job {' '.join(map(str, args))} -> {run.code}\n{run.err}"
        return run


class Grid:
    """A dfc home with SEs and 40 registered input files (directory and dataset).

    SEs: IN1 and IN2 hold the inputs (IN2 a replica of every file), OUT and SPARE
    take outputs, DOWN is registered but its disk is gone (an SE that is down).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.se_dirs = {n: root / "se" / n.lower() for n in ("IN1", "IN2", "OUT", "SPARE", "DOWN")}
        self.local = root / "local"
        self.local.mkdir()
        self.dfc = DFC(Settings.load())
        self.dfc.init()
        for name, path in self.se_dirs.items():
            self.dfc.se_add(name, f"file://{path}")
        # The disk of DOWN is unmounted: the SE answers "unavailable".
        self.se_dirs["DOWN"].rmdir()
        self.inputs: dict[str, bytes] = {}

    def add_inputs(self, count: int = N_INPUTS) -> list[str]:
        files = []
        for i in range(count):
            data = f"detsim event data {i:04d} ".encode() * (20 + i)
            path = self.local / f"detsim-{i:05d}.root"
            path.write_bytes(data)
            files.append(path)
            self.inputs[f"{INPUT_DIR}/{path.name}"] = data
        self.dfc.put(files, INPUT_DIR + "/", se="IN1").raise_first()
        self.dfc.replicate(list(self.inputs), "IN2").raise_first()
        self.dfc.meta_index("e2eTag", "string", level="dir")
        self.dfc.meta_set([(INPUT_DIR, {"e2eTag": "detsim"})]).raise_first()
        self.dfc.dataset_add(DATASET, f"{INPUT_DIR} e2eTag=detsim")
        return list(self.inputs)

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text)
        return path

    def se_files(self, name: str) -> list[Path]:
        base = self.se_dirs[name]
        return sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []

    def jobs(self) -> Jobs:
        return Jobs(self.dfc)


@pytest.fixture
def job_cli(capsys: pytest.CaptureFixture[str]) -> JobCLI:
    return JobCLI(capsys)


@pytest.fixture
def grid(tmp_path: Path, dfc_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Grid]:
    monkeypatch.setenv("DFC_JOB_RUNNER_IDLE", "2")
    monkeypatch.setenv("DFC_JOB_SLOTS", "2")
    for var in ("X509_USER_PROXY", "DFC_JOB_DIR", "DFC_JOB_DB"):
        monkeypatch.delenv(var, raising=False)
    g = Grid(tmp_path)
    try:
        yield g
    finally:
        settings = JobSettings.load(g.dfc.settings)
        _stop_local_jobs(settings)
        g.dfc.close()


def _stop_local_jobs(settings: JobSettings) -> None:
    """Stop the runner this test started, and the job processes it left running."""
    from wms_bridge.db import ACTIVE, JobDB

    db = JobDB(settings.db_url) if (settings.jobs_dir / "jobs.db").exists() else None
    try:
        left = db.active("local") if db is not None else []
        if db is not None:
            for job in left:  # so that the runner starts nothing more
                db.update_job(job.task_id, job.idx, expect=ACTIVE, state="killed")
        pid = runner_pid(settings)
        deadline = time.monotonic() + 15
        while pid is not None and time.monotonic() < deadline:
            if pid > 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            time.sleep(0.05)
            pid = runner_pid(settings)
        assert pid is None, "the local runner did not stop"
        for job in left:
            if process_alive(job.backend_id):
                stop_group(job.backend_id, grace=2.0)
    finally:
        if db is not None:
            db.close()


def task_file(grid: Grid, name: str, body: str) -> Path:
    """Write a task file whose program is this Python running ``job.py`` or ``wait.py``."""
    grid.write("job.py", JOB_PY)
    grid.write("wait.py", WAIT_PY)
    return grid.write(f"{name}.toml", f'name = "{name}"\nexecutable = "{sys.executable}"\n' + body)


def wait_until(predicate: Any, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
