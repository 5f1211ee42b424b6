"""Task and job state, in SQLite (default) or the catalogue's PostgreSQL.

Two tables, ``wms_tasks`` and ``wms_jobs``, created on first use (a
``wms_schema`` row records the version). Job state changes are
compare-and-set updates (``expect=``), so that the local runner, a ``kill`` and
the reconciliation with the batch system never overwrite each other's verdict.

Job states: ``created`` (recorded) -> ``queued`` (submitted) -> ``running``
-> ``done``, ``failed`` or ``killed``; ``kill`` stops queued and running jobs,
``resubmit`` queues failed, killed and never-submitted ones again.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event

from wms_bridge.errors import BackendError, JobNotFound, TaskNotFound

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from sqlalchemy.engine import Connection

__all__ = [
    "ACTIVE",
    "FINAL",
    "STATES",
    "JobDB",
    "JobRow",
    "TaskRow",
]

SCHEMA_VERSION = 1
STATES = ("created", "queued", "running", "done", "failed", "killed")
ACTIVE = frozenset({"queued", "running"})
FINAL = frozenset({"done", "failed", "killed"})

metadata = sa.MetaData()

schema = sa.Table(
    "wms_schema",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
)

tasks = sa.Table(
    "wms_tasks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, index=True),
    sa.Column("owner", sa.String(100), nullable=False),
    sa.Column("backend", sa.String(20), nullable=False),
    sa.Column("task_dir", sa.Text, nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

jobs = sa.Table(
    "wms_jobs",
    metadata,
    sa.Column(
        "task_id", sa.Integer, sa.ForeignKey("wms_tasks.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("idx", sa.Integer, primary_key=True),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("backend", sa.String(20), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False, default=0),
    sa.Column("backend_id", sa.String(100)),
    sa.Column("exit_code", sa.Integer),
    sa.Column("reason", sa.Text),
    sa.Column("phase", sa.String(20)),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("vars", sa.JSON, nullable=False),
    sa.Column("outputs", sa.JSON),
    sa.Column("host", sa.String(255)),
    sa.Column("submitted", sa.Float),
    sa.Column("started", sa.Float),
    sa.Column("finished", sa.Float),
    sa.Column("updated", sa.Float, nullable=False),
    sa.Index("ix_wms_jobs_state", "backend", "state"),
)

#: Columns a caller may change with :meth:`JobDB.update_job`.
MUTABLE = frozenset(
    {
        "state",
        "attempt",
        "backend_id",
        "exit_code",
        "reason",
        "phase",
        "outputs",
        "host",
        "submitted",
        "started",
        "finished",
    }
)


@dataclass(frozen=True)
class TaskRow:
    """A task as stored."""

    id: int
    name: str
    owner: str
    backend: str
    task_dir: str
    spec: dict[str, Any]
    created: float


@dataclass(frozen=True)
class JobRow:
    """A job as stored."""

    task_id: int
    idx: int
    state: str
    backend: str
    attempt: int
    backend_id: str | None
    exit_code: int | None
    reason: str | None
    phase: str | None
    inputs: list[str]
    vars: dict[str, str]
    outputs: list[dict[str, Any]] | None
    host: str | None
    submitted: float | None
    started: float | None
    finished: float | None
    updated: float

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.state in ACTIVE

    @property
    def final(self) -> bool:
        """Done, failed or killed."""
        return self.state in FINAL


class JobDB:
    """The task/job database at SQLAlchemy ``url``.

    Raises:
        BackendError: the database cannot be opened, or has a newer schema.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 60}
            _make_parent(url)
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = sa.create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self._prepare()
        except sa.exc.SQLAlchemyError as exc:
            self.engine.dispose()
            raise BackendError(
                f"job database {_mask(url)}: {exc.__class__.__name__}: {exc}"
            ) from None

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    def _prepare(self) -> None:
        with self.engine.begin() as conn:
            metadata.create_all(conn, checkfirst=True)
            found = conn.execute(sa.select(sa.func.max(schema.c.version))).scalar()
            if found is None:
                conn.execute(schema.insert().values(version=SCHEMA_VERSION))
            elif found > SCHEMA_VERSION:
                raise BackendError(
                    f"job database {_mask(self.url)} has schema {found}; this wms_bridge "
                    f"knows {SCHEMA_VERSION}: upgrade wms_bridge"
                )

    # ------------------------------------------------------------------ tasks
    def create_task(
        self,
        *,
        name: str,
        owner: str,
        backend: str,
        task_dir: str,
        spec: dict[str, Any],
        jobs_: Sequence[tuple[int, Sequence[str], dict[str, str]]],
    ) -> TaskRow:
        """Record a task and its jobs (state ``created``); return the task.

        ``task_dir`` may contain ``{id}``, replaced by the new task's id.
        """
        now = time.time()
        with self._begin() as conn:
            inserted = conn.execute(
                tasks.insert().values(
                    name=name, owner=owner, backend=backend, task_dir="", spec=spec, created=now
                )
            ).inserted_primary_key
            assert inserted is not None
            task_id = inserted[0]
            real_dir = task_dir.replace("{id}", str(task_id))
            conn.execute(tasks.update().where(tasks.c.id == task_id).values(task_dir=real_dir))
            rows = [
                {
                    "task_id": task_id,
                    "idx": idx,
                    "state": "created",
                    "backend": backend,
                    "attempt": 0,
                    "inputs": list(lfns),
                    "vars": dict(vars_),
                    "updated": now,
                }
                for idx, lfns, vars_ in jobs_
            ]
            for start in range(0, len(rows), 500):
                conn.execute(jobs.insert(), rows[start : start + 500])
        return self.task(int(task_id))

    def task(self, ref: int | str, *, owner: str | None = None) -> TaskRow:
        """The task with id ``ref`` or, for a name, the newest task of that name.

        ``owner`` limits the choice by name to that user's tasks.

        Raises:
            TaskNotFound: no such task.
        """
        query = sa.select(tasks)
        if isinstance(ref, int) or str(ref).isdigit():
            query = query.where(tasks.c.id == int(ref))
        else:
            query = query.where(tasks.c.name == ref).order_by(tasks.c.id.desc()).limit(1)
            if owner is not None:
                query = query.where(tasks.c.owner == owner)
        with self._connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise TaskNotFound(f"no task {ref!r} (see `dfc-job list`)")
        return _task(row)

    def tasks(self, *, owner: str | None = None) -> list[TaskRow]:
        """Every task (of ``owner``, if given), oldest first."""
        query = sa.select(tasks).order_by(tasks.c.id)
        if owner is not None:
            query = query.where(tasks.c.owner == owner)
        with self._connect() as conn:
            return [_task(r) for r in conn.execute(query)]

    def counts(self) -> dict[int, dict[str, int]]:
        """Per task id: the number of jobs in each state."""
        query = sa.select(jobs.c.task_id, jobs.c.state, sa.func.count()).group_by(
            jobs.c.task_id, jobs.c.state
        )
        out: dict[int, dict[str, int]] = {}
        with self._connect() as conn:
            for task_id, state, count in conn.execute(query):
                out.setdefault(task_id, {})[state] = count
        return out

    # ------------------------------------------------------------------ jobs
    def jobs(
        self,
        task_id: int,
        *,
        indices: Iterable[int] | None = None,
        states: Iterable[str] | None = None,
    ) -> list[JobRow]:
        """The jobs of a task, by index, optionally only some indices or states."""
        query = sa.select(jobs).where(jobs.c.task_id == task_id).order_by(jobs.c.idx)
        if states is not None:
            query = query.where(jobs.c.state.in_(list(states)))
        wanted = None if indices is None else set(indices)
        with self._connect() as conn:
            rows = [_job(r) for r in conn.execute(query)]
        return rows if wanted is None else [r for r in rows if r.idx in wanted]

    def job(self, task_id: int, idx: int) -> JobRow:
        """One job.

        Raises:
            JobNotFound: the task has no job ``idx``.
        """
        with self._connect() as conn:
            row = conn.execute(
                sa.select(jobs).where(jobs.c.task_id == task_id, jobs.c.idx == idx)
            ).first()
        if row is None:
            raise JobNotFound(f"task {task_id} has no job {idx}")
        return _job(row)

    def active(self, backend: str) -> list[JobRow]:
        """Every queued or running job of ``backend``, oldest task first."""
        query = (
            sa.select(jobs)
            .where(jobs.c.backend == backend, jobs.c.state.in_(list(ACTIVE)))
            .order_by(jobs.c.task_id, jobs.c.idx)
        )
        with self._connect() as conn:
            return [_job(r) for r in conn.execute(query)]

    def update_job(
        self, task_id: int, idx: int, *, expect: Iterable[str] | None = None, **values: Any
    ) -> bool:
        """Change a job's columns, only if its state is in ``expect`` (when given).

        Returns:
            Whether the row was changed.
        """
        return self.update_jobs(task_id, [idx], expect=expect, **values) == 1

    def update_jobs(
        self,
        task_id: int,
        indices: Iterable[int],
        *,
        expect: Iterable[str] | None = None,
        **values: Any,
    ) -> int:
        """Change several jobs alike (compare-and-set on state); return how many changed."""
        bad = set(values) - MUTABLE
        if bad:
            raise ValueError(f"not updatable: {sorted(bad)}")
        idx = list(indices)
        changed = 0
        with self._begin() as conn:
            for start in range(0, len(idx), 500):
                query = (
                    jobs.update()
                    .where(jobs.c.task_id == task_id, jobs.c.idx.in_(idx[start : start + 500]))
                    .values(updated=time.time(), **values)
                )
                if expect is not None:
                    query = query.where(jobs.c.state.in_(list(expect)))
                changed += conn.execute(query).rowcount
        return changed

    @contextlib.contextmanager
    def _begin(self) -> Iterator[Connection]:
        with _translated(self.url), self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Connection]:
        with _translated(self.url), self.engine.connect() as conn:
            yield conn


@contextlib.contextmanager
def _translated(url: str) -> Iterator[None]:
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        raise BackendError(f"job database {_mask(url)}: {exc.__class__.__name__}: {exc}") from None


def _task(row: Any) -> TaskRow:
    spec = row.spec if isinstance(row.spec, dict) else json.loads(row.spec)
    return TaskRow(row.id, row.name, row.owner, row.backend, row.task_dir, spec, row.created)


def _job(row: Any) -> JobRow:
    return JobRow(
        task_id=row.task_id,
        idx=row.idx,
        state=row.state,
        backend=row.backend,
        attempt=row.attempt,
        backend_id=row.backend_id,
        exit_code=row.exit_code,
        reason=row.reason,
        phase=row.phase,
        inputs=list(row.inputs or []),
        vars=dict(row.vars or {}),
        outputs=row.outputs,
        host=row.host,
        submitted=row.submitted,
        started=row.started,
        finished=row.finished,
        updated=row.updated,
    )


def _make_parent(url: str) -> None:
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(f"cannot create {Path(database).parent}: {exc.strerror}") from None


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _mask(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url
