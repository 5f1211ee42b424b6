"""A real xrootd source server killed mid-job: files fail over to another replica,
or wait and retry until the server is back."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from dfc.fts.retry import RetryPolicy
from dfc.se import open_se
from tests.fts.conftest import Grid, payload, temp_leftovers
from tests.fts.test_engine import SlowSE

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.servers.xrootd import XRootDServer

pytestmark = pytest.mark.xrootd

#: Retries for as long as a restart takes.
PATIENT = RetryPolicy(retries=40, delay=0.2, max_delay=0.5)
CONFIG = """
[transfers]
concurrency = 2
retries = 40
retry_delay = 0.2
retry_max_delay = 0.5
"""


def _grid(tmp_path: Path, server: XRootDServer) -> Grid:
    grid = Grid(tmp_path / "home", config=CONFIG)
    grid.se("A", "S1")
    grid.se("B", "S2")
    # At the destination's site: the preferred source.
    grid.api.se_add("X", f"root://{server.host}//fts-test", site="S2")
    return grid


def _slow_x(delay: float) -> Callable[[Any, Any], Any]:
    def opener(info: Any, options: Any) -> Any:
        se = open_se(info, options)
        return SlowSE(se, delay) if info.name == "X" else se

    return opener


def _run_in_thread(grid: Grid, **kw: Any) -> threading.Thread:
    thread = threading.Thread(target=grid.run, kwargs=kw, daemon=True)
    thread.start()
    return thread


def _wait(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_source_server_killed_files_fail_over(
    tmp_path: Path, make_xrootd_server: Callable[[], XRootDServer]
) -> None:
    server = make_xrootd_server()
    grid = _grid(tmp_path, server)
    lfns = grid.files(30, size=50_000, se="X")
    grid.api.replicate(lfns, "A").raise_first()
    job = grid.submit(lfns, "B")
    engine = _run_in_thread(grid, opener=_slow_x(0.1), concurrency=2, retry=PATIENT)
    _wait(lambda: grid.job(job.id).counts.finished >= 4)
    server.stop(kill=True)
    engine.join(timeout=120)
    assert not engine.is_alive()
    done = grid.job(job.id)
    assert done.state == "FINISHED", done
    files = grid.job_files(job.id)
    sources = {f.source for f in files}
    assert sources == {"X", "A"}, "some from X before the kill, the rest from A"
    failed_over = [f for f in files if any(a.source == "X" for a in f.attempts)]
    assert failed_over and all(f.source == "A" for f in failed_over)
    assert {a.kind for f in failed_over for a in f.attempts} <= {"SEUnavailable", "SETimeout"}
    index = {lfn: i for i, lfn in enumerate(lfns)}
    on_b = grid.on_disk("B")
    assert all(on_b[lfn] == payload(index[lfn], 50_000) for lfn in lfns)
    assert temp_leftovers(grid.dirs["B"]) == []
    grid.close()


def test_source_server_killed_files_wait_and_retry(
    tmp_path: Path, make_xrootd_server: Callable[[], XRootDServer]
) -> None:
    server = make_xrootd_server()
    grid = _grid(tmp_path, server)
    lfns = grid.files(12, size=50_000, se="X")
    job = grid.submit(lfns, "B")
    engine = _run_in_thread(grid, opener=_slow_x(0.1), concurrency=2, retry=PATIENT)
    _wait(lambda: grid.job(job.id).counts.finished >= 2)
    server.stop(kill=True)
    _wait(lambda: any(f.retries for f in grid.job_files(job.id)))
    assert grid.job(job.id).state == "ACTIVE", "waiting files stay queued for a retry"
    server.start()
    engine.join(timeout=120)
    assert not engine.is_alive()
    done = grid.job(job.id)
    assert done.state == "FINISHED", done
    retried = [f for f in grid.job_files(job.id) if f.retries]
    assert retried and all(f.source == "X" for f in retried)
    assert {a.kind for f in retried for a in f.attempts} <= {"SEUnavailable", "SETimeout"}
    assert grid.on_disk("B") == {lfn: payload(i, 50_000) for i, lfn in enumerate(lfns)}
    assert temp_leftovers(grid.dirs["B"]) == []
    grid.close()
