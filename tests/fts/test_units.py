"""Unit tests: the optimizer on a simulated link, retry classification, states, scheduling."""

from __future__ import annotations

import random

import pytest

from dfc.catalog.queue import JobCounts, derive_job_state
from dfc.errors import (
    AlreadyExists,
    ChecksumMismatch,
    DFCError,
    NoSpace,
    PermissionDenied,
    PFNNotFound,
    SETimeout,
    SEUnavailable,
    SizeMismatch,
    StorageError,
)
from dfc.fts.config import EngineConfig
from dfc.fts.job import FileState, JobState, Task, error_from
from dfc.fts.optimizer import LinkOptimizer, LinkSample
from dfc.fts.retry import RetryPolicy, is_corruption, is_retryable
from dfc.fts.scheduler import Scheduler
from dfc.fts.sources import SourceHealth, order_sources
from dfc.models import Replica, SEInfo


# ---------------------------------------------------------------- optimizer
def saturating(c: int, knee: int, per_stream: float = 10e6, penalty: float = 0.03) -> float:
    """Throughput of a link with ``c`` connections: linear up to ``knee``, then slowly worse."""
    t = min(c, knee) * per_stream
    return t * max(0.3, 1 - penalty * max(0, c - knee))


def drive(opt: LinkOptimizer, link, rounds: int, noise: float = 0.0, seed: int = 1) -> list[int]:
    rnd = random.Random(seed)
    history = []
    for _ in range(rounds):
        c = opt.limit
        tp = link(c) * (1 + noise * rnd.gauss(0, 1))
        d = opt.update(LinkSample(throughput=tp, successes=20, failures=0, queued=10_000, active=c))
        assert opt.min <= d.limit <= opt.max
        assert d.reason
        history.append(d.limit)
    return history


@pytest.mark.parametrize("knee", [4, 10, 25])
@pytest.mark.parametrize("configured", [False, True])
def test_optimizer_settles_at_the_knee_of_a_saturating_link(knee: int, configured: bool) -> None:
    opt = LinkOptimizer(2, 40, configured=configured)
    history = drive(opt, lambda c: saturating(c, knee), 80)
    tail = history[-30:]
    assert all(abs(c - knee) <= 1 for c in tail), history
    assert sum(c == knee for c in tail) >= 20, "it holds at the knee and only probes around it"


def test_optimizer_also_settles_on_a_flat_link_and_with_noise() -> None:
    opt = LinkOptimizer(2, 40)
    flat = drive(opt, lambda c: min(c, 12) * 1e6, 80)
    assert all(abs(c - 12) <= 1 for c in flat[-30:]), flat
    opt = LinkOptimizer(2, 40)
    noisy = drive(opt, lambda c: saturating(c, 12), 100, noise=0.02)
    assert all(abs(c - 12) <= 2 for c in noisy[-30:]), noisy


def test_optimizer_climbs_while_the_link_is_not_saturated() -> None:
    opt = LinkOptimizer(2, 40)
    history = drive(opt, lambda c: c * 1e6, 40)
    assert history[-1] >= 39


def test_optimizer_steps_down_on_failures_and_holds_when_improving() -> None:
    opt = LinkOptimizer(2, 20, configured=True)
    limits = []
    for _ in range(5):
        limits.append(opt.update(LinkSample(1e6, successes=80, failures=20, queued=100)).limit)
    assert limits == [19, 18, 17, 16, 15]
    # 96.5%: below 97 but better than the 80% before, failures not growing: hold.
    d = opt.update(LinkSample(1e6, successes=193, failures=7, queued=100))
    assert d.limit == 15 and "improving" in d.reason


def test_optimizer_holds_without_information_or_demand_and_respects_bounds() -> None:
    opt = LinkOptimizer(3, 3)
    assert opt.update(LinkSample(1e6, successes=1, queued=5)).limit == 3
    opt = LinkOptimizer(1, 10, configured=True)
    assert opt.update(LinkSample(0.0, queued=5)).reason.startswith("no throughput")
    assert opt.update(LinkSample(1e6, successes=1, queued=0)).reason.startswith("no file")
    opt.set_bounds(1, 4)
    assert opt.limit == 4
    with pytest.raises(ValueError, match="bounds"):
        LinkOptimizer(5, 2)


# ---------------------------------------------------------------- retry
def test_retry_classification() -> None:
    transient: list[DFCError] = [
        SEUnavailable("x"),
        SETimeout("x"),
        StorageError("Connection timed out"),
    ]
    permanent: list[DFCError] = [
        PFNNotFound("x"),
        PermissionDenied("x"),
        AlreadyExists("x"),
        NoSpace("x"),
    ]
    assert all(is_retryable(err) for err in transient)
    assert not any(is_retryable(err) for err in permanent)
    assert not is_retryable(StorageError("weird failure"))
    assert is_corruption(ChecksumMismatch("x")) and is_corruption(SizeMismatch("x"))
    assert not is_retryable(ChecksumMismatch("x")), "a mismatch is never retried blindly"
    policy = RetryPolicy(retries=2)
    assert policy.should_retry(SEUnavailable("x"), 1)
    assert not policy.should_retry(SEUnavailable("x"), 2)
    assert not policy.should_retry(PermissionDenied("x"), 0)


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    policy = RetryPolicy(delay=10, factor=2, max_delay=60, jitter=0.1)
    assert [policy.backoff(n, lambda: 0.5) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]
    assert policy.backoff(1, lambda: 0.0) == pytest.approx(9.0)
    assert policy.backoff(1, lambda: 1.0) == pytest.approx(11.0)


