"""The persistent transfer queue: jobs, their files, failed attempts, agents, links.

:class:`TransferQueue` works inside a catalogue transaction opened by the
caller (``TransferQueue(tx)`` with a :class:`~dfc.catalog.CatalogTx`), so that
a file can be marked FINISHED and its replica registered in one transaction.

Tables (migration 0003):

- ``fts_jobs``: one row per job with its priority and *counters* (files per
  state, bytes), updated in the same transaction as every file transition, so
  a job's state and progress cost one row read however many files it has;
- ``fts_files``: one row per (LFN, destination SE); ``attempt`` counts tries
  started, ``retries`` failed tries that were retried, ``retry_at`` gates the
  next try, ``agent_id`` holds the agent of an ACTIVE file;
- ``fts_attempts``: one row per failed try (or source abandoned for another),
  with its error: the history ``dfc fts status --files`` shows;
- ``fts_agents``: agents with their heartbeat;
- ``fts_links``: the optimizer's latest decision per (source, destination).

Times are seconds since the epoch (floats): they are compared on every claim.
State names are those of :mod:`dfc.fts.job`; final states never change except
through :meth:`TransferQueue.retry_job`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from dfc import lfn as _lfn
from dfc.catalog._base import TxBase, chunks, marks, path_between, prefix_range, values
from dfc.catalog._queue_rows import (
    FINAL_JOB_STATES,
    AgentRow,
    AttemptRecord,
    ClaimRow,
    JobCounts,
    LinkRow,
    Settlement,
    TransferAttempt,
    TransferFile,
    TransferJob,
    derive_job_state,
    file_from_row,
    job_from_row,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from sqlalchemy.engine import Connection

__all__ = [
    "AgentRow",
    "AttemptRecord",
    "ClaimRow",
    "JobCounts",
    "LinkRow",
    "Settlement",
    "TransferAttempt",
    "TransferFile",
    "TransferJob",
    "TransferQueue",
    "derive_job_state",
]

SUBMITTED, ACTIVE, FINISHED, FAILED, CANCELED = (
    "SUBMITTED",
    "ACTIVE",
    "FINISHED",
    "FAILED",
    "CANCELED",
)
_NO_DUPLICATES = "ON CONFLICT DO NOTHING"  # (job_id, dest_se, lfn): migration 0006
_FINAL_JOB = FINAL_JOB_STATES
_COUNTER = {SUBMITTED: "n_submitted", ACTIVE: "n_active", FINISHED: "n_finished"}
_COUNTER.update({FAILED: "n_failed", CANCELED: "n_canceled"})

_JOB_COLS = (
    "id, state, priority, owner, grp, created, updated, finished, source_se, description, "
    "canceled, n_files, n_submitted, n_active, n_finished, n_failed, n_canceled, n_skipped, "
    "bytes_total, bytes_done, retries"
)
_FILE_COLS = (
    "id, job_id, lfn, dest_se, state, size, source_se, attempt, retries, error, error_kind, "
    "skipped, started, finished, retry_at, agent_id"
)


class TransferQueue(TxBase):
    """Operations on the transfer queue inside the caller's transaction.

    Args:
        tx: a :class:`~dfc.catalog.CatalogTx` (or any transaction sharing its
            connection), or a SQLAlchemy connection in a transaction.
    """

    def __init__(self, tx: TxBase | Connection) -> None:
        super().__init__(tx._conn if isinstance(tx, TxBase) else tx)

    # ------------------------------------------------------------------ jobs
    def create_job(
        self,
        *,
        owner: str,
        group: str,
        priority: int,
        source: str | None,
        description: str,
        retries: int | None,
        now: float,
    ) -> int:
        """Create an empty job and return its id (fill it with :meth:`add_lfns`/:meth:`add_tree`).

        Raises:
            ValueError: ``priority`` is not 1..5.
        """
        if not 1 <= priority <= 5:
            raise ValueError(f"priority must be 1..5, not {priority}")
        row = self._q(
            "INSERT INTO fts_jobs (state, priority, owner, grp, created, updated, source_se, "
            "description, canceled, n_files, n_submitted, n_active, n_finished, n_failed, "
            "n_canceled, n_skipped, bytes_total, bytes_done, retries) "
            "VALUES ('SUBMITTED', ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, 0, 0, 0, 0, ?) "
            "RETURNING id",
            [priority, owner, group, now, now, source, description[:1000], False, retries],
        ).one()
        return int(row[0])

    def _insert_cols(self) -> str:
        return (
            "INSERT INTO fts_files (job_id, lfn, file_id, dest_se, state, size, attempt, retries, "
            "retry_at, skipped) "
        )

    def add_lfns(self, job_id: int, lfns: Sequence[str], dest: str) -> list[str]:
        """Queue the files ``lfns`` (valid LFNs) for ``dest``; return those that are not files.

        Duplicates within ``lfns`` are queued once. Call :meth:`seal_job` when
        the job is complete.
        """
        missing: list[str] = []
        for part in chunks(list(dict.fromkeys(lfns))):
            params: list[Any] = [job_id, dest]
            for i, lfn in enumerate(part):
                params += (lfn, _lfn.dirname(lfn), _lfn.basename(lfn), i)
            sql = (
                self._insert_cols() + "SELECT ?, v.column1, f.id, ?, 'SUBMITTED', f.size, 0, 0, "
                f"0, {self._false} FROM (VALUES {values(len(part), 4)}) v "
                "JOIN directories d ON d.path = v.column2 "
                "JOIN files f ON f.dir_id = d.id AND f.name = v.column3 WHERE 1 = 1 "
                f"ORDER BY v.column4 {_NO_DUPLICATES} RETURNING lfn"
            )
            found = {row[0] for row in self._q(sql, params)}
            absent = [lfn for lfn in part if lfn not in found]
            # Files queued already (by an earlier call) are not missing.
            queued = self._files_by_lfn(absent) if absent else {}
            missing.extend(lfn for lfn in absent if lfn not in queued)
        return missing

    @property
    def _false(self) -> str:
        return "0" if self._sqlite else "false"

    def add_tree(self, job_id: int, root: str, dest: str) -> int:
        """Queue every file below directory ``root`` for ``dest``; return how many."""
        below, params = path_between("d.path", *prefix_range(root), sqlite=self._sqlite)
        join = "CASE WHEN d.path = '/' THEN '/' || f.name ELSE d.path || '/' || f.name END"
        sql = (
            self._insert_cols() + f"SELECT ?, {join}, f.id, ?, 'SUBMITTED', f.size, 0, 0, 0, "
            f"{self._false} FROM directories d JOIN files f ON f.dir_id = d.id "
            f"WHERE d.path = ? OR ({below}) ORDER BY d.path, f.name " + _NO_DUPLICATES
        )
        return int(self._q(sql, [job_id, dest, root, *params]).rowcount)

    def seal_job(self, job_id: int, *, dest: str, source: str | None, now: float) -> TransferJob:
        """Finish a submission: count the files and derive the job's state.

        Files already at ``dest`` are FINISHED (skipped); with ``source``, files
        without a replica there are FAILED.

        Raises:
            LookupError: no such job.
        """
        ses = self._se_ids()
        if dest in ses:
            self._q(
                f"UPDATE fts_files SET state = 'FINISHED', skipped = {self._true}, finished = ? "
                "WHERE job_id = ? AND state = 'SUBMITTED' AND EXISTS (SELECT 1 FROM replicas r "
                "WHERE r.file_id = fts_files.file_id AND r.se_id = ?)",
                [now, job_id, ses[dest][0]],
            )
        if source is not None:
            src_id = ses[source][0] if source in ses else -1
            self._q(
                "UPDATE fts_files SET state = 'FAILED', finished = ?, error_kind = "
                "'ReplicaNotFound', error = lfn || ' has no replica at ' || ? "
                "WHERE job_id = ? AND state = 'SUBMITTED' AND NOT EXISTS (SELECT 1 FROM "
                "replicas r WHERE r.file_id = fts_files.file_id AND r.se_id = ?)",
                [now, source, job_id, src_id],
            )
        self.recount([job_id], now)
        return self.job(job_id)

    @property
    def _true(self) -> str:
        return "1" if self._sqlite else "true"

    def recount(self, job_ids: Iterable[int], now: float) -> None:
        """Recompute the counters of jobs from their files (after bulk changes)."""
        for job_id in sorted(set(job_ids)):
            rows = self._q(
                "SELECT state, COUNT(*), COALESCE(SUM(size), 0), "
                "SUM(CASE WHEN skipped THEN 1 ELSE 0 END) FROM fts_files "
                "WHERE job_id = ? GROUP BY state",
                [job_id],
            ).all()
            n = {s: (int(c), int(b), int(k or 0)) for s, c, b, k in rows}
            done = self._q(
                "SELECT COALESCE(SUM(size), 0) FROM fts_files WHERE job_id = ? "
                "AND state = 'FINISHED' AND NOT skipped",
                [job_id],
            ).scalar_one()
            self._q(
                "UPDATE fts_jobs SET n_files = ?, n_submitted = ?, n_active = ?, n_finished = ?, "
                "n_failed = ?, n_canceled = ?, n_skipped = ?, bytes_total = ?, bytes_done = ? "
                "WHERE id = ?",
                [
                    sum(c for c, _, _ in n.values()),
                    n.get(SUBMITTED, (0, 0, 0))[0],
                    n.get(ACTIVE, (0, 0, 0))[0],
                    n.get(FINISHED, (0, 0, 0))[0],
                    n.get(FAILED, (0, 0, 0))[0],
                    n.get(CANCELED, (0, 0, 0))[0],
                    n.get(FINISHED, (0, 0, 0))[2],
                    sum(b for _, b, _ in n.values()),
                    int(done),
                    job_id,
                ],
            )
        self._refresh_states(job_ids, now)

    def _refresh_states(self, job_ids: Iterable[int], now: float, *, touch: bool = True) -> None:
        """Derive the stored state of jobs from their counters (``touch``: set ``updated``)."""
        ids = sorted(set(job_ids))
        for part in chunks(ids):
            rows = self._q(
                f"SELECT {_JOB_COLS} FROM fts_jobs WHERE id IN ({marks(len(part))})", part
            ).all()
            for row in rows:
                job = job_from_row(row)
                state = derive_job_state(job.counts, canceled=job.canceled)
                final = state in _FINAL_JOB
                if state != job.state or (touch and not final):
                    self._q(
                        "UPDATE fts_jobs SET state = ?, updated = ?, finished = ? WHERE id = ?",
                        [state, now, (job.finished or now) if final else None, job.id],
                    )

    def _bump(self, deltas: dict[int, dict[str, int]], now: float) -> None:
        """Add ``deltas`` (job id -> counter column -> change) to the jobs' counters."""
        for job_id in sorted(deltas):
            cols = {c: d for c, d in deltas[job_id].items() if d}
            if not cols:
                continue
            sets = ", ".join(f"{c} = {c} + ?" for c in cols)
            self._q(
                f"UPDATE fts_jobs SET {sets}, updated = ? WHERE id = ?",
                [*cols.values(), now, job_id],
            )
        self._refresh_states(deltas, now, touch=False)

    # ------------------------------------------------------------------ reading
    def job(self, job_id: int) -> TransferJob:
        """Return job ``job_id``.

        Raises:
            LookupError: no such job.
        """
        row = self._q(f"SELECT {_JOB_COLS} FROM fts_jobs WHERE id = ?", [job_id]).first()
        if row is None:
            raise LookupError(f"no transfer job {job_id}")
        return job_from_row(row)

    def jobs(
        self, *, states: Sequence[str] | None = None, limit: int | None = None
    ) -> list[TransferJob]:
        """Return jobs, newest first, optionally only in ``states``."""
        sql = f"SELECT {_JOB_COLS} FROM fts_jobs"
        params: list[Any] = []
        if states:
            sql += f" WHERE state IN ({marks(len(states))})"
            params += states
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [job_from_row(r) for r in self._q(sql, params)]

    def files(
        self,
        job_id: int,
        *,
        states: Sequence[str] | None = None,
        after: int = 0,
        limit: int = 1000,
        with_attempts: bool = False,
    ) -> list[TransferFile]:
        """Return up to ``limit`` files of a job with ids above ``after``, by id."""
        sql = f"SELECT {_FILE_COLS} FROM fts_files WHERE job_id = ? AND id > ?"
        params: list[Any] = [job_id, after]
        if states:
            sql += f" AND state IN ({marks(len(states))})"
            params += states
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
        out = [file_from_row(r) for r in self._q(sql, params)]
        if not with_attempts or not out:
            return out
        tries = self.attempts([f.id for f in out])
        return [dataclasses.replace(f, attempts=tuple(tries.get(f.id, ()))) for f in out]

    def attempts(self, file_ids: Sequence[int]) -> dict[int, list[TransferAttempt]]:
        """Return the failed tries of files, oldest first."""
        out: dict[int, list[TransferAttempt]] = {}
        for part in chunks(sorted(set(file_ids))):
            sql = (
                "SELECT file_id, attempt, source_se, state, error, error_kind, time, agent_id "
                f"FROM fts_attempts WHERE file_id IN ({marks(len(part))}) ORDER BY id"
            )
            for fid, att, src, state, err, kind, when, agent in self._q(sql, part):
                out.setdefault(fid, []).append(
                    TransferAttempt(att, src, state, err, kind, float(when), agent)
                )
        return out

    def link_stats(self, job_id: int, *, since: float) -> list[LinkRow]:
        """Per (source, destination) counts of a job, bytes moved since ``since``."""
        sql = (
            "SELECT source_se, dest_se, state, COUNT(*), COALESCE(SUM(size), 0), "
            "COALESCE(SUM(CASE WHEN finished >= ? THEN size ELSE 0 END), 0) FROM fts_files "
            "WHERE job_id = ? AND NOT skipped GROUP BY source_se, dest_se, state"
        )
        acc: dict[tuple[str | None, str], dict[str, int]] = {}
        for src, dst, state, count, size, recent in self._q(sql, [since, job_id]):
            key = (src if state != SUBMITTED else None, dst)
            d = acc.setdefault(key, {})
            d[state] = d.get(state, 0) + int(count)
            if state == FINISHED:
                d["bytes"] = d.get("bytes", 0) + int(size)
                d["recent"] = d.get("recent", 0) + int(recent)
        limits = self.links()
        return [
            LinkRow(
                source=src,
                dest=dst,
                submitted=d.get(SUBMITTED, 0),
                active=d.get(ACTIVE, 0),
                finished=d.get(FINISHED, 0),
                failed=d.get(FAILED, 0),
                bytes_done=d.get("bytes", 0),
                recent_bytes=d.get("recent", 0),
                limit=limits.get((src, dst)) if src is not None else None,
            )
            for (src, dst), d in sorted(acc.items(), key=lambda kv: (kv[0][0] or "", kv[0][1]))
        ]

    def replica_sets(
        self, job_id: int, *, after: int = 0, limit: int = 2000
    ) -> list[tuple[int, str, int, list[tuple[str, str]]]]:
        """Return ``(file id, lfn, size, [(se, replica status)])`` of SUBMITTED files by id."""
        rows = self._q(
            "SELECT q.id, q.lfn, q.size, s.name, r.status FROM fts_files q "
            "LEFT JOIN replicas r ON r.file_id = q.file_id "
            "LEFT JOIN storage_elements s ON s.id = r.se_id "
            "WHERE q.id IN (SELECT id FROM fts_files WHERE job_id = ? AND id > ? "
            "AND state = 'SUBMITTED' ORDER BY id LIMIT ?) ORDER BY q.id",
            [job_id, after, limit],
        )
        out: list[tuple[int, str, int, list[tuple[str, str]]]] = []
        for fid, lfn, size, se, status in rows:
            if not out or out[-1][0] != fid:
                out.append((fid, lfn, int(size), []))
            if se is not None:
                out[-1][3].append((se, status))
        return out

    def pending_bytes(self, job_id: int) -> int:
        """Bytes of the files of a job still to copy (waiting or active)."""
        return int(
            self._q(
                "SELECT COALESCE(SUM(size), 0) FROM fts_files WHERE job_id = ? "
                "AND state IN ('SUBMITTED', 'ACTIVE')",
                [job_id],
            ).scalar_one()
        )

    def skipped_bytes(self, job_id: int) -> int:
        """Bytes of the files of a job that were at the destination already."""
        return int(
            self._q(
                "SELECT COALESCE(SUM(size), 0) FROM fts_files WHERE job_id = ? AND skipped",
                [job_id],
            ).scalar_one()
        )

    def drop_files(self, job_id: int, file_ids: Sequence[int]) -> None:
        """Remove files from a job being submitted (call :meth:`seal_job` afterwards)."""
        for part in chunks(sorted(set(file_ids))):
            self._q(
                f"DELETE FROM fts_files WHERE job_id = ? AND id IN ({marks(len(part))})",
                [job_id, *part],
            )

    # ------------------------------------------------------------------ operator actions
    def retry_job(self, job_id: int, now: float) -> int:
        """Put the FAILED files of a job back in the queue; return how many.

        Raises:
            LookupError: no such job.
        """
        self.job(job_id)
        count = self._q(
            "UPDATE fts_files SET state = 'SUBMITTED', retries = 0, retry_at = 0, agent_id = NULL, "
            "finished = NULL, error = NULL, error_kind = NULL "
            "WHERE job_id = ? AND state = 'FAILED'",
            [job_id],
        ).rowcount
        if count:
            self._q(
                "UPDATE fts_jobs SET finished = NULL, canceled = ? WHERE id = ?",
                [False, job_id],
            )
        self.recount([job_id], now)
        return int(count)

    def cancel_job(self, job_id: int, now: float) -> int:
        """Cancel the waiting and active files of a job; return how many.

        Agents holding active files notice and stop them.

        Raises:
            LookupError: no such job.
        """
        job = self.job(job_id)
        if job.final:
            return 0
        self._lock_job_files(job_id)
        count = self._q(
            "UPDATE fts_files SET state = 'CANCELED', finished = ?, error_kind = 'Canceled', "
            "error = 'canceled by the operator' "
            "WHERE job_id = ? AND state IN ('SUBMITTED', 'ACTIVE')",
            [now, job_id],
        ).rowcount
        self._q("UPDATE fts_jobs SET canceled = ? WHERE id = ?", [True, job_id])
        self.recount([job_id], now)
        return int(count)

    def _lock_job_files(self, job_id: int) -> None:
        if not self._sqlite:
            # Waits for claims in flight; never deadlocks with them (files first, then jobs).
            self._q(
                "SELECT id FROM fts_files WHERE job_id = ? AND state IN ('SUBMITTED', 'ACTIVE') "
                "ORDER BY id FOR UPDATE",
                [job_id],
            )

    def canceled_jobs(self, job_ids: Iterable[int]) -> set[int]:
        """Return those of ``job_ids`` the operator canceled."""
        out: set[int] = set()
        for part in chunks(sorted(set(job_ids))):
            sql = f"SELECT id FROM fts_jobs WHERE canceled = ? AND id IN ({marks(len(part))})"
            out.update(int(r[0]) for r in self._q(sql, [True, *part]))
        return out

    # ------------------------------------------------------------------ agents
    def register_agent(self, host: str, pid: int, now: float) -> int:
        """Record a new running agent and return its id."""
        row = self._q(
            "INSERT INTO fts_agents (host, pid, started, beat, state) "
            "VALUES (?, ?, ?, ?, 'running') RETURNING id",
            [host, pid, now, now],
        ).one()
        return int(row[0])

    def heartbeat(self, agent_id: int, now: float) -> bool:
        """Refresh an agent's heartbeat; False if it was declared dead meanwhile."""
        return bool(
            self._q(
                "UPDATE fts_agents SET beat = ? WHERE id = ? AND state = 'running'",
                [now, agent_id],
            ).rowcount
        )

    def stop_agent(self, agent_id: int, now: float) -> None:
        """Mark an agent stopped (it released its files)."""
        self._q(
            "UPDATE fts_agents SET state = 'stopped', beat = ? WHERE id = ? AND state = 'running'",
            [now, agent_id],
        )

    def agents(self, *, running_only: bool = False) -> list[AgentRow]:
        """Return agents, newest first."""
        sql = "SELECT id, host, pid, started, beat, state FROM fts_agents"
        if running_only:
            sql += " WHERE state = 'running'"
        return [
            AgentRow(int(i), h, int(p), float(s), float(b), st)
            for i, h, p, s, b, st in self._q(sql + " ORDER BY id DESC")
        ]

    def reap_agents(self, agent_id: int, *, older_than: float | None) -> list[int]:
        """Declare dead the running agents (other than ``agent_id``) silent since ``older_than``.

        ``older_than=None`` declares every other running agent dead (the caller
        knows it is alone, e.g. it holds the SQLite agent lock).
        """
        sql = "UPDATE fts_agents SET state = 'dead' WHERE state = 'running' AND id <> ?"
        params: list[Any] = [agent_id]
        if older_than is not None:
            sql += " AND beat < ?"
            params.append(older_than)
        return sorted(int(r[0]) for r in self._q(sql + " RETURNING id", params))

    def orphans(self, *, live: Iterable[int]) -> int:
        """Count ACTIVE files held by no live agent (to be taken over)."""
        ids = sorted(set(live))
        sql = "SELECT COUNT(*) FROM fts_files WHERE state = 'ACTIVE'"
        if ids:
            sql += f" AND (agent_id IS NULL OR agent_id NOT IN ({marks(len(ids))}))"
        return int(self._q(sql, ids).scalar_one())

    def take_over(
        self,
        agent_id: int,
        *,
        live: Iterable[int],
        now: float,
        job_ids: Iterable[int] | None = None,
    ) -> list[ClaimRow]:
        """Claim the ACTIVE files of agents not in ``live`` (dead ones) for ``agent_id``.

        Each gets a new try number and an attempt row saying what happened; it
        stays ACTIVE (the job's counters do not change). ``job_ids`` limits the
        takeover to those jobs.
        """
        ids = sorted(set(live) | {agent_id})
        lock = "" if self._sqlite else " FOR UPDATE SKIP LOCKED"
        sql = (
            "SELECT id, agent_id, attempt FROM fts_files WHERE state = 'ACTIVE' AND "
            f"(agent_id IS NULL OR agent_id NOT IN ({marks(len(ids))}))"
        )
        params: list[Any] = list(ids)
        if job_ids is not None:
            jobs = sorted(set(job_ids))
            if not jobs:
                return []
            sql += f" AND job_id IN ({marks(len(jobs))})"
            params += jobs
        rows = self._q(sql + f" ORDER BY id{lock}", params).all()
        if not rows:
            return []
        self._many(
            "INSERT INTO fts_attempts (file_id, attempt, source_se, state, error, error_kind, "
            "time, agent_id) VALUES (?, ?, NULL, 'FAILED', ?, 'AgentLost', ?, ?)",
            [
                (
                    fid,
                    att,
                    f"agent {dead} stopped working on it; taken over by agent {agent_id}",
                    now,
                    dead,
                )
                for fid, dead, att in rows
            ],
        )
        file_ids = [int(r[0]) for r in rows]
        for part in chunks(file_ids):
            self._q(
                "UPDATE fts_files SET agent_id = ?, attempt = attempt + 1, started = ? "
                f"WHERE id IN ({marks(len(part))})",
                [agent_id, now, *part],
            )
        return self._claim_rows(file_ids, recovered=True)

    def _claim_rows(self, file_ids: Sequence[int], *, recovered: bool) -> list[ClaimRow]:
        out: list[ClaimRow] = []
        for part in chunks(sorted(file_ids)):
            sql = (
                "SELECT f.id, f.job_id, f.lfn, f.dest_se, f.size, f.attempt, f.retries, "
                "j.priority, j.source_se, j.retries FROM fts_files f "
                f"JOIN fts_jobs j ON j.id = f.job_id WHERE f.id IN ({marks(len(part))}) "
                "ORDER BY f.id"
            )
            for r in self._q(sql, part):
                out.append(
                    ClaimRow(
                        int(r[0]),
                        int(r[1]),
                        r[2],
                        r[3],
                        int(r[4]),
                        int(r[5]),
                        int(r[6]),
                        int(r[7]),
                        r[8],
                        r[9],
                        recovered,
                    )
                )
        return out

    # ------------------------------------------------------------------ claiming
    def pending_jobs(self, job_ids: Iterable[int] | None = None) -> list[tuple[int, int]]:
        """Return ``(job id, priority)`` of jobs with waiting files, best first."""
        sql = "SELECT id, priority FROM fts_jobs WHERE n_submitted > 0 AND canceled = ?"
        params: list[Any] = [False]
        if job_ids is not None:
            ids = sorted(set(job_ids))
            if not ids:
                return []
            sql += f" AND id IN ({marks(len(ids))})"
            params += ids
        return [(int(i), int(p)) for i, p in self._q(sql + " ORDER BY priority DESC, id", params)]

    def next_retry(self, job_ids: Iterable[int] | None = None) -> float | None:
        """The earliest ``retry_at`` of waiting files (None when nothing waits)."""
        sql = "SELECT MIN(retry_at) FROM fts_files WHERE state = 'SUBMITTED'"
        params: list[Any] = []
        if job_ids is not None:
            ids = sorted(set(job_ids))
            if not ids:
                return None
            sql += f" AND job_id IN ({marks(len(ids))})"
            params += ids
        value = self._q(sql, params).scalar_one()
        return None if value is None else float(value)

    def claim(
        self, agent_id: int, limit: int, *, job_ids: Iterable[int] | None = None, now: float
    ) -> list[ClaimRow]:
        """Claim up to ``limit`` waiting files for ``agent_id`` (they become ACTIVE).

        Jobs of the highest priority with waiting files share the batch evenly
        (what one job leaves goes to the others, then to the next priority).
        On PostgreSQL rows are claimed with ``FOR UPDATE SKIP LOCKED``: agents
        claiming at the same time never get the same file.
        """
        jobs = self.pending_jobs(job_ids)
        picked: list[int] = []
        while jobs and len(picked) < limit:
            top = jobs[0][1]
            group = [j for j, p in jobs if p == top]
            jobs = [(j, p) for j, p in jobs if p != top]
            while group and len(picked) < limit:
                share = max(1, -(-(limit - len(picked)) // len(group)))
                still: list[int] = []
                for job_id in group:
                    want = min(share, limit - len(picked))
                    if want <= 0:
                        break
                    got = self._claim_job(job_id, want, now)
                    picked.extend(got)
                    if len(got) == want:
                        still.append(job_id)
                group = still
        if not picked:
            return []
        for part in chunks(picked):
            self._q(
                "UPDATE fts_files SET state = 'ACTIVE', agent_id = ?, attempt = attempt + 1, "
                f"started = ? WHERE id IN ({marks(len(part))})",
                [agent_id, now, *part],
            )
        rows = self._claim_rows(picked, recovered=False)
        deltas: dict[int, dict[str, int]] = {}
        for row in rows:
            d = deltas.setdefault(row.job_id, {"n_submitted": 0, "n_active": 0})
            d["n_submitted"] -= 1
            d["n_active"] += 1
        self._bump(deltas, now)
        return rows

    def _claim_job(self, job_id: int, limit: int, now: float) -> list[int]:
        lock = "" if self._sqlite else " FOR UPDATE SKIP LOCKED"
        rows = self._q(
            "SELECT id FROM fts_files WHERE job_id = ? AND state = 'SUBMITTED' AND retry_at <= ? "
            f"ORDER BY id LIMIT ?{lock}",
            [job_id, now, limit],
        )
        return [int(r[0]) for r in rows]

    # ------------------------------------------------------------------ settling
    def hold(self, agent_id: int, file_ids: Sequence[int]) -> set[int]:
        """Return those of ``file_ids`` still ACTIVE and held by ``agent_id``, locking them.

        Only those may be settled: a file the operator canceled or another agent
        took over is no longer this agent's.
        """
        lock = "" if self._sqlite else " ORDER BY id FOR UPDATE"
        out: set[int] = set()
        for part in chunks(sorted(set(file_ids))):
            sql = (
                "SELECT id FROM fts_files WHERE state = 'ACTIVE' AND agent_id = ? "
                f"AND id IN ({marks(len(part))}){lock}"
            )
            out.update(int(r[0]) for r in self._q(sql, [agent_id, *part]))
        return out

    def settle(self, agent_id: int, items: Sequence[Settlement], now: float) -> None:
        """End the tries of held files (see :meth:`hold`) and update their jobs."""
        fin: list[tuple[Any, ...]] = []
        fail: list[tuple[Any, ...]] = []
        again: list[tuple[Any, ...]] = []
        tries: list[tuple[Any, ...]] = []
        deltas: dict[int, dict[str, int]] = {}
        for s in items:
            d = deltas.setdefault(s.job_id, {})
            d["n_active"] = d.get("n_active", 0) - 1
            col = _COUNTER[s.state]
            d[col] = d.get(col, 0) + 1
            if s.state == FINISHED:
                fin.append((s.source, s.skipped, now, s.file_id))
                if s.skipped:
                    d["n_skipped"] = d.get("n_skipped", 0) + 1
                else:
                    d["bytes_done"] = d.get("bytes_done", 0) + s.size
            elif s.state == FAILED:
                fail.append((s.source, now, s.error, s.kind, s.file_id))
            else:
                again.append(
                    (s.source, s.retry_at, 1 if s.count_retry else 0, s.error, s.kind, s.file_id)
                )
            tries.extend(
                (s.file_id, s.attempt, a.source, a.state, a.error[:4000], a.kind, now, agent_id)
                for a in s.attempts
            )
        self._many(
            "UPDATE fts_files SET state = 'FINISHED', source_se = ?, skipped = ?, finished = ?, "
            "agent_id = NULL, error = NULL, error_kind = NULL WHERE id = ?",
            fin,
        )
        self._many(
            "UPDATE fts_files SET state = 'FAILED', source_se = ?, finished = ?, agent_id = NULL, "
            "error = ?, error_kind = ? WHERE id = ?",
            fail,
        )
        self._many(
            "UPDATE fts_files SET state = 'SUBMITTED', source_se = ?, retry_at = ?, "
            "retries = retries + ?, agent_id = NULL, error = ?, error_kind = ? WHERE id = ?",
            again,
        )
        self._many(
            "INSERT INTO fts_attempts (file_id, attempt, source_se, state, error, error_kind, "
            "time, agent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            tries,
        )
        self._bump(deltas, now)

    def states(self, file_ids: Sequence[int]) -> dict[int, str]:
        """Return the current state of each of ``file_ids``."""
        out: dict[int, str] = {}
        for part in chunks(sorted(set(file_ids))):
            sql = f"SELECT id, state FROM fts_files WHERE id IN ({marks(len(part))})"
            out.update((int(i), st) for i, st in self._q(sql, part))
        return out

    # ------------------------------------------------------------------ links
    def save_links(self, rows: Sequence[tuple[str, str, int, float, str]], now: float) -> None:
        """Store the optimizer's decisions ``(source, dest, limit, ema, reason)``."""
        self._many(
            "INSERT INTO fts_links (source_se, dest_se, active_limit, ema, reason, updated) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source_se, dest_se) DO UPDATE SET "
            "active_limit = excluded.active_limit, ema = excluded.ema, "
            "reason = excluded.reason, updated = excluded.updated",
            [(s, d, n, e, r[:500], now) for s, d, n, e, r in rows],
        )

    def links(self) -> dict[tuple[str, str], int]:
        """Return the latest concurrency limit per (source, destination)."""
        rows = self._q("SELECT source_se, dest_se, active_limit FROM fts_links")
        return {(s, d): int(n) for s, d, n in rows}

    def iter_jobs_files(
        self, job_id: int, *, states: Sequence[str] | None = None
    ) -> Iterator[TransferFile]:
        """Yield every file of a job (in batches), by id."""
        after = 0
        while True:
            batch = self.files(job_id, states=states, after=after, limit=2000)
            yield from batch
            if len(batch) < 2000:
                return
            after = batch[-1].id
