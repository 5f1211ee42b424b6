"""The :class:`Catalog`: engine, schema upgrade and transactions.

A plain SQLite file is opened on ``sqlite3`` directly (:mod:`dfc.catalog._lite`),
so that a command does not wait for SQLAlchemy's import; every other URL, and
``echo``, goes through a SQLAlchemy engine. Both open, begin and check their
connections the same way.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from dfc.catalog import _version
from dfc.catalog._base import driver_cursor
from dfc.catalog._checkpoint import BIG_COMMIT_ROWS, Checkpointer, autocheckpoint, changed_rows
from dfc.catalog._errors import translate
from dfc.catalog._lite import LitePool, lite_database
from dfc.catalog.tx import CatalogTx
from dfc.errors import CatalogError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from sqlalchemy.engine import URL, Connection, Engine

__all__ = ["Catalog"]

_SQLITE_BUSY_SECONDS = 30.0
#: Page size of a new SQLite catalogue: bulk registration of 1M files runs ~15 %
#: faster with 16 KiB pages than with SQLite's 4 KiB (fewer page splits and
#: shallower B-trees for the per-row index and foreign-key work), a one-file
#: write transaction ~0.06 ms slower (more bytes per logged page); 32 KiB gained
#: ~10 % more in bulk and made a one-file commit ~60 % slower than with 4 KiB
#: (bench/RESULTS.md).
_SQLITE_PAGE_SIZE = 16384


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook emit BEGIN itself (pysqlite's own implicit
    # transactions would defer the lock and break BEGIN IMMEDIATE).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    try:
        # Takes effect only on a new, empty database (before WAL mode is set).
        cur.execute(f"PRAGMA page_size={_SQLITE_PAGE_SIZE}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA temp_store=MEMORY")
    finally:
        cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # Writers take the write lock up front (no deadlock-prone lock upgrades);
    # readers are read-only, as on PostgreSQL.
    # A pooled connection remembers its mode: the PRAGMA runs only on a change.
    # On the driver's cursor: SQLAlchemy's execution context costs more than these take.
    write = conn.get_execution_options().get("dfc_write", True)
    info = conn.connection.info
    if info.get("dfc_write") is not write:
        _driver_execute(conn, f"PRAGMA query_only={0 if write else 1}")
        info["dfc_write"] = write
    _driver_execute(conn, "BEGIN IMMEDIATE" if write else "BEGIN")


def _driver_execute(conn: Connection, statement: str) -> None:
    """Run ``statement``; driver errors wrapped as SQLAlchemy would, for :mod:`._errors`."""
    if conn.engine.echo:  # SQLAlchemy runs it, so that it is logged
        conn.exec_driver_sql(statement)
        return
    with driver_cursor(conn, statement, ()) as cursor:
        cursor.execute(statement)


def _restore_checkpoints(conn: Connection, pages: int) -> None:
    """Let SQLite checkpoint at ``conn``'s commits again, or drop the connection from the pool."""
    try:
        autocheckpoint(conn.connection, pages)
    except Exception:  # noqa: BLE001 - a broken connection: never reused
        conn.invalidate()


