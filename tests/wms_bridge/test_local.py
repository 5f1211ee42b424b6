"""Tasks on the ``local`` backend: the detached runner and its process pool."""

from __future__ import annotations

import errno
import os
import signal
from typing import TYPE_CHECKING

import pytest

from tests.wms_bridge import scenarios
from tests.wms_bridge.conftest import INPUT_DIR, task_file, wait_until
from wms_bridge.backends.local import process_alive, runner_pid
from wms_bridge.config import JobSettings

if TYPE_CHECKING:
    from tests.wms_bridge.conftest import Grid, JobCLI


def test_end_to_end(grid: Grid, job_cli: JobCLI) -> None:
    scenarios.run_end_to_end(grid, job_cli, "local")


def test_kill_stops_running_and_queued_jobs(grid: Grid, job_cli: JobCLI) -> None:
    def stopped(ids: list[str]) -> bool:
        return not any(process_alive(i) for i in ids)

    scenarios.run_kill(grid, job_cli, "local", stopped)


def test_jobs_survive_a_runner_restart(grid: Grid, job_cli: JobCLI) -> None:
    settings = JobSettings.load(grid.dfc.settings)
    task = job_cli.ok("submit", scenarios.kill_task(grid, "local", 4), "--json").json()["id"]

    def running() -> list[str]:
        status = job_cli.ok("status", str(task), "--jobs", "--json").json()
        return [str(j["backend_id"]) for j in status["job_list"] if j["state"] == "running"]

    wait_until(lambda: len(running()) == 2, what="two running jobs")
    ids = running()
    old = runner_pid(settings)
    assert old is not None
    assert old > 0
    os.kill(old, signal.SIGTERM)
    wait_until(lambda: runner_pid(settings) != old, timeout=30, what="the runner to stop")
    assert all(process_alive(i) for i in ids), "jobs must outlive their runner"
    # Any command that finds queued jobs and no runner starts a new one, which
    # adopts the running jobs and starts the queued ones when they finish.
    job_cli.ok("status", str(task))
    wait_until(lambda: runner_pid(settings) is not None, timeout=30, what="a new runner")
    (grid.root / "go").touch()
    scenarios.wait_task(grid, task)
    assert job_cli.ok("status", str(task), "--json").json()["jobs"] == {"done": 4}
    log = (settings.jobs_dir / "runner.log").read_text()
    assert log.count("adopted task") == 2


def test_dry_run_prints_jobs_and_submits_nothing(grid: Grid, job_cli: JobCLI) -> None:
    grid.add_inputs(6)
    path = task_file(
        grid,
        "dry",
        'script = "job.py"\narguments = ["$(job)", "$(inputs)"]\n'
        f'[inputs]\ndirectory = "{INPUT_DIR}"\n'
        '[splitter]\nfiles_per_job = 4\n[outputs]\nfiles = ["*.txt"]\n',
    )
    out = job_cli.ok("submit", path, "--dry-run").out
    assert "task dry: 2 jobs on local, 6 input files" in out
    assert "job 1: " in out
    assert "inputs/detsim-00004.root inputs/detsim-00005.root" in out
    assert "  in  /juno/production/test/e2e/detsim/detsim-00005.root" in out
    assert "  out *.txt -> /juno/user/" in out
    plan = job_cli.ok("submit", path, "--dry-run", "--json").json()
    assert [len(j["inputs"]) for j in plan["jobs"]] == [4, 2]
    assert job_cli.ok("list", "--json").json() == []


def test_bad_task_file_is_one_clear_line(grid: Grid, job_cli: JobCLI) -> None:
    path = grid.write(
        "bad.toml", 'name = "x"\nexecutable = "true"\n[splitter]\nfiles_per_job = -1\n'
    )
    run = job_cli("submit", path)
    assert run.code == errno.EINVAL
    assert run.err == f"dfc-job: {path}:4: splitter.files_per_job: must be at least 1, got -1\n"


def test_missing_inputs_are_refused_at_submission(grid: Grid, job_cli: JobCLI) -> None:
    path = task_file(grid, "missing", '[inputs]\nlfns = ["/juno/nope.root"]\n')
    run = job_cli("submit", path)
    assert run.code != 0
    assert "inputs.lfns: /juno/nope.root" in run.err
    assert job_cli.ok("list", "--json").json() == []


def test_proxy_is_delegated_with_the_job(
    grid: Grid, job_cli: JobCLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenarios.run_proxy(grid, job_cli, "local", monkeypatch)


def test_wall_time_and_missing_program(grid: Grid, job_cli: JobCLI) -> None:
    slow = task_file(
        grid,
        "slow",
        f'script = "wait.py"\narguments = ["{grid.root / "never"}", "$(job)"]\n'
        '[splitter]\nmode = "events"\n[resources]\nwall_time = 1\n',
    )
    nope = grid.write(
        "nope.toml", 'name = "nope"\nexecutable = "/nonexistent/program"\n[splitter]\nnjobs = 1\n'
    )
    slow_id = job_cli.ok("submit", slow, "--json").json()["id"]
    nope_id = job_cli.ok("submit", nope, "--json").json()["id"]
    scenarios.wait_task(grid, slow_id)
    scenarios.wait_task(grid, nope_id)
    job = job_cli.ok("status", str(slow_id), "--jobs", "--json").json()["job_list"][0]
    assert (job["state"], job["reason"]) == ("failed", "wall time exceeded (1 s)")
    job = job_cli.ok("status", str(nope_id), "--jobs", "--json").json()["job_list"][0]
    assert (job["state"], job["phase"], job["exit_code"]) == ("failed", "run", 127)
    assert "cannot run /nonexistent/program" in job["reason"]
    logs = job_cli.ok("logs", "nope", "0").out
    assert "==> wrapper:" in logs
    assert "==> stderr:" in logs
    assert job_cli("logs", "nope", "0", "--attempt", "2").code == errno.ENOENT
    assert job_cli("status", "no-such-task").code == errno.ENOENT


@pytest.mark.postgres
def test_job_state_in_postgresql(
    grid: Grid, job_cli: JobCLI, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    monkeypatch.setenv("DFC_JOB_DB", postgres_url)
    path = grid.write(
        "pg.toml",
        'name = "pg"\nexecutable = "sh"\narguments = ["-c", "echo $(job) > out-$(job).txt"]\n'
        '[splitter]\nnjobs = 2\n[outputs]\ndir = "/juno/user/a/alice/pg"\nfiles = ["*.txt"]\n'
        'se = "OUT"\n',
    )
    task = job_cli.ok("submit", path, "--json").json()["id"]
    scenarios.wait_task(grid, task)
    assert job_cli.ok("status", "pg", "--json").json()["jobs"] == {"done": 2}
    assert len(job_cli.ok("outputs", "pg", "--json").json()) == 2
    settings = JobSettings.load(grid.dfc.settings)
    assert settings.db_url == postgres_url
    assert not (settings.jobs_dir / "jobs.db").exists()
