"""The engine with real local SEs and a real SQLite catalogue, in this process."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from dfc.catalog import TransferQueue
from dfc.errors import SEUnavailable
from dfc.fts.copy import temp_name
from tests.fts.conftest import Grid, payload, temp_leftovers

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from dfc.models import SEInfo
    from dfc.se import StorageElement


def test_job_copies_verifies_and_registers_every_file(grid: Grid) -> None:
    lfns = grid.files(30, size=3000)
    job = grid.submit(lfns, "B")
    assert job.state == "SUBMITTED" and job.counts.files == 30
    report = grid.run()
    assert report.finished == 30 and report.failed == 0 and report.bytes == 30 * 3000
    done = grid.job(job.id)
    assert done.state == "FINISHED" and done.final
    assert done.counts.finished == 30 and done.counts.bytes_done == 30 * 3000
    assert grid.on_disk("B") == grid.on_disk("A")
    assert all(ses == {"A", "B"} for ses in grid.replicas(lfns).values())
    assert temp_leftovers(grid.root / "se") == []
    status = grid.api.fts_status(job.id)
    [link] = status.links
    assert (link.source, link.dest, link.finished, link.bytes_done) == ("A", "B", 30, 90000)
    files = grid.job_files(job.id)
    assert {f.state for f in files} == {"FINISHED"} and {f.source for f in files} == {"A"}


def test_submission_skips_copies_that_exist_and_reports_bad_names(grid: Grid) -> None:
    lfns = grid.files(3)
    grid.api.replicate(lfns[:1], "B").raise_first()
    sub = grid.api.fts_submit([*lfns, "/vo/none", "/vo/d", "not/valid"], "B")
    assert sub.job is not None
    assert set(sub.failed) == {"/vo/none", "/vo/d", "not/valid"}
    assert type(sub.failed["/vo/d"]).__name__ == "IsADirectory"
    assert sub.job.counts.files == 3 and sub.job.counts.skipped == 1
    grid.run()
    files = {f.lfn: f for f in grid.job_files(sub.job.id)}
    assert files[lfns[0]].skipped and not files[lfns[1]].skipped
    again = grid.api.fts_submit(["/vo/d"], "B", recursive=True)
    assert again.job is not None and again.job.state == "FINISHED", "all there: final at once"
    assert again.job.counts.skipped == 3


def test_dry_run_plans_per_link_and_changes_nothing(grid: Grid) -> None:
    grid.se("C", "S2")
    lfns = grid.files(4, size=100)
    grid.api.replicate(lfns[:1], "C").raise_first()
    grid.api.replicate(lfns[1:2], "B").raise_first()
    plan = grid.api.fts_plan(["/vo/d", "/vo/nothing"], "B", recursive=True)
    assert plan.skipped == 1 and plan.skipped_bytes == 100
    links = {(p.source, p.dest): (p.files, p.bytes) for p in plan.links}
    # The copy at C (the destination's site) is preferred for the first file.
    assert links == {("A", "B"): (2, 200), ("C", "B"): (1, 100)}
    assert list(plan.failed) == ["/vo/nothing"]
    assert [j.id for j in grid.api.fts_jobs()] == [2, 1], "the dry run left no job"
    only_b = grid.api.fts_plan(lfns, "C", source="B")
    assert only_b.no_source_count == 2 and only_b.files == 1


def test_named_source_without_a_replica_fails_at_submission(grid: Grid) -> None:
    grid.se("C", "S3")
    lfns = grid.files(2)
    job = grid.submit(lfns, "C", source="B")
    assert job.state == "FAILED"
    assert {f.error_kind for f in grid.job_files(job.id)} == {"ReplicaNotFound"}


def test_corrupt_source_fails_over_and_is_reported(grid: Grid) -> None:
    grid.se("C", "S2")
    [lfn] = grid.files(1, size=5000)
    grid.api.replicate([lfn], "C").raise_first()
    bad = grid.dirs["C"] / lfn.lstrip("/")
    data = bytearray(bad.read_bytes())
    data[100] ^= 1
    bad.write_bytes(bytes(data))
    grid.se("D", "S2")  # C shares D's site: it is tried first
    result = grid.api.replicate([lfn], "D")
    got = result.succeeded[lfn]
    assert got.source == "A"
    assert "adler32 mismatch" in got.bad_replicas["C"]
    assert grid.on_disk("D")[lfn] == payload(0, 5000)
    [f] = list(grid.api.fts_files(max(j.id for j in grid.api.fts_jobs())))
    kinds = [(a.source, a.state, a.kind) for a in f.attempts]
    assert kinds == [("C", "NOT_USED", "ChecksumMismatch")] * 2, "read, re-read, then next source"


def test_only_corrupt_sources_fail_and_nothing_is_registered(grid: Grid) -> None:
    [lfn] = grid.files(1, size=5000)
    (grid.dirs["A"] / lfn.lstrip("/")).write_bytes(b"x" * 5000)
    result = grid.api.replicate([lfn], "B")
    err = result.failed[lfn]
    assert type(err).__name__ == "NoReplicaAvailable" and "mismatch" in str(err)
    assert grid.replicas([lfn])[lfn] == {"A"}
    assert grid.on_disk("B") == {} and temp_leftovers(grid.root / "se") == []


def test_taken_over_files_lose_leftovers_and_adopt_finished_copies(grid: Grid) -> None:
    lfns = grid.files(3, size=2000)
    job = grid.submit(lfns, "B")
    with grid.queue() as q:
        dead = q.register_agent("elsewhere", 1, time.time() - 100)
        claimed = {r.lfn: r for r in q.claim(dead, 3, now=time.time())}
    dest = grid.dirs["B"]
    # File 0: a half-written temporary file and the SE's own temporary name for it.
    first = claimed[lfns[0]]
    tmp = temp_name(lfns[0], first.id, first.attempt)
    (dest / tmp.lstrip("/")).parent.mkdir(parents=True)
    (dest / tmp.lstrip("/")).write_bytes(b"partial")
    inner = os.path.dirname(tmp) + "/." + os.path.basename(tmp) + ".dfc-part-0123abcd"
    (dest / inner.lstrip("/")).write_bytes(b"partial")
    # File 1: renamed into place, but the agent died before registering it.
    final = dest / lfns[1].lstrip("/")
    final.write_bytes(payload(1, 2000))
    inode = final.stat().st_ino
    report = grid.run()
    assert report.recovered == 3 and report.finished == 3
    assert grid.job(job.id).state == "FINISHED"
    assert temp_leftovers(dest) == []
    assert final.stat().st_ino == inode, "a verified copy is adopted, not copied again"
    assert grid.on_disk("B") == grid.on_disk("A")
    with grid.queue() as q:
        assert q.agents()[-1].state == "dead"
    tries = [a for f in grid.job_files(job.id) for a in f.attempts]
    assert {a.kind for a in tries} == {"AgentLost"} and len(tries) == 3


def test_a_foreign_file_at_the_destination_is_not_overwritten(grid: Grid) -> None:
    [lfn] = grid.files(1)
    foreign = grid.dirs["B"] / lfn.lstrip("/")
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"somebody else's bytes")
    result = grid.api.replicate([lfn], "B")
    assert type(result.failed[lfn]).__name__ == "AlreadyExists"
    assert foreign.read_bytes() == b"somebody else's bytes"
    assert grid.replicas([lfn])[lfn] == {"A"} and temp_leftovers(grid.root / "se") == []


def test_retry_puts_failed_files_back(grid: Grid) -> None:
    lfns = grid.files(2, size=1000)
    (grid.dirs["A"] / lfns[0].lstrip("/")).unlink()
    job = grid.submit(lfns, "B")
    grid.run()
    assert grid.job(job.id).state == "FINISHEDDIRTY"
    [failed] = [f for f in grid.job_files(job.id) if f.state == "FAILED"]
    assert failed.error_kind == "PFNNotFound" and failed.retries == 0, "not retryable"
    (grid.dirs["A"] / lfns[0].lstrip("/")).write_bytes(payload(0, 1000))
    assert grid.api.fts_retry(job.id).state == "ACTIVE"
    grid.run()
    assert grid.job(job.id).state == "FINISHED"
    assert grid.on_disk("B") == grid.on_disk("A")


class SlowSE:
    """Delegates to an SE, sleeping before every read (to cancel or kill mid-job)."""

    def __init__(self, inner: StorageElement, delay: float) -> None:
        self._inner = inner
        self._delay = delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def open_read(
        self, path: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        await asyncio.sleep(self._delay)
        async for chunk in self._inner.open_read(path, offset, length):
            yield chunk


def slow_opener(delay: float) -> Any:
    from dfc.se import open_se

    def opener(info: SEInfo, options: Any) -> Any:
        se = open_se(info, options)
        return SlowSE(se, delay) if info.name == "A" else se

    return opener


def test_cancel_stops_active_copies_and_removes_them(grid: Grid) -> None:
    lfns = grid.files(40, size=1000)
    job = grid.submit(lfns, "B")

    def cancel_when_started() -> None:
        deadline = time.time() + 30
        while time.time() < deadline:
            counts = grid.job(job.id).counts
            if counts.finished >= 4:
                grid.api.fts_cancel(job.id)
                return
            time.sleep(0.02)

    canceller = threading.Thread(target=cancel_when_started)
    canceller.start()
    grid.run(opener=slow_opener(0.05), concurrency=2)
    canceller.join()
    done = grid.job(job.id)
    assert done.state == "CANCELED" and done.canceled
    assert 4 <= done.counts.finished < 40 and done.counts.canceled == 40 - done.counts.finished
    finished = {f.lfn for f in grid.job_files(job.id) if f.state == "FINISHED"}
    assert set(grid.on_disk("B")) == finished, "canceled copies are removed"
    assert all(grid.replicas([x])[x] == {"A", "B"} for x in finished)
    assert temp_leftovers(grid.root / "se") == []
    assert grid.api.fts_retry(job.id).state == "CANCELED", "retry brings back FAILED files only"


def test_transient_source_failures_are_retried_with_backoff(grid: Grid) -> None:
    from dfc.se import open_se

    lfns = grid.files(3)
    failures = {lfn: 2 for lfn in lfns}

    class Flaky:
        def __init__(self, inner: StorageElement) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        async def open_read(
            self, path: str, offset: int = 0, length: int | None = None
        ) -> AsyncIterator[bytes]:
            if failures.get(path, 0) > 0:
                failures[path] -= 1
                raise SEUnavailable(f"{path}: connection refused")
            async for chunk in self._inner.open_read(path, offset, length):
                yield chunk

    def opener(info: SEInfo, options: Any) -> Any:
        se = open_se(info, options)
        return Flaky(se) if info.name == "A" else se

    job = grid.submit(lfns, "B")
    report = grid.run(opener=opener)
    assert grid.job(job.id).state == "FINISHED" and report.retried == 6
    for f in grid.job_files(job.id):
        assert f.retries == 2 and f.attempt == 3
        assert [a.kind for a in f.attempts if a.state == "FAILED"] == ["SEUnavailable"] * 2


def test_retries_run_out(grid: Grid) -> None:
    lfns = grid.files(1)
    job = grid.submit(lfns, "B", retries=1)

    def opener(info: SEInfo, options: Any) -> Any:
        from dfc.se import open_se

        se = open_se(info, options)

        class Down:
            def __getattr__(self, name: str) -> Any:
                return getattr(se, name)

            def open_read(self, *a: Any, **k: Any) -> Any:
                raise SEUnavailable("down")

        return Down() if info.name == "A" else se

    grid.run(opener=opener)
    [f] = grid.job_files(job.id)
    assert f.state == "FAILED" and f.retries == 1 and f.error_kind == "SEUnavailable"


def test_queue_counters_always_equal_a_recount(grid: Grid) -> None:
    lfns = grid.files(12)
    (grid.dirs["A"] / lfns[3].lstrip("/")).unlink()
    jobs = [grid.submit(lfns[:6], "B", priority=5), grid.submit(lfns[6:], "B", priority=1)]
    grid.run()
    grid.api.fts_cancel(jobs[0].id)
    grid.api.fts_retry(jobs[0].id)
    for job in jobs:
        before = grid.job(job.id)
        with grid.api.catalog.transaction() as tx:
            TransferQueue(tx).recount([job.id], time.time())
        assert grid.job(job.id).counts == before.counts


def test_link_limits_follow_the_optimizer_and_are_shown(grid: Grid) -> None:
    lfns = grid.files(30, size=2000)
    job = grid.submit(lfns, "B")
    grid.run(opener=slow_opener(0.02), concurrency=6, optimizer_interval=0.05)
    [link] = grid.api.fts_status(job.id).links
    assert link.source == "A" and link.limit is not None and 1 <= link.limit <= 6
