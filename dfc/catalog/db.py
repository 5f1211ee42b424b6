"""The :class:`Catalog`: engine, schema upgrade and transactions."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from dfc.catalog import _version
from dfc.catalog._base import driver_cursor
from dfc.catalog._checkpoint import BIG_COMMIT_ROWS, Checkpointer, changed_rows
from dfc.catalog._errors import translate
from dfc.catalog.tx import CatalogTx
from dfc.errors import CatalogError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Connection, Engine

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


def _autocheckpoint(conn: Connection, pages: int) -> int:
    """Set the log size (in pages) at which ``conn``'s commits checkpoint; return the old one."""
    with driver_cursor(conn, "PRAGMA wal_autocheckpoint", ()) as cursor:
        (old,) = cursor.execute("PRAGMA wal_autocheckpoint").fetchone()
    _driver_execute(conn, f"PRAGMA wal_autocheckpoint={int(pages)}")
    return int(old)


def _restore_checkpoints(conn: Connection, pages: int) -> None:
    """Let SQLite checkpoint at ``conn``'s commits again, or drop the connection from the pool."""
    try:
        _autocheckpoint(conn, pages)
    except Exception:  # noqa: BLE001 - a broken connection: never reused
        conn.invalidate()


class Catalog:
    """The file catalogue database: one engine, many short transactions.

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
        """Create the engine (no connection is made yet).

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
        try:
            self._url = make_url(url)
        except (ArgumentError, ValueError) as exc:
            raise CatalogError(f"invalid catalogue URL {url!r}: {exc}") from None
        self._sqlite = self._url.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        if pool_size is not None:
            if pool_size < 1:
                raise CatalogError(f"pool size must be at least 1, not {pool_size}")
            kwargs["pool_size"] = pool_size
        if self._sqlite:
            kwargs["connect_args"] = {"timeout": busy_timeout}
        else:
            kwargs["pool_pre_ping"] = True
        with translate():
            try:
                self._engine: Engine = create_engine(self._url, **kwargs)
            except ImportError as exc:
                raise CatalogError(f"catalogue driver missing for {self.url}: {exc}") from None
            except ValueError as exc:
                raise CatalogError(f"invalid catalogue URL {self.url}: {exc}") from None
        self._checkpointer: Checkpointer | None = None
        if self._sqlite:
            event.listen(self._engine, "connect", _sqlite_on_connect)
            event.listen(self._engine, "begin", _sqlite_on_begin)
            if self._url.database not in (None, "", ":memory:"):
                self._checkpointer = Checkpointer(self._engine)

    @property
    def url(self) -> str:
        """The database URL with any password masked."""
        return self._url.render_as_string(hide_password=True)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tools and benchmarks)."""
        return self._engine

    def _prepare_sqlite_file(self) -> None:
        db = self._url.database
        if self._sqlite and db and db != ":memory:" and not db.startswith("file:"):
            try:
                Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CatalogError(f"cannot create the catalogue directory: {exc}") from None

    def _exists(self) -> bool:
        """False when the SQLite file is absent (checking must not create it)."""
        db = self._url.database
        if not self._sqlite or not db or db == ":memory:" or db.startswith("file:"):
            return True
        return Path(db).expanduser().exists()

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
        with translate(), self._connect(write=False) as conn, conn.begin():
            if not self._engine.dialect.has_table(conn, "alembic_version"):
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
        conn = self._engine.connect()
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
                        pages = _autocheckpoint(conn, 0)
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
            self._checkpointer = Checkpointer(self._engine)
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"Catalog({self.url!r})"