class Catalog:
    """The file catalogue database: connections, many short transactions.

    ``Catalog("sqlite:///path/catalog.db")`` or
    ``Catalog("postgresql+psycopg://user@host/db")``; nothing connects until the
    first transaction. Use :meth:`transaction` for writes and :meth:`reader` for
    reads; both yield a :class:`CatalogTx`.
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        busy_timeout: float = _SQLITE_BUSY_SECONDS,
        pool_size: int | None = None,
    ) -> None:
        """Prepare the connections (no connection is made yet).

        Args:
            url: SQLAlchemy database URL.
            echo: log every SQL statement.
            busy_timeout: SQLite only: seconds to wait for another writer's lock
                before giving up with :class:`~dfc.errors.CatalogUnavailable`.
            pool_size: connections kept open for reuse (a server passes its number
                of database threads); more are opened when needed and closed after
                use. Default: SQLAlchemy's (5).

        Raises:
            CatalogError: the URL is malformed, names an unknown driver, or the
                pool size is below 1.
        """
        if pool_size is not None and pool_size < 1:
            raise CatalogError(f"pool size must be at least 1, not {pool_size}")
        self._given = url
        self._echo, self._busy_timeout, self._pool_size = echo, busy_timeout, pool_size
        self._lite: LitePool | None = None
        self._engine_made: Engine | None = None
        self._engine_lock = threading.Lock()
        self._checkpointer: Checkpointer | None = None
        self._database: str | None
        path = None if echo else lite_database(url)
        if path is not None:
            self._sqlite, self._database = True, path
            self._lite = LitePool(
                path, _sqlite_on_connect, busy_timeout=busy_timeout, keep=pool_size or 5
            )
            self._checkpoint_with: Callable[[], Any] = self._lite.open
            self._checkpointer = Checkpointer(self._checkpoint_with)
            return
        engine = self._make_engine()
        self._sqlite = engine.dialect.name == "sqlite"
        self._database = engine.url.database
        self._checkpoint_with = engine.raw_connection
        if self._sqlite and self._database not in (None, "", ":memory:"):
            self._checkpointer = Checkpointer(self._checkpoint_with)

    def _parse(self) -> URL:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            return make_url(self._given)
        except (ArgumentError, ValueError) as exc:
            raise CatalogError(f"invalid catalogue URL {self._given!r}: {exc}") from None

    def _make_engine(self) -> Engine:
        from sqlalchemy import create_engine, event

        url = self._parse()
        kwargs: dict[str, Any] = {"echo": self._echo}
        if self._pool_size is not None:
            kwargs["pool_size"] = self._pool_size
        sqlite = url.get_backend_name() == "sqlite"
        if sqlite:
            kwargs["connect_args"] = {"timeout": self._busy_timeout}
        else:
            kwargs["pool_pre_ping"] = True
        shown = url.render_as_string(hide_password=True)
        with translate():
            try:
                engine = create_engine(url, **kwargs)
            except ImportError as exc:
                raise CatalogError(f"catalogue driver missing for {shown}: {exc}") from None
            except ValueError as exc:
                raise CatalogError(f"invalid catalogue URL {shown}: {exc}") from None
        if sqlite:
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_on_begin)
        self._engine_made = engine
        return engine

    @property
    def url(self) -> str:
        """The database URL with any password masked."""
        if self._lite is not None:
            return self._given  # a file path: nothing to mask
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for the transfer queue, tools and benchmarks).

        For a SQLite file, made (and SQLAlchemy imported) on first use; its
        connections are not those of :meth:`transaction` and :meth:`reader`.

        Raises:
            CatalogError: the engine cannot be made.
        """
        with self._engine_lock:
            engine = self._engine_made
            return engine if engine is not None else self._make_engine()

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file; None for other databases, in-memory ones and URIs."""
        db = self._database
        if not self._sqlite or not db or db == ":memory:" or db.startswith("file:"):
            return None
        return Path(db).expanduser()

    def _prepare_sqlite_file(self) -> None:
        path = self.sqlite_file
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CatalogError(f"cannot create the catalogue directory: {exc}") from None

    def _exists(self) -> bool:
        """False when the SQLite file is absent (checking must not create it)."""
        path = self.sqlite_file
        return path is None or path.exists()

    def upgrade(self) -> None:
        """Create or upgrade the schema to the newest revision (idempotent).

        Creates the SQLite file and its directory when needed.

        Raises:
            CatalogUnavailable: the database is down or locked.
            CatalogError: the migration failed.
        """
        from dfc.catalog import _migrate  # alembic is slow to import

        self._prepare_sqlite_file()
        with translate(), self._connect(write=True) as conn, conn.begin():
            _migrate.upgrade(conn)

    def schema_revision(self) -> str | None:
        """Return the schema revision recorded in the database (None when empty).

        Raises:
            CatalogUnavailable: the database is down or locked.
            CatalogError: the database failed.
        """
        if self._lite is not None:
            with translate(), self._lite.transaction(write=False, checkpointer=None) as lite:
                raw = lite.connection
                if not raw.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
                ).fetchall():
                    return None
                rows: Sequence[Any] = raw.execute(
                    "SELECT version_num FROM alembic_version"
                ).fetchall()
        else:
            from sqlalchemy import text

            with translate(), self._connect(write=False) as conn, conn.begin():
                if not self.engine.dialect.has_table(conn, "alembic_version"):
                    return None
                rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        return str(rows[0][0]) if rows else None

    def check_schema(self) -> None:
        """Check cheaply that the schema is at this dfc's revision.

        Raises:
            CatalogError: the catalogue is not initialised, older than this dfc
                or of a revision this dfc does not know.
            CatalogUnavailable: the database is down or locked.
        """
        rev = self.schema_revision() if self._exists() else None
        if rev is None:
            raise CatalogError(f"catalogue {self.url} is not initialised; run `dfc init`")
        if rev == _version.HEAD:
            return
        if rev in _version.REVISIONS:
            raise CatalogError("catalogue schema is older than this dfc; run `dfc init` to upgrade")
        raise CatalogError(
            f"catalogue schema revision {rev!r} is unknown to this dfc "
            "(written by a newer dfc?); upgrade dfc"
        )

    @contextmanager
    def _connect(self, *, write: bool) -> Iterator[Connection]:
        conn = self.engine.connect()
        try:
            if self._sqlite:
                conn = conn.execution_options(dfc_write=write)
            elif not write:
                conn = conn.execution_options(postgresql_readonly=True)
            yield conn
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[CatalogTx]:
        """Open one write transaction: commit on success, roll back on exception.

        Raises:
            CatalogUnavailable: the database is down or locked for too long.
            CatalogError: the database failed.
        """
        if self._lite is not None:
            with (
                translate(),
                self._lite.transaction(write=True, checkpointer=self._checkpointer) as lite,
            ):
                yield CatalogTx(cast("Connection", lite))
            return
        with translate(), self._connect(write=True) as conn:
            checkpointer = self._checkpointer
            if checkpointer is None:
                with conn.begin():
                    yield CatalogTx(conn)
                return
            pages = 0  # SQLite's checkpoint threshold, while a big COMMIT does without
            try:
                with conn.begin():
                    start = changed_rows(conn)
                    yield CatalogTx(conn)
                    if changed_rows(conn) - start >= BIG_COMMIT_ROWS:
                        # This COMMIT leaves the log's checkpoint to the background.
                        pages = autocheckpoint(conn.connection, 0)
            finally:
                if pages:  # committed or not, the connection checkpoints again
                    _restore_checkpoints(conn, pages)
            if pages:
                checkpointer.request()

    @contextmanager
    def reader(self) -> Iterator[CatalogTx]:
        """Open a read-only transaction (a consistent snapshot); nothing is written.

        Raises:
            CatalogUnavailable: the database is down or locked for too long.
            CatalogError: the database failed.
        """
        if self._lite is not None:
            with translate(), self._lite.transaction(write=False, checkpointer=None) as lite:
                yield CatalogTx(cast("Connection", lite))
            return
        with translate(), self._connect(write=False) as conn:
            trans = conn.begin()
            try:
                yield CatalogTx(conn)
            finally:
                trans.rollback()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the background checkpoint of big commits (SQLite) has finished.

        Returns False when ``timeout`` seconds passed first; True at once when
        there is none (PostgreSQL, in-memory SQLite).
        """
        if self._checkpointer is None:
            return True
        return self._checkpointer.wait_idle(timeout)

    def close(self) -> None:
        """Close every pooled connection; the catalogue can still be reopened.

        Waits for a background checkpoint that is running.
        """
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = Checkpointer(self._checkpoint_with)
        if self._lite is not None:
            self._lite.close()
        if self._engine_made is not None:
            self._engine_made.dispose()

    def __repr__(self) -> str:
        return f"Catalog({self.url!r})"
