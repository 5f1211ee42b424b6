"""End-to-end scenarios run on every backend (local and Slurm)."""

from __future__ import annotations

import os
import posixpath
import stat
from typing import TYPE_CHECKING, Any

from tests.wms_bridge.conftest import DATASET, adler, task_file, wait_until

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import pytest

    from tests.wms_bridge.conftest import Grid, JobCLI

OUT_DIR = "/juno/user/a/alice/e2e"
TIMEOUT = 240.0


def e2e_task(grid: Grid, backend: str) -> Path:
    """40 inputs from a dataset, 10 jobs of 4 files, two outputs each; job 7 fails once.

    The primary output SE is down: every output must land on the failover SE.
    """
    marker = grid.root / "job7-failed-once"
    return task_file(
        grid,
        f"e2e-{backend}",
        f"""\
script = "job.py"
arguments = ["$(job)", "$(inputs)"]
environment = {{ FAIL_ONCE = "{marker}", FAIL_JOB = "7" }}

[inputs]
dataset = "{DATASET}"

[splitter]
mode = "files_per_job"
files_per_job = 4

[outputs]
dir = "{OUT_DIR}/{backend}"
files = ["sum-*.txt", "copy-*.dat"]
se = "DOWN"
failover_se = ["OUT"]
meta = {{ jobId = "$(job)", campaign = "e2e" }}

[backend]
type = "{backend}"
""",
    )


def expected_outputs(grid: Grid, job: int, inputs: list[str]) -> dict[str, bytes]:
    """The bytes job.py writes for ``inputs``."""
    data = b"".join(grid.inputs[lfn] for lfn in inputs)
    summary = f"job {job} files {len(inputs)} bytes {len(data)} adler {adler(data)}\n"
    return {f"sum-{job}.txt": summary.encode(), f"copy-{job}.dat": data[::-1]}


def wait_task(grid: Grid, task: int | str) -> None:
    with grid.jobs() as jobs:
        jobs.wait(task, timeout=TIMEOUT)


def run_end_to_end(grid: Grid, job_cli: JobCLI, backend: str) -> dict[str, Any]:
    """Submit, see job 7 fail, resubmit it, then check every output in the catalogue.

    Returns the final ``status --jobs --json``.
    """
    grid.add_inputs()
    run = job_cli.ok("submit", e2e_task(grid, backend), "--json")
    task = run.json()["id"]
    assert run.json()["jobs"] == 10
    wait_task(grid, task)

    status = job_cli.ok("status", str(task), "--jobs", "--json").json()
    assert status["jobs"] == {"done": 9, "failed": 1}, status
    failed = next(j for j in status["job_list"] if j["state"] == "failed")
    assert (failed["idx"], failed["exit_code"], failed["phase"]) == (7, 3, "run")
    assert "exited with status 3" in failed["reason"]
    assert "failing on purpose" in job_cli.ok("logs", str(task), "7").out

    assert job_cli.ok("resubmit", str(task), "--failed").out.strip() == "resubmitted 1 jobs: 7"
    wait_task(grid, task)
    status = job_cli.ok("status", f"e2e-{backend}", "--jobs", "--json").json()
    assert status["jobs"] == {"done": 10}, status
    assert status["state"] == "done"
    jobs = {j["idx"]: j for j in status["job_list"]}
    assert jobs[7]["attempt"] == 2
    assert sorted(x for j in jobs.values() for x in j["inputs"]) == sorted(grid.inputs)
    assert all(len(j["inputs"]) == 4 for j in jobs.values())

    outputs = job_cli.ok("outputs", str(task), "--json").json()
    assert len(outputs) == 20
    assert {o["se"] for o in outputs} == {"OUT"}
    for job in jobs.values():
        check_job_outputs(grid, job["idx"], job["inputs"], backend)
    assert "done" in job_cli.ok("list").out
    return status  # type: ignore[no-any-return]


