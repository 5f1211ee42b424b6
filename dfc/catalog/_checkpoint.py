"""Checkpoints of a SQLite catalogue's write-ahead log, after big commits, in the background."""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Connection

__all__ = ["BIG_COMMIT_ROWS", "Checkpointer", "autocheckpoint", "changed_rows"]

_log = logging.getLogger(__name__)

#: A write transaction that changed at least this many rows commits without
#: checkpointing; the background thread does it. (100k files with two replicas
#: each change 300k rows and write ~70 MB to the log; 10k rows, a few MB.)
BIG_COMMIT_ROWS = 10_000


def changed_rows(conn: Connection) -> int:
    """Rows inserted, updated or deleted on ``conn``'s SQLite connection since it opened."""
    total: int = conn.connection.dbapi_connection.total_changes  # type: ignore[union-attr]
    return total


def autocheckpoint(raw: Any, pages: int) -> int:
    """Set the log size (in pages) at which ``raw``'s commits checkpoint; return the old one.

    Args:
        raw: a ``sqlite3`` connection (or SQLAlchemy's proxy of one).
        pages: the new threshold; 0 turns SQLite's own checkpoints off.

    Raises:
        sqlite3.Error: the connection failed.
    """
    cursor = raw.cursor()
    try:
        (old,) = cursor.execute("PRAGMA wal_autocheckpoint").fetchone()
        cursor.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")
    finally:
        cursor.close()
    return int(old)


class Checkpointer:
    """Runs the write-ahead-log checkpoints of big commits in a thread of its own.

    SQLite checkpoints its log (copies the logged pages into the database file
    and flushes it) inside the COMMIT that takes the log past 1000 pages: after
    a bulk registration of 100k files that is ~70 MB and a tenth of the call.
    :class:`~dfc.catalog.db.Catalog` commits a transaction that changed
    :data:`BIG_COMMIT_ROWS` rows or more without it (``wal_autocheckpoint=0``
    for that COMMIT, then the connection's own setting again) and asks this
    thread for one (:meth:`request`), which runs meanwhile in PASSIVE mode: it
    neither waits for nor blocks readers and writers. Small transactions keep
    SQLite's own checkpoints. Thread-safe.

    Args:
        connect: opens (or checks out) a driver connection for one checkpoint;
            its ``close()`` gives it back.
    """

    __slots__ = ("__weakref__", "_closed", "_connect", "_pending", "_running", "_thread", "_wake")

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._wake = threading.Condition()
        self._pending = False
        self._running = False
        self._closed = False
        self._thread: threading.Thread | None = None
        _instances.add(self)

    def request(self) -> None:
        """Ask for a checkpoint (the thread starts on the first request)."""
        with self._wake:
            if self._closed:
                return
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="dfc-checkpoint", daemon=True)
                try:
                    thread.start()
                except RuntimeError as exc:  # no thread: SQLite checkpoints at a later commit
                    _log.warning("cannot start the catalogue's checkpoint thread: %s", exc)
                    return
                self._thread = thread
            self._pending = True
            self._wake.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no checkpoint is asked for or running; False on timeout."""
        with self._wake:
            return self._wake.wait_for(lambda: not (self._pending or self._running), timeout)

    def close(self) -> None:
        """Stop the thread, after the checkpoint it is running.

        A checkpoint asked for and not started is dropped: SQLite checkpoints
        when the last connection to the database closes.
        """
        with self._wake:
            self._closed = True
            self._pending = False
            self._wake.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._pending or self._closed)
                if not self._pending:
                    return
                self._pending, self._running = False, True
            try:
                self._checkpoint()
            except Exception as exc:  # noqa: BLE001 - the log waits for the next checkpoint
                _log.warning("background checkpoint of the catalogue failed: %s", exc)
            finally:
                with self._wake:
                    self._running = False
                    self._wake.notify_all()

    def _checkpoint(self) -> None:
        raw = self._connect()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                cursor.fetchall()
            finally:
                cursor.close()
        finally:
            raw.close()

    def _forked(self) -> None:
        # In a forked child: the parent's thread is not there, and the lock may
        # have been held by it at the fork.
        self._wake = threading.Condition()
        self._thread = None
        self._pending = self._running = False


_instances: weakref.WeakSet[Checkpointer] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for checkpointer in list(_instances):
        checkpointer._forked()


os.register_at_fork(after_in_child=_after_fork_in_child)
