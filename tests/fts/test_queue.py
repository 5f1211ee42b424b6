"""The queue tables on both backends: submission, claiming, settling, operator actions."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest

from dfc.catalog.queue import AttemptRecord, Settlement
from tests.fts.conftest import Grid

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def qgrid(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Grid]:
    url = None if request.param == "sqlite" else request.getfixturevalue("postgres_schema_url")
    grid = Grid(tmp_path / "home", catalog_url=url)
    grid.se("A", "S1")
    grid.se("B", "S2")
    try:
        yield grid
    finally:
        grid.close()


def test_concurrent_claims_never_share_a_file(qgrid: Grid) -> None:
    lfns = qgrid.files(300, size=10)
    job = qgrid.submit(lfns, "B")
    with qgrid.queue() as q:
        agents = [q.register_agent("h", n, time.time()) for n in (1, 2, 3)]
    got: dict[int, list[int]] = {a: [] for a in agents}

    def claimer(agent: int) -> None:
        while True:
            with qgrid.queue() as q:
                rows = q.claim(agent, 7, now=time.time())
            if not rows:
                return
            got[agent].extend(r.id for r in rows)

    threads = [threading.Thread(target=claimer, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [fid for ids in got.values() for fid in ids]
    assert len(claimed) == len(set(claimed)) == 300
    counts = qgrid.job(job.id).counts
    assert (counts.submitted, counts.active) == (0, 300)
    with qgrid.queue() as q:
        assert q.hold(agents[0], got[agents[1]]) == set(), "another agent's files are not mine"


def test_settle_transitions_counters_and_history(qgrid: Grid) -> None:
    lfns = qgrid.files(4, size=100)
    job = qgrid.submit(lfns, "B")
    now = time.time()
    with qgrid.queue() as q:
        agent = q.register_agent("h", 1, now)
        rows = q.claim(agent, 10, now=now)
        assert q.hold(agent, [r.id for r in rows]) == {r.id for r in rows}
        retry = AttemptRecord("A", "FAILED", "refused", "SEUnavailable")
        q.settle(
            agent,
            [
                Settlement(rows[0].id, job.id, 100, "FINISHED", "A", attempt=1),
                Settlement(rows[1].id, job.id, 100, "FINISHED", None, skipped=True, attempt=1),
                Settlement(
                    rows[2].id,
                    job.id,
                    100,
                    "SUBMITTED",
                    "A",
                    error="refused",
                    kind="SEUnavailable",
                    retry_at=now + 60,
                    attempts=[retry],
                    attempt=1,
                ),
                Settlement(
                    rows[3].id, job.id, 100, "FAILED", "A", error="gone", kind="PFNNotFound"
                ),
            ],
            now,
        )
        assert q.claim(agent, 10, now=now) == [], "the retry waits for its time"
        assert q.next_retry([job.id]) == pytest.approx(now + 60)
    done = qgrid.job(job.id)
    c = done.counts
    assert (c.submitted, c.active, c.finished, c.failed, c.skipped) == (1, 0, 2, 1, 1)
    assert c.bytes_done == 100 and done.state == "ACTIVE"
    files = {f.id: f for f in qgrid.job_files(job.id)}
    waiting = files[rows[2].id]
    assert waiting.state == "SUBMITTED" and waiting.retries == 1 and waiting.retry_at
    assert [(a.kind, a.source) for a in waiting.attempts] == [("SEUnavailable", "A")]
    with qgrid.queue() as q:
        later = q.claim(agent, 10, now=now + 61)
        assert [r.id for r in later] == [rows[2].id] and later[0].attempt == 2
        q.settle(agent, [Settlement(later[0].id, job.id, 100, "FINISHED", "A")], now + 62)
    assert qgrid.job(job.id).state == "FINISHEDDIRTY"
    with qgrid.queue() as q:
        assert q.retry_job(job.id, now) == 1
        assert q.cancel_job(job.id, now) == 1
        before = q.job(job.id).counts
        q.recount([job.id], now)
        assert q.job(job.id).counts == before
        assert q.job(job.id).state == "CANCELED"


def test_dead_agents_files_are_taken_over_after_the_grace_period(qgrid: Grid) -> None:
    lfns = qgrid.files(5, size=10)
    qgrid.submit(lfns, "B")
    now = time.time()
    with qgrid.queue() as q:
        old = q.register_agent("h", 1, now)
        mine = q.register_agent("h", 2, now)
        q.claim(old, 3, now=now)
        assert q.reap_agents(mine, older_than=now - 10) == [], "still within its grace"
        assert q.heartbeat(old, now + 20)
        assert q.reap_agents(mine, older_than=now + 25) == [old]
        assert not q.heartbeat(old, now + 30), "a dead agent learns it at its next beat"
        live = [a.id for a in q.agents(running_only=True)]
        taken = q.take_over(mine, live=live, now=now + 30)
        assert len(taken) == 3 and all(t.recovered and t.attempt == 2 for t in taken)
        assert q.take_over(mine, live=live, now=now + 31) == []
        assert {f.agent for f in q.files(1, states=["ACTIVE"])} == {mine}


def test_submission_from_lists_and_trees(qgrid: Grid) -> None:
    lfns = qgrid.files(5, size=10)
    qgrid.api.replicate(lfns[:2], "B").raise_first()
    names = (lfn for lfn in [*lfns, "/vo/d", lfns[0], "/vo/nothing"])  # any iterable
    sub = qgrid.api.fts_submit(names, "B", recursive=True, priority=5, retries=0)
    assert sub.job is not None and set(sub.failed) == {"/vo/nothing"}
    c = sub.job.counts
    assert (c.files, c.skipped, c.finished, c.submitted) == (5, 2, 2, 3), "each pair once"
    assert sub.job.priority == 5 and sub.job.retries == 0
    plan = qgrid.api.fts_plan(["/vo"], "B", recursive=True)
    assert (plan.files, plan.skipped) == (3, 2)
    assert qgrid.api.fts_submit(["/vo/nothing"], "B").job is None