def check_job_outputs(grid: Grid, job: int, inputs: list[str], backend: str) -> None:
    """Each output: registered with the right checksum, metadata and ancestry."""
    for name, data in expected_outputs(grid, job, inputs).items():
        lfn = posixpath.join(OUT_DIR, backend, name)
        entry = grid.dfc.stat([lfn]).succeeded[lfn]
        assert (entry.size, entry.adler32) == (len(data), adler(data)), lfn
        assert entry.xxh3
        assert [r.se for r in entry.replicas] == ["OUT"]
        meta = grid.dfc.meta_get(lfn)
        assert (meta["jobId"].value, meta["campaign"].value) == (job, "e2e")
        ancestors = grid.dfc.ancestors([lfn]).succeeded[lfn]
        assert sorted(ancestors) == sorted(inputs), lfn


def kill_task(grid: Grid, backend: str, njobs: int) -> Path:
    """Jobs that wait for a file that never comes."""
    go = grid.root / "go"
    return task_file(
        grid,
        f"wait-{backend}",
        f"""\
script = "wait.py"
arguments = ["{go}", "$(job)"]

[splitter]
mode = "events"
njobs = {njobs}

[outputs]
dir = "{OUT_DIR}/wait-{backend}"
files = ["done-*.txt"]
se = "OUT"

[backend]
type = "{backend}"
""",
    )


def run_kill(
    grid: Grid, job_cli: JobCLI, backend: str, stopped: Callable[[list[str]], bool]
) -> None:
    """``kill`` stops running and queued jobs; ``resubmit`` brings them back."""
    task = job_cli.ok("submit", kill_task(grid, backend, 3), "--json").json()["id"]

    def running() -> list[dict[str, object]]:
        status = job_cli.ok("status", str(task), "--jobs", "--json").json()
        return [j for j in status["job_list"] if j["state"] == "running"]

    wait_until(lambda: len(running()) == 2, what="two running jobs")
    ids = [str(j["backend_id"]) for j in running()]
    assert job_cli.ok("kill", str(task)).out.strip() == "killed 3 jobs: 0-2"
    wait_until(lambda: stopped(ids), timeout=60, what="the killed jobs to stop")
    status = job_cli.ok("status", str(task), "--jobs", "--json").json()
    assert status["jobs"] == {"killed": 3}, status
    assert {j["reason"] for j in status["job_list"]} == {"killed by the user"}
    assert job_cli.ok("kill", str(task)).out.strip() == "killed 0 jobs"

    (grid.root / "go").touch()
    assert job_cli.ok("resubmit", str(task)).out.strip() == "resubmitted 3 jobs: 0-2"
    wait_task(grid, task)
    status = job_cli.ok("status", str(task), "--json").json()
    assert status["jobs"] == {"done": 3}, status


def run_proxy(grid: Grid, job_cli: JobCLI, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's proxy goes with the job: ``X509_USER_PROXY`` names a private copy."""
    proxy = grid.write("x509up", "-----BEGIN CERTIFICATE-----\nfake proxy\n")
    monkeypatch.setenv("X509_USER_PROXY", str(proxy))
    out_dir = f"{OUT_DIR}/proxy-{backend}"
    path = grid.write(
        "proxy.toml",
        f'name = "proxy"\nexecutable = "sh"\nbackend = "{backend}"\n'
        'arguments = ["-c", "cat \\"$X509_USER_PROXY\\" > proxy.txt; '
        'stat -c %a \\"$X509_USER_PROXY\\" > mode.txt"]\n'
        f'[outputs]\ndir = "{out_dir}"\nfiles = ["*.txt"]\nse = "OUT"\n',
    )
    task = job_cli.ok("submit", path, "--json").json()
    wait_task(grid, task["id"])
    assert job_cli.ok("status", str(task["id"]), "--json").json()["jobs"] == {"done": 1}
    got = grid.root / "got"
    got.mkdir()
    grid.dfc.get([f"{out_dir}/proxy.txt", f"{out_dir}/mode.txt"], got).raise_first()
    assert (got / "proxy.txt").read_text() == proxy.read_text()
    assert (got / "mode.txt").read_text().strip() == "600"
    copy = os.path.join(task["task_dir"], "proxy.pem")
    assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600
