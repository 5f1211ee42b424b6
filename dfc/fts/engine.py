"""The asyncio transfer engine: claims files from the queue, copies them, settles them.

One :class:`Engine` runs on one event loop:

- it *claims* batches of waiting files from the queue (the batch grows with
  the completion rate, so a million-file job is held a window at a time) and
  queues them per link in the :class:`~dfc.fts.scheduler.Scheduler`;
- it *starts* copies while the global, per-SE and per-link limits allow
  (:func:`~dfc.fts.copy.copy_task` does one try of one file);
- it *settles* ended tries in batches: one database transaction marks files
  FINISHED and registers their replicas, fails them, or puts them back for a
  retry after a backoff (:mod:`dfc.fts.retry`);
- every ``optimizer_interval`` it feeds each link's figures to its
  :class:`~dfc.fts.optimizer.LinkOptimizer` and applies the new limit;
- every ``heartbeat`` it tells the queue it is alive, takes over the files of
  agents declared dead, and (more often) stops the files of canceled jobs.

The engine reaches the database only through a :class:`Store` (implemented
over the catalogue in :mod:`dfc.fts.replicate`), whose blocking methods run
on one catalogue thread (:class:`dfc._sync.CatalogExecutor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import posixpath
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from dfc._sync import CatalogExecutor
from dfc.errors import (
    DFCError,
    LFNNotFound,
    NoReplicaAvailable,
    NotFound,
    ReplicaNotFound,
    SEBanned,
    SENotFound,
)
from dfc.fts.copy import CopyFailed, copy_task, leftover_prefixes, timeout_for
from dfc.fts.job import AgentLost, FileState, Outcome, Task
from dfc.fts.optimizer import LinkOptimizer, LinkSample
from dfc.fts.retry import is_retryable
from dfc.fts.scheduler import Link, Scheduler
from dfc.fts.sources import SEPool, SourceHealth, order_sources

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Sequence

    from dfc.callbacks import Callback
    from dfc.fts.config import EngineConfig
    from dfc.models import SEInfo

__all__ = ["Engine", "EngineReport", "SettleReport", "Store"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_FLUSH_BATCH = 1000
_POLL = 1.0
_CANCEL_CHECK = 2.0


@dataclass(slots=True)
class SettleReport:
    """What a settle transaction could not do as asked.

    Attributes:
        lost: outcomes of files no longer held by this agent (canceled, or taken
            over), with the file's current state.
        unregistered: finished copies whose registration failed: the file is
            FAILED and the copy must go.
    """

    lost: list[tuple[Outcome, str]] = field(default_factory=list)
    unregistered: list[Outcome] = field(default_factory=list)


class Store(Protocol):
    """The queue as the engine sees it (blocking methods, run off the event loop)."""

    def claim(self, agent_id: int, limit: int, jobs: frozenset[int] | None) -> list[Task]:
        """Claim up to ``limit`` waiting files (with their catalogue entries)."""
        ...

    def take_over(
        self, agent_id: int, *, grace: float | None, jobs: frozenset[int] | None
    ) -> list[Task]:
        """Declare silent agents dead (all others if ``grace`` is None); claim their files."""
        ...

    def settle(self, agent_id: int, outcomes: Sequence[Outcome]) -> SettleReport:
        """Record ended tries (and register finished replicas) in one transaction."""
        ...

    def heartbeat(self, agent_id: int) -> bool:
        """Refresh the agent's heartbeat; False if it was declared dead."""
        ...

    def canceled(self, job_ids: Iterable[int]) -> set[int]:
        """Those of ``job_ids`` that were canceled."""
        ...

    def work_left(self, agent_id: int, jobs: frozenset[int] | None) -> float | None:
        """None when nothing is left to do, else the earliest time to look again."""
        ...

    def ses(self) -> dict[str, SEInfo]:
        """The registered storage elements."""
        ...

    def save_links(self, rows: Sequence[tuple[str, str, int, float, str]]) -> None:
        """Store the optimizer's decisions ``(source, dest, limit, ema, reason)``."""
        ...