def test_stored_errors_come_back_as_their_class() -> None:
    err = error_from("ChecksumMismatch", "bad bytes")
    assert isinstance(err, ChecksumMismatch) and str(err) == "bad bytes"
    assert type(error_from("NoSuchKind", "x")).__name__ == "DFCError"


# ---------------------------------------------------------------- states
def test_job_state_is_derived_from_file_counts() -> None:
    def state(flag: bool = False, **kw: int) -> str:
        files = sum(kw.get(k, 0) for k in ("submitted", "active", "finished", "failed", "canceled"))
        return derive_job_state(JobCounts(files=files, **kw), canceled=flag)

    assert state(submitted=3) == JobState.SUBMITTED
    assert state(submitted=2, active=1) == JobState.ACTIVE
    assert state(submitted=2, failed=1) == JobState.ACTIVE, "a retry may still come"
    assert state(finished=3) == JobState.FINISHED
    assert state(finished=2, failed=1) == JobState.FINISHEDDIRTY
    assert state(finished=2, canceled=1) == JobState.FINISHEDDIRTY
    assert state(failed=3) == JobState.FAILED
    assert state(finished=1, canceled=2, flag=True) == JobState.CANCELED
    assert state(canceled=3) == JobState.CANCELED


def test_state_names_agree_between_engine_and_queue() -> None:
    from dfc.catalog import queue

    assert {queue.SUBMITTED, queue.ACTIVE, queue.FINISHED, queue.FAILED, queue.CANCELED} <= {
        s.value for s in FileState
    }
    assert set(queue._FINAL_JOB) <= {s.value for s in JobState}


# ---------------------------------------------------------------- scheduling
def _task(i: int, job: int, prio: int, src: str = "A", dest: str = "B") -> Task:
    return Task(
        id=i,
        job_id=job,
        lfn=f"/f{i}",
        dest=dest,
        size=1,
        attempt=1,
        retries=0,
        priority=prio,
        sources=[Replica(se=src, path=f"/f{i}")],
    )


def test_scheduler_serves_priority_first_and_shares_equal_jobs_fairly() -> None:
    sched = Scheduler(EngineConfig(concurrency=100), lambda link: 100)
    for i in range(10):
        sched.add(_task(i, job=1, prio=3))
    for i in range(10, 20):
        sched.add(_task(i, job=2, prio=3))
    for i in range(20, 23):
        sched.add(_task(i, job=3, prio=5))
    order = [t for _ in range(23) if (t := sched.pop()) is not None]
    assert [t.job_id for t in order[:3]] == [3, 3, 3]
    rest = [t.job_id for t in order[3:]]
    assert rest == [1, 2] * 10, "equal priorities take turns file by file"
    assert sched.pop() is None


def test_scheduler_respects_global_se_and_link_caps() -> None:
    config = EngineConfig(concurrency=5, outbound={"A": 2}, inbound={"C": 1})
    limits = {("A", "B"): 10, ("X", "B"): 1, ("X", "C"): 10}
    sched = Scheduler(config, limits.__getitem__)
    for i in range(10):
        sched.add(_task(i, 1, 3, "A", "B"))
        sched.add(_task(100 + i, 1, 3, "X", "B"))
        sched.add(_task(200 + i, 1, 3, "X", "C"))
    started = []
    while (t := sched.pop()) is not None:
        started.append(t)
    links = [(t.sources[0].se, t.dest) for t in started]
    assert links.count(("A", "B")) == 2, "outbound cap of A"
    assert links.count(("X", "B")) == 1, "link limit"
    assert links.count(("X", "C")) == 1, "inbound cap of C"
    assert sched.active == 4
    sched.done(started[0])
    assert sched.pop() is not None
    sched.set_limit(("X", "B"), 3)
    assert sched.pop() is not None, "a raised link limit lets more start"
    assert sched.active == 5 and sched.pop() is None, "global cap"


def test_scheduler_removes_tasks_of_canceled_jobs() -> None:
    sched = Scheduler(EngineConfig(), lambda link: 4)
    for i in range(6):
        sched.add(_task(i, job=i % 2, prio=3))
    gone = sched.remove(lambda t: t.job_id != 1)
    assert sorted(t.id for t in gone) == [1, 3, 5]
    assert sched.pending == 3 and {t.job_id for t in sched.queued()} == {0}


def test_sources_prefer_the_destination_site_and_skip_bad_ones() -> None:
    ses = {
        "A": SEInfo("A", "file:///a", site="S1"),
        "B": SEInfo("B", "file:///b", site="S2"),
        "C": SEInfo("C", "file:///c", site="S2", read=False),
        "D": SEInfo("D", "file:///d", site="S3"),
    }
    reps = [
        Replica("A", "/f"),
        Replica("B", "/f"),
        Replica("C", "/f"),
        Replica("D", "/f", status="bad"),
    ]
    for seed in range(5):
        ordered, skipped = order_sources(reps, ses, "S2", rand=random.Random(seed))
        assert [r.se for r in ordered] == ["B", "A"]
        assert set(skipped) == {"C", "D"}
    clock = [0.0]
    health = SourceHealth(10, clock=lambda: clock[0])
    health.failed("B")
    ordered, _ = order_sources(reps, ses, "S2", health=health)
    assert [r.se for r in ordered] == ["A", "B"], "a source that just failed goes last"
    clock[0] = 11
    assert [r.se for r in order_sources(reps, ses, "S2", health=health)[0]] == ["B", "A"]
    assert [r.se for r in order_sources(reps, ses, "S2", only="A")[0]] == ["A"]
