"""Tasks on a real single-node Slurm (slurmctld, slurmd, slurmdbd, munge, MariaDB)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.wms_bridge import scenarios
from wms_bridge.backends.slurm import parse_ids, slurm_time

if TYPE_CHECKING:
    from tests.servers.slurm import SlurmCluster
    from tests.wms_bridge.conftest import Grid, JobCLI


def test_end_to_end(grid: Grid, job_cli: JobCLI, slurm_env: SlurmCluster) -> None:
    status = scenarios.run_end_to_end(grid, job_cli, "slurm")
    # One job array for the task, another for the resubmitted job.
    ids = {j["idx"]: j["backend_id"].split("_") for j in status["job_list"]}
    first = {ids[i][0] for i in ids if i != 7}
    assert len(first) == 1
    assert ids[7][0] not in first
    assert [ids[i][1] for i in sorted(ids) if i != 7] == [
        "0",
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "8",
        "9",
    ]


def test_kill_cancels_running_and_pending_jobs(
    grid: Grid, job_cli: JobCLI, slurm_env: SlurmCluster
) -> None:
    def stopped(ids: list[str]) -> bool:
        out = slurm_env.run("squeue", "-h", "-r", "-o", "%i", "-t", "PD,R,CG").stdout.split()
        return not set(ids) & set(out)

    scenarios.run_kill(grid, job_cli, "slurm", stopped)


def test_proxy_is_delegated_with_the_job(
    grid: Grid, job_cli: JobCLI, slurm_env: SlurmCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenarios.run_proxy(grid, job_cli, "slurm", monkeypatch)


def test_sbatch_options_from_resources(
    grid: Grid, job_cli: JobCLI, slurm_env: SlurmCluster
) -> None:
    path = grid.write(
        "res.toml",
        'name = "res"\nexecutable = "true"\n[splitter]\nnjobs = 2\n'
        '[backend]\ntype = "slurm"\npartition = "debug"\nmax_running = 1\n'
        '[resources]\ncores = 1\nmemory = "100M"\nwall_time = "0:02:30"\n',
    )
    task = job_cli.ok("submit", path, "--json").json()
    scenarios.wait_task(grid, task["id"])
    status = job_cli.ok("status", str(task["id"]), "--jobs", "--json").json()
    assert status["jobs"] == {"done": 2}
    array = status["job_list"][0]["backend_id"].split("_")[0]
    shown = slurm_env.run("scontrol", "-o", "show", "job", f"{array}_0").stdout
    assert "TimeLimit=00:03:00" in shown
    assert "Partition=debug" in shown
    assert "ArrayTaskThrottle=1" in shown
    assert "MinMemoryNode=100M" in shown


def test_sbatch_refusal_keeps_jobs_created(
    grid: Grid, job_cli: JobCLI, slurm_env: SlurmCluster
) -> None:
    path = grid.write(
        "refused.toml",
        'name = "refused"\nexecutable = "true"\n'
        '[backend]\ntype = "slurm"\npartition = "no-such-partition"\n',
    )
    run = job_cli("submit", path)
    assert run.code != 0
    assert "sbatch failed" in run.err
    status = job_cli.ok("status", "refused", "--jobs", "--json").json()
    assert status["jobs"] == {"created": 1}
    assert "submission failed" in status["job_list"][0]["reason"]


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("12_3", ["12_3"]),
        ("12_[0-2,5]", ["12_0", "12_1", "12_2", "12_5"]),
        ("7_[4-6%2]", ["7_4", "7_5", "7_6"]),
        ("99", ["99"]),
    ],
)
def test_parse_ids(text: str, ids: list[str]) -> None:
    assert parse_ids(text) == ids


def test_slurm_time() -> None:
    assert slurm_time(1) == "0-00:01:00"
    assert slurm_time(5400) == "0-01:30:00"
    assert slurm_time(2 * 86400 + 61) == "2-00:02:00"


def test_without_slurm_commands_the_error_is_clear(
    grid: Grid, job_cli: JobCLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    path = grid.write("noslurm.toml", 'name = "n"\nexecutable = "true"\nbackend = "slurm"\n')
    run = job_cli("submit", path)
    assert run.code == 11  # EAGAIN: BackendUnavailable
    assert "sbatch not found" in run.err
