"""The transfer half of the public API: jobs of the bulk replication engine (FTS).

:class:`TransferMixin` is a base of :class:`dfc.DFC`. A *job* is a set of
(LFN, destination SE) pairs, submitted from LFNs, a file of LFNs or
directories (``recursive``); it lives in the catalogue database and is worked
by the engine, either in the foreground (:meth:`TransferMixin.fts_run`, what
``dfc replicate`` does) or by ``dfc fts agent`` daemons.

Submission is one transaction: the job appears whole or not at all. Files the
caller may not change (``write`` access), names that are not files, and with
a named source files without a replica there, are reported and not copied.
The agents register replicas on the submitter's behalf.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from dfc import _sync
from dfc import lfn as lfnmod
from dfc._lazy import lazy_exports
from dfc.errors import (
    CatalogError,
    DFCError,
    InvalidArgument,
    IsADirectory,
    NotFound,
    PermissionDenied,
    SEBanned,
)
from dfc.models import BulkResult, Replica

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from dfc.api._guarded import ApiTx
    from dfc.api._jobs import JobStatus, SubmitResult
    from dfc.api._results import ReplicateResult
    from dfc.callbacks import Callback
    from dfc.catalog import Catalog, CatalogTx
    from dfc.catalog.queue import LinkRow, TransferAttempt, TransferFile, TransferJob, TransferQueue
    from dfc.config import Settings
    from dfc.fts.config import EngineConfig
    from dfc.fts.engine import EngineReport
    from dfc.fts.job import LinkPlan, TransferPlan
    from dfc.fts.replicate import CatalogStore
    from dfc.fts.sources import SEPool
    from dfc.models import SEInfo

__all__ = [
    "JobStatus",
    "LinkPlan",
    "LinkRow",
    "SubmitResult",
    "TransferAttempt",
    "TransferFile",
    "TransferJob",
    "TransferMixin",
    "TransferPlan",
]

# Loaded on first use (PEP 562): namespace and data commands never need the queue
# nor the job results.
_LAZY = {
    "JobStatus": "dfc.api._jobs",
    "SubmitResult": "dfc.api._jobs",
    "LinkPlan": "dfc.fts.job",
    "LinkRow": "dfc.catalog.queue",
    "TransferAttempt": "dfc.catalog.queue",
    "TransferFile": "dfc.catalog.queue",
    "TransferJob": "dfc.catalog.queue",
    "TransferPlan": "dfc.fts.job",
}


__getattr__ = lazy_exports(__name__, _LAZY)


_CHUNK = 2000
#: Window of the per-link rate in ``fts_status``.
RATE_WINDOW = 60.0


class _DryRun(Exception):
    """Rolls the dry-run submission back."""


class _Empty(Exception):
    """Rolls back a submission that queued nothing."""


class TransferMixin:
    """Transfer jobs: submit, plan, list, inspect, retry, cancel, run (part of :class:`dfc.DFC`)."""

    if TYPE_CHECKING:
        settings: Settings

        @property
        def catalog(self) -> Catalog: ...

        def _guard(self, tx: CatalogTx) -> ApiTx: ...

    # ------------------------------------------------------------------ submission
    def fts_submit(
        self,
        lfns: Iterable[str],
        to: str,
        *,
        source: str | None = None,
        recursive: bool = False,
        priority: int = 3,
        retries: int | None = None,
        description: str | None = None,
    ) -> SubmitResult:
        """Queue the files ``lfns`` (directories with ``recursive``) for copying to ``to``.

        Files with a replica at ``to`` already are recorded as finished
        (skipped). With ``source``, files are read only from there; those
        without a replica there fail at once. ``lfns`` may be any iterable (a
        file of millions of names): it is consumed in chunks.

        Raises:
            SENotFound: ``to`` or ``source`` is unknown.
            SEBanned: ``to`` is banned for writing.
            InvalidArgument: ``priority`` is not 1..5 or ``retries`` negative.
            CatalogError: the catalogue is a catalogue server (transfers need
                its database).
        """
        from dfc.api._jobs import SubmitResult

        try:
            with self.catalog.transaction() as raw:
                q, g = self._queue(raw)
                job_id, failed = self._fill_job(
                    q, g, lfns, to, source, recursive, priority, retries, description
                )
                job = q.seal_job(job_id, dest=to, source=source, now=time.time())
                if job.counts.files == 0:
                    raise _Empty
        except _Empty:
            return SubmitResult(None, failed)
        return SubmitResult(job, failed)

    def fts_plan(
        self,
        lfns: Iterable[str],
        to: str,
        *,
        source: str | None = None,
        recursive: bool = False,
    ) -> TransferPlan:
        """What :meth:`fts_submit` would do (``--dry-run``): files and bytes per link.

        The link of a file is its preferred source (a replica at the
        destination's site first) -> ``to``.

        Raises:
            SENotFound: ``to`` or ``source`` is unknown.
            SEBanned: ``to`` is banned for writing.
            CatalogError: the catalogue is a catalogue server.
        """
        from dfc.fts.job import TransferPlan

        plan = TransferPlan()
        with contextlib.suppress(_DryRun), self.catalog.transaction() as raw:
            q, g = self._queue(raw)
            job_id, plan.failed = self._fill_job(q, g, lfns, to, source, recursive, 3, None, "")
            job = q.seal_job(job_id, dest=to, source=source, now=time.time())
            plan.skipped = job.counts.skipped
            ses = {s.name: s for s in raw.list_ses()}
            _plan_links(q, job, to, source, ses, plan)
            raise _DryRun
        return plan

    def _queue(self, raw: CatalogTx) -> tuple[TransferQueue, ApiTx]:
        from dfc.api._guarded import ApiTx
        from dfc.catalog.queue import TransferQueue

        if isinstance(raw, ApiTx):
            raise CatalogError(
                "transfers need the catalogue database: run them where `catalog` is a "
                "database URL, not a catalogue server"
            )
        return TransferQueue(raw), self._guard(raw)

    def _fill_job(
        self,
        q: TransferQueue,
        g: ApiTx,
        lfns: Iterable[str],
        to: str,
        source: str | None,
        recursive: bool,
        priority: int,
        retries: int | None,
        description: str | None,
    ) -> tuple[int, dict[str, DFCError]]:
        dest = g.get_se(to)
        if not dest.write:
            raise SEBanned(f"storage element {to} is banned for writing")
        if source is not None:
            g.get_se(source)
        if not 1 <= priority <= 5:
            raise InvalidArgument(f"priority must be 1 (lowest) to 5 (highest), not {priority}")
        if retries is not None and retries < 0:
            raise InvalidArgument("retries must be >= 0")
        owner = g.whoami()
        failed: dict[str, DFCError] = {}
        job_id = q.create_job(
            owner=owner.user or owner.principal,
            group=owner.group,
            priority=priority,
            source=source,
            description=description or "",
            retries=retries,
            now=time.time(),
        )
        for chunk in _chunks(lfns):
            valid = _valid(chunk, failed)
            missing = q.add_lfns(job_id, valid, to)
            if missing:
                found = g.stat(missing)
                failed.update(found.failed)
                for lfn, entry in found.succeeded.items():
                    if not entry.is_dir:
                        continue
                    if recursive:
                        q.add_tree(job_id, lfn, to)
                    else:
                        failed[lfn] = IsADirectory(f"{lfn} is a directory (use -r)")
        failed.update(_refused(q, g, job_id))
        return job_id, failed

    # ------------------------------------------------------------------ reading
    def fts_jobs(
        self, *, states: Sequence[str] | None = None, limit: int | None = 50
    ) -> list[TransferJob]:
        """Return transfer jobs, newest first (``states`` filters, e.g. ``["ACTIVE"]``).

        Raises:
            CatalogError: the catalogue failed or is a catalogue server.
        """
        with self._queue_reader() as q:
            return q.jobs(states=states, limit=limit)

    @contextlib.contextmanager
    def _queue_reader(self) -> Iterator[TransferQueue]:
        with self.catalog.reader() as raw:
            yield self._queue(raw)[0]

    def fts_job(self, job_id: int) -> TransferJob:
        """Return job ``job_id``.

        Raises:
            NotFound: no such job.
        """
        with self._queue_reader() as q:
            return _job(q, job_id)

    def fts_status(self, job_id: int) -> JobStatus:
        """Return job ``job_id`` with per-link figures, rate and ETA.

        Raises:
            NotFound: no such job.
        """
        from dfc.api._jobs import JobStatus

        now = time.time()
        with self._queue_reader() as q:
            job = _job(q, job_id)
            links = q.link_stats(job_id, since=now - RATE_WINDOW)
        window = min(RATE_WINDOW, max(1.0, now - job.created))
        rate = sum(link.recent_bytes for link in links) / window
        left = job.counts.bytes_total - job.counts.bytes_done
        eta = left / rate if rate > 0 and not job.final else None
        return JobStatus(job, tuple(links), rate, eta, window)

    def fts_files(
        self,
        job_id: int,
        *,
        states: Sequence[str] | None = None,
        attempts: bool = True,
    ) -> Iterator[TransferFile]:
        """Yield the files of job ``job_id`` by id, with their failed tries.

        Raises:
            NotFound: no such job.
        """
        self.fts_job(job_id)
        after = 0
        while True:
            with self._queue_reader() as q:
                batch = q.files(
                    job_id, states=states, after=after, limit=_CHUNK, with_attempts=attempts
                )
            yield from batch
            if len(batch) < _CHUNK:
                return
            after = batch[-1].id

    # ------------------------------------------------------------------ operator actions
    def fts_retry(self, job_id: int) -> TransferJob:
        """Put the FAILED files of a job back in the queue.

        Raises:
            NotFound: no such job.
            PermissionDenied: the caller neither owns the job nor is an administrator.
        """
        with self.catalog.transaction() as raw:
            q, g = self._queue(raw)
            _may_change(g, _job(q, job_id))
            q.retry_job(job_id, time.time())
            return q.job(job_id)

    def fts_cancel(self, job_id: int) -> TransferJob:
        """Cancel a job: its waiting and active files become CANCELED.

        Agents stop the active copies within seconds and remove them.

        Raises:
            NotFound: no such job.
            PermissionDenied: the caller neither owns the job nor is an administrator.
        """
        with self.catalog.transaction() as raw:
            q, g = self._queue(raw)
            _may_change(g, _job(q, job_id))
            q.cancel_job(job_id, time.time())
            return q.job(job_id)

    # ------------------------------------------------------------------ running
    def fts_run(
        self,
        job_id: int,
        *,
        callback: Callback | None = None,
        watch: Callable[[TransferJob], None] | None = None,
    ) -> TransferJob:
        """Work job ``job_id`` in this process until it is final, and return it.

        On SQLite, if a ``dfc fts agent`` is running it does the work; this
        call then follows the job until it is final.

        Args:
            job_id: the job.
            callback: byte progress (``set_size`` once, then ``relative_update``).
            watch: called about once a second with the job's state.

        Raises:
            NotFound: no such job.
            CatalogError: the queue failed.
        """
        job = self.fts_job(job_id)
        if callback is not None:
            with self._queue_reader() as q:
                callback.set_size(q.pending_bytes(job_id))
        if job.final:
            return job
        _sync.run(self._run_job(job_id, self._engine_parts(), callback, watch))
        return self.fts_job(job_id)

    async def _run_job(
        self,
        job_id: int,
        parts: tuple[CatalogStore, SEPool, EngineConfig],
        callback: Callback | None,
        watch: Callable[[TransferJob], None] | None,
    ) -> None:
        from dfc.fts.agent import run_agent
        from dfc.fts.job import AgentBusy

        store, pool, config = parts
        watcher = _Watcher(self, job_id, watch) if watch is not None else None
        if watcher is not None:
            watcher.start()
        try:
            await run_agent(store, pool, config, jobs=[job_id], callback=callback)
        except AgentBusy:
            await pool.aclose()
            await _follow(self, job_id, callback)
        finally:
            if watcher is not None:
                await watcher.stop()

    def fts_agent(
        self, *, once: bool = False, on_start: Callable[[int], None] | None = None
    ) -> EngineReport:
        """Run a transfer agent in this process (``dfc fts agent``).

        It works every job until stopped by SIGTERM/SIGINT, or with ``once``
        until nothing is left to do. Its active files go back to the queue when
        it stops; those of a killed agent are taken over by the others.

        Raises:
            AgentBusy: on SQLite, another agent is running.
            AgentLost: another agent declared this one dead; it stopped.
            CatalogError: the queue failed.
        """
        from dfc.fts.agent import run_agent

        store, pool, config = self._engine_parts()
        return _sync.run(run_agent(store, pool, config, once=once, signals=True, on_start=on_start))

    def _engine_parts(self) -> tuple[CatalogStore, SEPool, EngineConfig]:
        from dfc.fts.config import EngineConfig
        from dfc.fts.replicate import CatalogStore
        from dfc.fts.sources import SEPool

        config = EngineConfig.from_settings(self.settings)
        with self.catalog.reader() as raw:
            self._queue(raw)
            infos = {s.name: s for s in raw.list_ses()}
        store = CatalogStore(self.catalog)
        return store, SEPool(infos, self.settings.se_options), config

    # ------------------------------------------------------------------ foreground replication
    def _replicate_queued(
        self,
        lfns: Sequence[str],
        to: str,
        *,
        source: str | None,
        recursive: bool,
        callback: Callback | None,
    ) -> BulkResult[ReplicateResult]:
        """``replicate`` through the engine: submit a job, run it here, report per file."""
        from dfc.api._results import ReplicateResult
        from dfc.fts.job import FINAL_FILE_STATES, error_from

        result: BulkResult[ReplicateResult] = BulkResult()
        head = " ".join(lfns[:3]) + (f" (+{len(lfns) - 3})" if len(lfns) > 3 else "")
        sub = self.fts_submit(
            lfns,
            to,
            source=source,
            recursive=recursive,
            description=f"replicate {'-r ' if recursive else ''}{head} --to {to}",
        )
        result.failed.update(sub.failed)
        if sub.job is None:
            return result
        self.fts_run(sub.job.id, callback=callback)
        for f in self.fts_files(sub.job.id, attempts=True):
            if f.state == "FINISHED":
                bad = {a.source: a.error for a in f.attempts if a.state == "NOT_USED" and a.source}
                result.succeeded[f.lfn] = ReplicateResult(
                    f.lfn,
                    f.dest,
                    f.source,
                    0 if f.skipped else f.size,
                    skipped=f.skipped,
                    bad_replicas=bad,
                )
            elif f.state in FINAL_FILE_STATES:
                result.failed[f.lfn] = error_from(f.error_kind, f.error or f.state)
        return result


class _Watcher:
    """Calls ``watch(job)`` about once a second while a job runs."""

    def __init__(self, api: TransferMixin, job_id: int, watch: Callable[[TransferJob], None]):
        self._api = api
        self._job_id = job_id
        self._watch = watch
        self._task: Any = None

    def start(self) -> None:
        import asyncio

        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        import asyncio

        db = _sync.CatalogExecutor()
        try:
            while True:
                self._watch(await db(self._api.fts_job, self._job_id))
                await asyncio.sleep(1.0)
        finally:
            db.shutdown()

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


async def _follow(api: TransferMixin, job_id: int, callback: Callback | None) -> None:
    """Wait for another agent to finish ``job_id``, reporting its byte progress."""
    import asyncio

    db = _sync.CatalogExecutor()
    seen: int | None = None
    try:
        while True:
            job = await db(api.fts_job, job_id)
            if seen is None:
                seen = job.counts.bytes_done  # what was done before is not in the total
            if callback is not None and job.counts.bytes_done > seen:
                callback.relative_update(job.counts.bytes_done - seen)
                seen = job.counts.bytes_done
            if job.final:
                return
            await asyncio.sleep(0.5)
    finally:
        db.shutdown()


def _job(q: TransferQueue, job_id: int) -> TransferJob:
    try:
        return q.job(job_id)
    except LookupError:
        raise NotFound(f"no transfer job {job_id}") from None


def _may_change(g: ApiTx, job: TransferJob) -> None:
    me = g.whoami()
    if "admin" in me.properties or job.owner in (me.user, me.principal):
        return
    raise PermissionDenied(f"transfer job {job.id} belongs to {job.owner}")


def _chunks(items: Iterable[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _valid(names: Sequence[str], failed: dict[str, DFCError]) -> list[str]:
    out: list[str] = []
    for name in names:
        try:
            out.append(lfnmod.validate(name))
        except DFCError as exc:
            failed[name] = exc
    return out


def _refused(q: TransferQueue, g: ApiTx, job_id: int) -> dict[str, DFCError]:
    """Drop the files of the job the caller may not change; return them with the reason."""
    refused: dict[str, DFCError] = {}
    after = 0
    while True:
        batch = q.files(job_id, after=after, limit=_CHUNK)
        if not batch:
            return refused
        denied = g.access([f.lfn for f in batch], "write").failed
        if denied:
            q.drop_files(job_id, [f.id for f in batch if f.lfn in denied])
            refused.update(denied)
        after = batch[-1].id


def _plan_links(
    q: TransferQueue,
    job: TransferJob,
    to: str,
    source: str | None,
    ses: dict[str, SEInfo],
    plan: TransferPlan,
) -> None:
    from dfc.fts.sources import order_sources

    site = ses[to].site or None
    job_id = job.id
    links: dict[str, list[int]] = {}
    after = 0
    while True:
        rows = q.replica_sets(job_id, after=after, limit=_CHUNK)
        if not rows:
            break
        for _fid, lfn, size, reps in rows:
            ordered, unusable = order_sources(
                [Replica(se=se, path=lfn, status=status) for se, status in reps],
                ses,
                site,
                only=source,
                shuffle=False,
            )
            if not ordered:
                plan.no_source_count += 1
                if len(plan.no_source) < 1000:
                    why = "; ".join(f"{s}: {w}" for s, w in unusable.items())
                    plan.no_source[lfn] = why or "it has no replicas"
                continue
            acc = links.setdefault(ordered[0].se, [0, 0])
            acc[0] += 1
            acc[1] += size
        after = rows[-1][0]
    # With a named source, files without a replica there failed at submission.
    plan.no_source_count += job.counts.failed
    for fail in q.files(job_id, states=["FAILED"], limit=1000):
        plan.no_source[fail.lfn] = fail.error or "no usable source"
    plan.skipped_bytes = q.skipped_bytes(job_id)
    from dfc.fts.job import LinkPlan

    plan.links = [LinkPlan(src, to, n, b) for src, (n, b) in sorted(links.items())]
