"""A SQLite catalogue file on the standard library's ``sqlite3``, SQLAlchemy loaded on demand.

Importing SQLAlchemy takes ~0.1 s, more than the catalogue work of most
commands (`dfc ls`, `dfc put` of one file, ...). The hot paths of
:class:`~dfc.catalog.tx.CatalogTx` run driver-level SQL on the connection's own
cursor anyway, so for a plain SQLite file :class:`~dfc.catalog.db.Catalog`
opens ``sqlite3`` connections itself (:class:`LitePool`), set up as its
SQLAlchemy engine sets up its own (the same pragmas, ``BEGIN IMMEDIATE`` for
writers, ``query_only`` for readers), and hands transactions a
:class:`LiteConnection`: the part of SQLAlchemy's ``Connection`` interface that
the catalogue uses.

Statements written with SQLAlchemy Core (the identity registry's changes, the
transfer queue, ...) still work in such a transaction: the first one imports
SQLAlchemy and lends it the same ``sqlite3`` connection (:class:`_Lender`), in
the same transaction, through a wrapper that cannot commit, roll back or close
it, so that the transaction stays this module's to end.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dfc.catalog._checkpoint import BIG_COMMIT_ROWS, autocheckpoint

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sqlalchemy.engine import Connection, Engine

    from dfc.catalog._checkpoint import Checkpointer

__all__ = ["LiteConnection", "LitePool", "lite_database"]

#: URL prefixes of SQLAlchemy's default SQLite driver, which is ``sqlite3``.
_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")


def lite_database(url: str) -> str | None:
    """Return the file of a plain SQLite URL (``sqlite:///path``), else None.

    None for every URL this module does not open itself: other databases, an
    in-memory database, ``file:`` URIs, and URLs with a query or escapes.
    """
    for prefix in _PREFIXES:
        if url.startswith(prefix):
            path = url[len(prefix) :]
            plain = path not in ("", ":memory:") and not path.startswith("file:")
            return path if plain and not any(c in path for c in "?#%") else None
    return None


class _Dialect:
    """What the catalogue reads of a SQLAlchemy dialect."""

    name = "sqlite"
    loaded_dbapi = sqlite3
    #: Read by ``sqlalchemy.exc.DBAPIError.instance`` (the driver's names are SQLAlchemy's).
    dbapi_exception_translation_map: dict[str, str] = {}  # noqa: RUF012 - read only


class _Quiet:
    """What the catalogue reads of a SQLAlchemy engine: no statement logging."""

    echo = False


class _Borrowed:
    """A ``sqlite3`` connection lent to SQLAlchemy: it cannot end the transaction or close it.

    SQLAlchemy rolls back and closes the connections of its pool as it pleases;
    those calls do nothing here. Everything else goes to the real connection.
    """

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def commit(self) -> None:
        """Do nothing: the lender commits."""

    def rollback(self) -> None:
        """Do nothing: the lender rolls back."""

    def close(self) -> None:
        """Do nothing: the lender's pool closes the connection."""


class _Lender:
    """Makes SQLAlchemy connections over ``sqlite3`` connections in their transactions."""

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._handed = threading.local()

    def borrow(self, raw: sqlite3.Connection) -> Connection:
        """A SQLAlchemy connection over ``raw``; close it before the transaction ends."""
        with self._lock:
            if self._engine is None:
                from sqlalchemy import create_engine
                from sqlalchemy.pool import NullPool

                self._engine = create_engine("sqlite://", creator=self._take, poolclass=NullPool)
            engine = self._engine
        self._handed.raw = raw
        try:
            return engine.connect()
        finally:
            self._handed.raw = None

    def _take(self) -> _Borrowed:
        return _Borrowed(self._handed.raw)

    def dispose(self) -> None:
        """Forget the engine (its pool holds nothing)."""
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()


class LiteConnection:
    """A ``sqlite3`` connection in a transaction, as :class:`~dfc.catalog.tx.CatalogTx` uses it.

    ``connection`` is the driver's connection (the catalogue's hot paths run
    their SQL on its cursor); ``execute`` and ``exec_driver_sql`` run on a
    SQLAlchemy connection lent the same connection, made on first use.
    """

    dialect = _Dialect()
    engine = _Quiet()

    def __init__(self, raw: sqlite3.Connection, lender: _Lender) -> None:
        self.connection = raw
        self._lender = lender
        self._sa: Connection | None = None

    def _borrowed(self) -> Connection:
        if self._sa is None:
            self._sa = self._lender.borrow(self.connection)
        return self._sa

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        """Run a SQLAlchemy statement (see ``sqlalchemy.engine.Connection.execute``).

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the statement failed.
        """
        return self._borrowed().execute(*args, **kwargs)

    def exec_driver_sql(self, *args: Any, **kwargs: Any) -> Any:
        """Run driver SQL through SQLAlchemy (see ``Connection.exec_driver_sql``).

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the statement failed.
        """
        return self._borrowed().exec_driver_sql(*args, **kwargs)

    def release(self) -> None:
        """Give up the SQLAlchemy connection, if one was made (the transaction goes on)."""
        sa, self._sa = self._sa, None
        if sa is not None:
            sa.close()


class _Slot:
    """A pooled connection and the mode (``query_only`` or not) it was left in."""

    __slots__ = ("generation", "raw", "write")

    def __init__(self, raw: sqlite3.Connection, generation: int) -> None:
        self.raw = raw
        self.generation = generation
        self.write: bool | None = None


def _quietly(call: Callable[[], object]) -> bool:
    """Run ``call``; False if it raised (the connection is then not reused)."""
    try:
        call()
    except Exception:  # noqa: BLE001 - the caller drops the connection
        return False
    return True


class LitePool:
    """``sqlite3`` connections to one catalogue file, kept for reuse. Thread-safe.

    Args:
        path: the database file.
        setup: runs on every new connection (pragmas), as the engine's ``connect`` event.
        busy_timeout: seconds to wait for another writer's lock.
        keep: idle connections kept open at most.
    """

    def __init__(
        self,
        path: str,
        setup: Callable[[sqlite3.Connection, None], None],
        *,
        busy_timeout: float,
        keep: int = 5,
    ) -> None:
        self._path = os.path.abspath(path)  # as SQLAlchemy does, once
        self._setup = setup
        self._timeout = busy_timeout
        self._keep = keep
        self._idle: list[_Slot] = []
        self._lock = threading.Lock()
        self._generation = 0
        self._pid = os.getpid()
        self._orphans: list[sqlite3.Connection] = []
        self._lender = _Lender()

    def open(self) -> sqlite3.Connection:
        """Open a new connection, set up (its caller closes it).

        Raises:
            sqlite3.Error: the database cannot be opened.
        """
        raw = sqlite3.connect(
            self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        try:
            self._setup(raw, None)
        except BaseException:
            raw.close()
            raise
        return raw

    def _acquire(self) -> _Slot:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's connections are not ours
                # Kept, never used nor closed: closing them here could disturb the parent's.
                self._orphans += (slot.raw for slot in self._idle)
                self._idle, self._pid = [], os.getpid()
                self._generation += 1
            if self._idle:
                return self._idle.pop()
            generation = self._generation
        return _Slot(self.open(), generation)

    def _release(self, slot: _Slot, *, reuse: bool) -> None:
        with self._lock:
            if reuse and slot.generation == self._generation and len(self._idle) < self._keep:
                self._idle.append(slot)
                return
        _quietly(slot.raw.close)

    @contextmanager
    def transaction(
        self, *, write: bool, checkpointer: Checkpointer | None
    ) -> Iterator[LiteConnection]:
        """Yield a :class:`LiteConnection` in a transaction; commit (writers) or roll back.

        A writer takes the write lock up front (``BEGIN IMMEDIATE``), a reader
        is read-only (``query_only``), as the engine's ``begin`` event does. A
        write that changed :data:`BIG_COMMIT_ROWS` rows or more commits without
        checkpointing, and asks ``checkpointer`` for one.

        Raises:
            sqlite3.Error: the database failed (locked for too long, ...).
        """
        slot = self._acquire()
        raw, reuse = slot.raw, False
        try:
            if slot.write is not write:
                raw.execute(f"PRAGMA query_only={0 if write else 1}")
                slot.write = write
            raw.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            conn = LiteConnection(raw, self._lender)
            start = raw.total_changes
            try:
                yield conn
                conn.release()
            except BaseException:
                _quietly(conn.release)
                reuse = _quietly(raw.rollback)
                raise
            if not write:
                raw.rollback()
            elif checkpointer is None or raw.total_changes - start < BIG_COMMIT_ROWS:
                self._commit(raw)
            else:
                pages = autocheckpoint(raw, 0)  # this COMMIT leaves it to the background
                try:
                    self._commit(raw)
                finally:  # committed or not, the connection checkpoints again, or goes
                    restored = _quietly(lambda: autocheckpoint(raw, pages))
                checkpointer.request()
                reuse = restored
                return
            reuse = True
        finally:
            self._release(slot, reuse=reuse)

    @staticmethod
    def _commit(raw: sqlite3.Connection) -> None:
        try:
            raw.commit()
        except BaseException:
            _quietly(raw.rollback)
            raise

    def close(self) -> None:
        """Close the idle connections; those in use close when released. Reusable after."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
        for slot in idle:
            _quietly(slot.raw.close)
        self._lender.dispose()