@dataclass(slots=True)
class EngineReport:
    """What one run of the engine did.

    Attributes:
        finished: files copied (or adopted) and registered.
        skipped: files that were at the destination already.
        failed: files given up.
        retried: tries that will be retried later.
        released: files given back to the queue unfinished when the engine stopped.
        bytes: bytes copied.
        recovered: files taken over from dead agents.
    """

    finished: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0
    released: int = 0
    bytes: int = 0
    recovered: int = 0


class _LinkMeter:
    """Bytes moved, successes and retryable failures of one link in one interval."""

    __slots__ = ("bytes", "failures", "successes")

    def __init__(self) -> None:
        self.bytes = 0
        self.successes = 0
        self.failures = 0


class Engine:
    """Works the transfer queue until it is drained, or until stopped.

    Args:
        store: the queue.
        pool: storage-element clients.
        config: limits, retries, timers.
        agent_id: this engine's agent row.
        jobs: work only on these jobs (foreground replication); None: all.
        exclusive: this engine is the only one (it holds the SQLite agent lock):
            every other agent's active files are orphans, taken over at once.
        callback: progress in bytes (``relative_update``; negative takes back).
    """

    def __init__(
        self,
        store: Store,
        pool: SEPool,
        config: EngineConfig,
        *,
        agent_id: int,
        jobs: Iterable[int] | None = None,
        exclusive: bool = False,
        callback: Callback | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.pool = pool
        self.config = config
        self.agent_id = agent_id
        self.jobs = None if jobs is None else frozenset(jobs)
        self.exclusive = exclusive
        self.callback = callback
        self.clock = clock
        self.report = EngineReport()
        self.health = SourceHealth(config.source_quarantine)
        self.sched = Scheduler(config, self._initial_limit)
        self._optimizers: dict[Link, LinkOptimizer] = {}
        self._meters: dict[Link, _LinkMeter] = {}
        self._running: dict[asyncio.Task[None], Task] = {}
        self._outbox: list[Outcome] = []
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._fatal: DFCError | None = None
        self._next_claim = 0.0
        self._stranded: list[Task] = []
        self._last_beat = 0.0
        self._rate = 0.0
        self._db = CatalogExecutor()
        self._threads = ThreadPoolExecutor(
            max_workers=config.concurrency, thread_name_prefix="dfc-fts-copy"
        )

    # ------------------------------------------------------------------ running
    def stop(self) -> None:
        """Ask the engine to stop: running copies are interrupted, files released."""
        self._stop.set()
        self._wake.set()

    async def run(self, *, drain: bool) -> EngineReport:
        """Work until :meth:`stop`, or with ``drain`` until nothing is left to do.

        Nothing left means: the engine's jobs are final, or (for an engine of all
        jobs) no file waits and none is active anywhere.

        Raises:
            AgentLost: another agent declared this one dead (missed heartbeats).
            CatalogError: the queue could not be read or written.
        """
        background: list[asyncio.Task[None]] = []
        try:
            grace = None if self.exclusive else self.config.agent_grace
            await self._enqueue(
                await self._call(self.store.take_over, self.agent_id, grace=grace, jobs=self.jobs)
            )
            background = [
                asyncio.create_task(self._housekeeping()),
                asyncio.create_task(self._optimize()),
                asyncio.create_task(self._flusher()),
            ]
            await self._main(drain)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self._shutdown()
        if self._fatal is not None:
            raise self._fatal
        return self.report

    async def _call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a queue call on the catalogue thread; a cancellation waits for it to end.

        The call commits whatever it does even if this task is cancelled: what
        it claimed must be known, so that the shutdown releases it.
        """
        future = asyncio.ensure_future(self._db(fn, *args, **kwargs))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            result = await future
            if isinstance(result, list):
                self._stranded.extend(t for t in result if isinstance(t, Task))
            raise

    async def _main(self, drain: bool) -> None:
        while not self._stop.is_set():
            # Cleared before the work: a wake-up during it cuts the next wait short.
            self._wake.clear()
            try:
                if await self._step(drain):
                    return
            except DFCError as exc:
                if not is_retryable(exc):
                    raise
                log.warning("transfer queue unavailable, trying again: %s", exc)
                await self._sleep(_POLL)

    async def _step(self, drain: bool) -> bool:
        """Claim and start copies; when draining, True once nothing is left to do."""
        await self._fill()
        self._dispatch()
        if not drain or self._running or self.sched.pending:
            await self._sleep(_POLL)
            return False
        if self._outbox:
            await self._flush()
            return False
        left = await self._call(self.store.work_left, self.agent_id, self.jobs)
        if left is None:
            return not self._running and not self.sched.pending
        wait = min(_POLL, max(0.0, left - self.clock()))
        self._next_claim = min(self._next_claim, self.clock() + wait)
        await self._sleep(wait)
        return False

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    # ------------------------------------------------------------------ claiming
    def _target(self) -> int:
        """Files to hold queued: enough for half a second of work, at least 2 x cap."""
        return max(2 * self.config.concurrency, min(1000, int(self._rate / 2)))

    async def _fill(self) -> None:
        if self._stop.is_set() or self.clock() < self._next_claim:
            return
        pending = self.sched.pending
        target = self._target()
        if pending > target // 2:
            return
        tasks = await self._call(self.store.claim, self.agent_id, target - pending, self.jobs)
        if not tasks:
            self._next_claim = self.clock() + _POLL
            return
        await self._enqueue(tasks)

    async def _enqueue(self, tasks: list[Task]) -> None:
        recovered = [t for t in tasks if t.recovered]
        self.report.recovered += len(recovered)
        if recovered:
            try:
                await self._clean_leftovers(recovered)
            except BaseException:
                self._stranded.extend(tasks)  # held: the shutdown releases them
                raise
        for task in tasks:
            outcome = self._prepare(task)
            if outcome is None:
                self.sched.add(task)
            else:
                self._outbox.append(outcome)
        self._wake.set()

    def _prepare(self, task: Task) -> Outcome | None:
        """Choose the sources of ``task``; an Outcome if it ends without a copy."""
        entry = task.entry
        if entry is None:
            return self._fail(task, LFNNotFound(f"{task.lfn}: no such file (removed?)"))
        if any(r.se == task.dest for r in entry.replicas):
            return Outcome(task, FileState.FINISHED, skipped=True)
        info = self.pool.infos.get(task.dest)
        if info is None:
            return self._fail(task, SENotFound(f"storage element {task.dest} is not registered"))
        if not info.write:
            return self._fail(task, SEBanned(f"storage element {task.dest} is banned for writing"))
        if task.only_source and all(r.se != task.only_source for r in entry.replicas):
            return self._fail(
                task, ReplicaNotFound(f"{task.lfn} has no replica at {task.only_source}")
            )
        task.sources, task.unusable = order_sources(
            entry.replicas,
            self.pool.infos,
            info.site or None,
            only=task.only_source,
            health=self.health,
        )
        if not task.sources:
            reasons = "; ".join(f"{se}: {why}" for se, why in task.unusable.items())
            return self._fail(
                task,
                NoReplicaAvailable(
                    f"{task.lfn}: no usable source replica ({reasons or 'it has no replicas'})"
                ),
            )
        return None

    def _fail(self, task: Task, error: DFCError) -> Outcome:
        return Outcome(task, FileState.FAILED, error=error)

    async def _clean_leftovers(self, tasks: list[Task]) -> None:
        """Remove temporary files dead tries of ``tasks`` left (one listing per directory)."""
        by_dir: dict[tuple[str, str], list[Task]] = {}
        for task in tasks:
            by_dir.setdefault((task.dest, posixpath.dirname(task.lfn)), []).append(task)
        for (dest, directory), group in by_dir.items():
            prefixes = tuple(p for t in group for p in leftover_prefixes(t.lfn, t.id))
            try:
                se = self.pool.get(dest)
                names = [e.path for e in await se.ls(directory)]
            except NotFound:
                continue
            except DFCError as exc:
                log.warning("cannot list %s on %s to clean up: %s", directory, dest, exc)
                continue
            for path in names:
                if posixpath.basename(path).startswith(prefixes):
                    with contextlib.suppress(NotFound):
                        await se.rm(path)

    # ------------------------------------------------------------------ copying
    def _initial_limit(self, link: Link) -> int:
        low, high = self.config.link_bounds(*link)
        opt = LinkOptimizer(low, high, configured=True)
        self._optimizers[link] = opt
        return opt.limit

    def _dispatch(self) -> None:
        while not self._stop.is_set():
            task = self.sched.pop()
            if task is None:
                return
            job = asyncio.create_task(self._work(task))
            self._running[job] = task
            job.add_done_callback(self._finished)

    def _finished(self, job: asyncio.Task[None]) -> None:
        task = self._running.pop(job, None)
        if task is not None:
            self.sched.done(task)
        self._wake.set()

    def _progress(self, task: Task) -> Callable[[str, int], None]:
        def update(source: str, n: int) -> None:
            link = (source or (task.sources[0].se if task.sources else ""), task.dest)
            self._meters.setdefault(link, _LinkMeter()).bytes += n
            if self.callback is not None:
                self.callback.relative_update(n)

        return update

    async def _work(self, task: Task) -> None:
        link = (task.sources[0].se, task.dest)
        try:
            done = await copy_task(
                task,
                self.pool.get(task.dest),
                self.pool.get,
                rereads=self.config.retry.checksum_rereads,
                timeout=timeout_for(task.size, self.config.timeout, self.config.timeout_per_mib),
                progress=self._progress(task),
                on_source_fault=self.health.failed,
                executor=self._threads,
            )
        except CopyFailed as exc:
            self._meter(link).failures += int(exc.retryable)
            self._outbox.append(self._failed(task, exc.error, exc.retryable, exc.source, exc))
        except DFCError as exc:  # the destination SE could not even be opened
            self._outbox.append(self._failed(task, exc, is_retryable(exc), None, None))
        else:
            self._meter(link).successes += 1
            self._outbox.append(
                Outcome(
                    task,
                    FileState.FINISHED,
                    source=done.source,
                    path=done.path,
                    copied=not done.adopted,
                    tries=done.tries,
                )
            )
        if len(self._outbox) >= _FLUSH_BATCH:
            self._wake.set()

    def _meter(self, link: Link) -> _LinkMeter:
        return self._meters.setdefault(link, _LinkMeter())

    def _failed(
        self,
        task: Task,
        error: DFCError,
        retryable: bool,
        source: str | None,
        exc: CopyFailed | None,
    ) -> Outcome:
        limit = self.config.retry.retries if task.max_retries is None else task.max_retries
        tries = list(exc.tries) if exc is not None else []
        if retryable and task.retries < limit:
            delay = self.config.retry.backoff(task.retries + 1)
            return Outcome(
                task,
                FileState.SUBMITTED,
                source=source,
                error=error,
                retry_at=self.clock() + delay,
                tries=tries,
            )
        return Outcome(task, FileState.FAILED, source=source, error=error, tries=tries)

    # ------------------------------------------------------------------ settling
    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self.config.settle_interval)
            if self._outbox:
                await self._guarded(self._flush)

    async def _guarded(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run one step of a background loop; only a transient error lets the loop go on."""
        try:
            await step()
        except DFCError as exc:
            if not is_retryable(exc):
                self._fatal = exc
                self.stop()
                return
            log.warning("transfer queue unavailable, trying again: %s", exc)

    async def _flush(self) -> None:
        outcomes, self._outbox = self._outbox, []
        if not outcomes:
            return
        try:
            report = await self._call(self.store.settle, self.agent_id, outcomes)
        except asyncio.CancelledError:
            raise  # the settle ran to its end (see _call)
        except BaseException:
            # Nothing was recorded: keep the outcomes for the next flush.
            self._outbox[:0] = outcomes
            raise
        self._count(outcomes, report)
        for outcome in report.unregistered:
            await self._remove_copy(outcome)
        for outcome, state in report.lost:
            if state == FileState.CANCELED:
                await self._remove_copy(outcome)

    def _count(self, outcomes: list[Outcome], report: SettleReport) -> None:
        lost = {id(o) for o, _ in report.lost} | {id(o) for o in report.unregistered}
        n = 0
        for o in outcomes:
            if id(o) in lost:
                continue
            n += 1
            if o.state == FileState.FINISHED:
                if o.skipped:
                    self.report.skipped += 1
                else:
                    self.report.finished += 1
                    self.report.bytes += o.task.size if o.copied else 0
            elif o.state == FileState.FAILED:
                self.report.failed += 1
            elif o.count_retry:
                self.report.retried += 1
            else:
                self.report.released += 1
        self.report.failed += len(report.unregistered)
        self._rate = 0.7 * self._rate + 0.3 * n / max(self.config.settle_interval, 0.01)

    async def _remove_copy(self, outcome: Outcome) -> None:
        if not outcome.copied or outcome.path is None:
            return
        try:
            await self.pool.get(outcome.task.dest).rm(outcome.path)
        except NotFound:
            pass
        except DFCError as exc:
            log.warning("cannot remove %s from %s: %s", outcome.path, outcome.task.dest, exc)

    # ------------------------------------------------------------------ housekeeping
    async def _housekeeping(self) -> None:
        self._last_beat = self.clock()
        while True:
            await asyncio.sleep(min(self.config.heartbeat, _CANCEL_CHECK))
            await self._guarded(self._check_canceled)
            if self.clock() - self._last_beat >= self.config.heartbeat:
                await self._guarded(self._beat)

    async def _beat(self) -> None:
        """Heartbeat, refresh the SE registry, take over the files of dead agents."""
        self._last_beat = self.clock()
        if not await self._call(self.store.heartbeat, self.agent_id):
            self._fatal = AgentLost(
                f"agent {self.agent_id} was declared dead by another agent "
                "(it missed its heartbeats); it stopped"
            )
            self.stop()
            return
        self.pool.update(await self._call(self.store.ses))
        if not self.exclusive:
            taken = await self._call(
                self.store.take_over, self.agent_id, grace=self.config.agent_grace, jobs=self.jobs
            )
            if taken:
                await self._enqueue(taken)

    async def _check_canceled(self) -> None:
        jobs = {t.job_id for t in self._running.values()} | {t.job_id for t in self.sched.queued()}
        if not jobs:
            return
        canceled = await self._call(self.store.canceled, jobs)
        if not canceled:
            return
        self.sched.remove(lambda t: t.job_id not in canceled)
        for job, task in list(self._running.items()):
            if task.job_id in canceled:
                job.cancel()

    # ------------------------------------------------------------------ optimizer
    async def _optimize(self) -> None:
        while True:
            await asyncio.sleep(self.config.optimizer_interval)
            await self._guarded(self._decide)

    async def _decide(self) -> None:
        """One optimizer round over every link seen."""
        meters, self._meters = self._meters, {}
        rows: list[tuple[str, str, int, float, str]] = []
        interval = self.config.optimizer_interval
        for link in self.sched.links():
            meter = meters.get(link, _LinkMeter())
            opt = self._optimizers[link]
            decision = opt.update(
                LinkSample(
                    throughput=max(0, meter.bytes) / interval,
                    successes=meter.successes,
                    failures=meter.failures,
                    queued=self.sched.waiting(link),
                    active=self.sched.link_active[link],
                )
            )
            self.sched.set_limit(link, decision.limit)
            if meter.bytes or meter.successes or meter.failures:
                rows.append((*link, decision.limit, decision.ema, decision.reason))
        if rows:
            await self._call(self.store.save_links, rows)
        self._wake.set()

    # ------------------------------------------------------------------ stopping
    async def _shutdown(self) -> None:
        """Interrupt running copies, settle what ended, release what remains."""
        for job in self._running:
            job.cancel()
        interrupted = list(self._running.values())
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        try:
            if self._fatal is None:
                queued = self.sched.remove(lambda _t: False)
                self._outbox.extend(
                    Outcome(t, FileState.SUBMITTED, count_retry=False)
                    for t in [*interrupted, *queued, *self._stranded]
                )
                await self._flush()
        finally:
            await self.pool.aclose()
            self._db.shutdown()
            self._threads.shutdown(wait=True)
