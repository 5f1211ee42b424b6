"""The engine's queue over the catalogue: the one module of dfc.fts touching dfc.catalog.

:class:`CatalogStore` implements :class:`dfc.fts.engine.Store`: claims come
with the files' catalogue entries (size, checksums, replicas), and a settle
transaction marks copies FINISHED *and* registers their replicas, so a file is
never finished without its replica nor registered without being finished. A
replica that cannot be registered (the LFN was removed meanwhile, another
replica sits at that SE) makes the file FAILED in the same transaction; the
engine then removes the copy.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from dfc.catalog import TransferQueue
from dfc.catalog.queue import AttemptRecord, Settlement
from dfc.fts.engine import SettleReport
from dfc.fts.job import FileState, Outcome, Task
from dfc.models import Replica

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path

    from dfc.catalog import Catalog, CatalogTx
    from dfc.catalog.queue import ClaimRow
    from dfc.models import Entry, SEInfo

__all__ = ["CatalogStore"]

_POLL = 1.0


class CatalogStore:
    """The transfer queue of one catalogue, as the engine and agents use it.

    Args:
        catalog: the catalogue (the queue lives in its database).
        clock: the time source (seconds since the epoch).
    """

    def __init__(self, catalog: Catalog, *, clock: Callable[[], float] = time.time) -> None:
        self.catalog = catalog
        self.clock = clock

    def lock_path(self) -> Path | None:
        """Where the one-agent lock of an SQLite catalogue lives (None on PostgreSQL)."""
        db = self.catalog.sqlite_file
        return None if db is None else db.with_name(db.name + ".fts-agent.lock")

    # ------------------------------------------------------------------ agents
    def register_agent(self, host: str, pid: int) -> int:
        """Record a running agent; return its id."""
        with self.catalog.transaction() as tx:
            return TransferQueue(tx).register_agent(host, pid, self.clock())

    def stop_agent(self, agent_id: int) -> None:
        """Mark an agent stopped."""
        with self.catalog.transaction() as tx:
            TransferQueue(tx).stop_agent(agent_id, self.clock())

    def heartbeat(self, agent_id: int) -> bool:
        """Refresh the agent's heartbeat; False if it was declared dead."""
        with self.catalog.transaction() as tx:
            return TransferQueue(tx).heartbeat(agent_id, self.clock())

    def take_over(
        self, agent_id: int, *, grace: float | None, jobs: frozenset[int] | None
    ) -> list[Task]:
        """Declare silent agents dead (all others if ``grace`` is None); claim their files."""
        now = self.clock()
        with self.catalog.transaction() as tx:
            q = TransferQueue(tx)
            q.reap_agents(agent_id, older_than=None if grace is None else now - grace)
            live = [a.id for a in q.agents(running_only=True)]
            rows = q.take_over(agent_id, live=live, now=now, job_ids=jobs)
            entries = _entries(tx, rows)
        return [_task(r, entries.get(r.lfn)) for r in rows]

    # ------------------------------------------------------------------ work
    def claim(self, agent_id: int, limit: int, jobs: frozenset[int] | None) -> list[Task]:
        """Claim up to ``limit`` waiting files, with their catalogue entries."""
        with self.catalog.transaction() as tx:
            rows = TransferQueue(tx).claim(agent_id, limit, job_ids=jobs, now=self.clock())
            entries = _entries(tx, rows)
        return [_task(r, entries.get(r.lfn)) for r in rows]

    def settle(self, agent_id: int, outcomes: Sequence[Outcome]) -> SettleReport:
        """Record ended tries, registering finished replicas, in one transaction."""
        report = SettleReport()
        with self.catalog.transaction() as tx:
            q = TransferQueue(tx)
            held = q.hold(agent_id, [o.task.id for o in outcomes])
            mine = [o for o in outcomes if o.task.id in held]
            lost = [o for o in outcomes if o.task.id not in held]
            register = [
                o for o in mine if o.state == FileState.FINISHED and not o.skipped and o.path
            ]
            if register:
                done = tx.add_replicas(
                    [(o.task.lfn, Replica(se=o.task.dest, path=o.path or "")) for o in register]
                )
                for o in register:
                    err = done.failed.get(o.task.lfn)
                    if err is not None:
                        o.state, o.error = FileState.FAILED, err
                        report.unregistered.append(o)
            q.settle(agent_id, [_settlement(o) for o in mine], self.clock())
            if lost:
                states = q.states([o.task.id for o in lost])
                report.lost = [(o, states.get(o.task.id, "")) for o in lost]
        return report

    def canceled(self, job_ids: Iterable[int]) -> set[int]:
        """Those of ``job_ids`` that were canceled."""
        with self.catalog.reader() as tx:
            return TransferQueue(tx).canceled_jobs(job_ids)

    def work_left(self, agent_id: int, jobs: frozenset[int] | None) -> float | None:
        """None when nothing is left to do, else the earliest time to look again.

        Nothing is left when the engine's jobs are final, or (all jobs) when no
        file waits and none is active anywhere.
        """
        now = self.clock()
        with self.catalog.reader() as tx:
            q = TransferQueue(tx)
            if jobs is not None:
                if all(q.job(j).final for j in jobs):
                    return None
                nxt = q.next_retry(jobs)
                return now + _POLL if nxt is None else nxt
            nxt = q.next_retry(None)
            if nxt is not None:
                return nxt
            # Files other agents hold may come back (their agent dies and they are
            # taken over after the grace period): the queue is drained when none is left.
            return now + _POLL if q.orphans(live=[agent_id]) else None

    def ses(self) -> dict[str, SEInfo]:
        """The registered storage elements by name."""
        with self.catalog.reader() as tx:
            return {s.name: s for s in tx.list_ses()}

    def save_links(self, rows: Sequence[tuple[str, str, int, float, str]]) -> None:
        """Store the optimizer's decisions."""
        with self.catalog.transaction() as tx:
            TransferQueue(tx).save_links(rows, self.clock())


def _entries(tx: CatalogTx, rows: Sequence[ClaimRow]) -> dict[str, Entry]:
    lfns = list(dict.fromkeys(r.lfn for r in rows))
    return tx.stat(lfns).succeeded if lfns else {}


def _task(row: ClaimRow, entry: Entry | None) -> Task:
    return Task(
        id=row.id,
        job_id=row.job_id,
        lfn=row.lfn,
        dest=row.dest,
        size=entry.size if entry is not None and not entry.is_dir else row.size,
        attempt=row.attempt,
        retries=row.retries,
        priority=row.priority,
        only_source=row.source,
        max_retries=row.job_retries,
        recovered=row.recovered,
        entry=entry if entry is not None and not entry.is_dir else None,
    )


def _settlement(o: Outcome) -> Settlement:
    tries = [AttemptRecord(t.source, str(t.state), str(t.error), t.error.kind) for t in o.tries]
    if o.state != FileState.FINISHED and o.error is not None:
        tries.append(AttemptRecord(o.source, "FAILED", str(o.error), o.error.kind))
    return Settlement(
        file_id=o.task.id,
        job_id=o.task.job_id,
        size=o.task.size,
        state=str(o.state),
        source=o.source,
        skipped=o.skipped,
        error=None if o.error is None else str(o.error),
        kind=None if o.error is None else o.error.kind,
        retry_at=o.retry_at,
        count_retry=o.count_retry,
        attempts=tries,
        attempt=o.task.attempt,
    )
