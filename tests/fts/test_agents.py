"""Real agent processes: kill -9 mid-job and restart; one agent per SQLite queue;
two agents sharing a real PostgreSQL, one of them killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.fts.conftest import Grid, environ, temp_leftovers

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.conftest import CLI

AGENT = str(Path(__file__).with_name("_agent.py"))
CONFIG = """
[transfers]
concurrency = 4
heartbeat = 0.3
agent_grace = 2.0
retry_delay = 0.05
optimizer_interval = 0.5
"""


class Agents:
    """Starts ``dfc`` agent processes and makes sure none outlives the test."""

    def __init__(self, grid: Grid, log: Path) -> None:
        self.grid = grid
        self.log = log
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, *args: str, delay: float = 0.0) -> subprocess.Popen[str]:
        env = environ(self.grid)
        env["DFC_TEST_COPY_DELAY"] = str(delay)
        env["DFC_TEST_COPY_LOG"] = str(self.log)
        proc = subprocess.Popen(
            [sys.executable, AGENT, "fts", "agent", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        return proc

    def copies(self) -> Counter[str]:
        if not self.log.exists():
            return Counter()
        return Counter(line.split(" ", 1)[1] for line in self.log.read_text().splitlines())

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[Callable[[Grid], Agents]]:
    made: list[Agents] = []

    def make(grid: Grid) -> Agents:
        made.append(Agents(grid, tmp_path / "copies.log"))
        return made[-1]

    yield make
    for a in made:
        a.close()


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def check_job_complete(grid: Grid, job_id: int, lfns: list[str]) -> None:
    """No file lost, copied twice, left unregistered, registered unverified or left as a temp."""
    job = grid.job(job_id)
    assert job.state == "FINISHED", job
    assert job.counts.finished == len(lfns) and job.counts.active == 0
    assert all(ses == {"A", "B"} for ses in grid.replicas(lfns).values())
    assert grid.on_disk("B") == grid.on_disk("A"), "every copy is byte-exact, none missing"
    assert temp_leftovers(grid.dirs["B"]) == []


def test_kill_9_mid_job_then_restart(tmp_path: Path, agents: Callable[[Grid], Agents]) -> None:
    grid = Grid(tmp_path / "home", config=CONFIG)
    grid.se("A", "S1")
    grid.se("B", "S2")
    lfns = grid.files(120, size=20_000)
    job = grid.submit(lfns, "B")
    run = agents(grid)
    first = run.start(delay=0.05)
    wait_for(lambda: grid.job(job.id).counts.finished >= 20, "20 files finished")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    mid = grid.job(job.id)
    assert mid.counts.active > 0 and mid.counts.finished < 120, "killed in the middle"
    before = {
        f.lfn: (grid.dirs["B"] / f.lfn.lstrip("/")).stat().st_ino
        for f in grid.job_files(job.id)
        if f.state == "FINISHED"
    }
    in_flight = {f.lfn for f in grid.job_files(job.id) if f.state == "ACTIVE"}

    second = run.start("--once")
    _out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "taken over" in err
    check_job_complete(grid, job.id, lfns)
    for lfn, inode in before.items():
        assert (grid.dirs["B"] / lfn.lstrip("/")).stat().st_ino == inode, "finished: untouched"
    copies = run.copies()
    for lfn in lfns:
        final = str(grid.dirs["B"]) + lfn
        assert copies[final] <= 1 or lfn in in_flight, f"{lfn} copied {copies[final]} times"
    taken = [a for f in grid.job_files(job.id) for a in f.attempts if a.kind == "AgentLost"]
    assert {a.agent for a in taken} == {1}
    grid.close()


def test_one_agent_per_sqlite_queue(
    tmp_path: Path, agents: Callable[[Grid], Agents], cli: CLI
) -> None:
    grid = Grid(tmp_path / "home", config=CONFIG)
    grid.se("A", "S1")
    grid.se("B", "S2")
    lfns = grid.files(10, size=1000)
    run = agents(grid)
    daemon = run.start()
    wait_for(lambda: bool(grid.api.catalog and _running(grid)), "the agent to start")
    busy = cli("fts", "agent", "--once")
    assert busy.code == 16, busy.err
    assert "SQLite allows one agent at a time" in busy.err and busy.err.count("\n") == 1
    # A foreground replicate follows the job the running agent works.
    done = cli.ok("replicate", *lfns, "--to", "B")
    assert done.out.count("A -> B") == 10
    assert grid.on_disk("B") == grid.on_disk("A")
    daemon.send_signal(signal.SIGTERM)
    _out, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    assert "transfer agent stopped: 10 copied" in err
    with grid.queue() as q:
        assert [a.state for a in q.agents()] == ["stopped"]
    grid.close()


def _running(grid: Grid) -> bool:
    with grid.queue() as q:
        return any(a.state == "running" for a in q.agents())


@pytest.mark.postgres
def test_two_agents_on_postgresql_one_killed(
    tmp_path: Path, postgres_url: str, agents: Callable[[Grid], Agents]
) -> None:
    grid = Grid(tmp_path / "home", catalog_url=postgres_url, config=CONFIG)
    grid.se("A", "S1")
    grid.se("B", "S2")
    lfns = grid.files(150, size=10_000)
    job = grid.submit(lfns, "B")
    run = agents(grid)
    a = run.start(delay=0.04)
    b = run.start("--once", delay=0.04)

    def both_busy() -> bool:
        holders = {f.agent for f in grid.job_files(job.id) if f.state == "ACTIVE"}
        return len(holders - {None}) == 2

    wait_for(both_busy, "both agents holding files")
    wait_for(lambda: grid.job(job.id).counts.finished >= 30, "30 files finished")
    a.send_signal(signal.SIGKILL)
    a.wait(timeout=30)
    _out, err = b.communicate(timeout=180)
    assert b.returncode == 0, err
    check_job_complete(grid, job.id, lfns)
    copies = run.copies()
    assert max(copies.values()) == 1, "no file was copied twice"
    by_agent = Counter(line.split()[0] for line in run.log.read_text().splitlines())
    assert len(by_agent) == 2, "both agents copied files"
    with grid.queue() as q:
        states = {ag.id: ag.state for ag in q.agents()}
    assert sorted(states.values()) == ["dead", "stopped"]
    taken = {x.agent for f in grid.job_files(job.id) for x in f.attempts if x.kind == "AgentLost"}
    assert taken == {ag for ag, st in states.items() if st == "dead"}
    grid.close()


def test_ctrl_c_of_a_foreground_replicate_releases_its_files(
    tmp_path: Path, agents: Callable[[Grid], Agents]
) -> None:
    grid = Grid(tmp_path / "home", config=CONFIG)
    grid.se("A", "S1")
    grid.se("B", "S2")
    lfns = grid.files(100, size=5000)
    run = agents(grid)
    proc = subprocess.Popen(
        [sys.executable, AGENT, "replicate", "-r", "/vo/d", "--to", "B"],
        env={**environ(grid), "DFC_TEST_COPY_DELAY": "0.03", "DFC_TEST_COPY_LOG": str(run.log)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run.procs.append(proc)

    def started() -> bool:
        jobs = grid.api.fts_jobs()
        return bool(jobs) and jobs[0].counts.finished >= 10

    wait_for(started, "the copies to start")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    [job] = grid.api.fts_jobs()
    assert not job.final and job.counts.active == 0, "interrupted: its files are back in the queue"
    assert temp_leftovers(grid.dirs["B"]) == []
    second = run.start("--once")
    _out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    check_job_complete(grid, job.id, lfns)
    assert max(run.copies().values()) == 1
    grid.close()
