"""Shared plumbing of :class:`~dfc.catalog.tx.CatalogTx`: SQL, lookups, rows.

Hot paths use driver-level SQL written with ``?`` placeholders, rewritten once
to ``%s`` for psycopg, and run it on the driver's own cursor (SQLAlchemy's
execution context costs more than most of these statements take to run). Bulk lookups join a
``VALUES`` list of keys, so a chunk of LFNs costs a constant number of queries.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from dfc import lfn as _lfn
from dfc.catalog._values import PATH_PREFIX, from_db_time, to_db_time
from dfc.models import Entry, Replica

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from typing import Protocol, TypeAlias

    from sqlalchemy.engine import Connection

    #: A row as the hot paths see it: a plain sequence of column values.
    DBRow: TypeAlias = Sequence[Any]

    class QueryResult(Protocol):
        """What the catalogue uses of a query's result (SQLAlchemy's, or :class:`Rows`)."""

        @property
        def rowcount(self) -> int: ...

        def __iter__(self) -> Iterator[Any]: ...

        def all(self) -> Sequence[Any]: ...

        def first(self) -> Any: ...

        def one(self) -> Any: ...

        def scalar_one(self) -> Any: ...


__all__ = [
    "CHUNK",
    "Rows",
    "TxBase",
    "chunks",
    "driver_cursor",
    "indexed_prefix",
    "new_replica",
    "path_between",
    "prefix_range",
    "sort_key",
]

#: Replica(*fields) without the named tuple's Python-level ``__new__``: half the
#: cost, for the hot loops that make one per row.
new_replica = tuple.__new__

#: Keys per bulk query: 2 parameters each stays far below every backend's limit.
CHUNK = 2000
T = TypeVar("T")

# Column lists shared by the queries below; the *_COLS indexes follow them.
DIR_COLS = "d.id, d.path, d.parent_id, d.owner, d.grp, d.mode, d.ctime, d.mtime"
FILE_COLS = (
    "f.id, f.dir_id, f.name, f.size, f.adler32, f.xxh3, f.guid, f.status, "
    "f.owner, f.grp, f.mode, f.ctime, f.mtime"
)
# Indexes into a row made of FILE_COLS.
F_ID, F_DIR, F_NAME, F_SIZE, F_ADLER, F_XXH3, F_GUID, F_STATUS = range(8)
F_OWNER, F_GRP, F_MODE, F_CTIME, F_MTIME = range(8, 13)


def _replica_se(rep: Replica) -> str:
    return rep.se


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Yield consecutive slices of ``items`` of at most ``size`` elements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(n: int) -> str:
    """Return ``n`` comma-separated placeholders."""
    return ",".join("?" * n)


def values(n: int, width: int) -> str:
    """Return a ``VALUES`` row list of ``n`` rows of ``width`` placeholders."""
    row = "(" + ",".join("?" * width) + ")"
    return ",".join([row] * n)


def sort_key(lfn: str) -> str:
    """Key that orders LFNs as a tree walk: a directory, then its contents."""
    return lfn.replace("/", "\x01")


def prefix_range(path: str) -> tuple[str, str]:
    """Return ``(low, high)`` with ``low < p < high`` exactly for paths below ``path``.

    A range on the indexed path column is a prefix query that needs no LIKE
    wildcard escaping and is case-sensitive on both backends.
    """
    low = "/" if path == "/" else path + "/"
    return low, low[:-1] + "0"  # "0" is the code point after "/"


def indexed_prefix(col: str, low: str, high: str) -> tuple[str, list[str]]:
    """Return ``(sql, params)`` bounding the indexed prefix of path column ``col``.

    For PostgreSQL, whose B-tree entries cannot hold a whole path: its range
    index is on ``substr(path, 1, PATH_PREFIX)`` (migration 0006). The bounds
    follow from ``low <= col <= high``, as cutting two strings to the same length
    never reverses their order; a query adds them to its exact condition so that
    the range is an index scan. The SQL ends with ``AND``.
    """
    cut = f"substr({col}, 1, {PATH_PREFIX})"
    return f"{cut} >= ? AND {cut} <= ? AND ", [low[:PATH_PREFIX], high[:PATH_PREFIX]]


def path_between(col: str, low: str, high: str, *, sqlite: bool) -> tuple[str, list[str]]:
    """Return ``(sql, params)`` true exactly for ``low < col < high`` (see :func:`prefix_range`).

    On PostgreSQL the condition also bounds the indexed prefix (:func:`indexed_prefix`).
    """
    sql, params = ("", []) if sqlite else indexed_prefix(col, low, high)
    return f"{sql}{col} > ? AND {col} < ?", [*params, low, high]


@contextmanager
def driver_cursor(
    conn: Connection, statement: str, params: Any, *, name: str | None = None
) -> Iterator[Any]:
    """A cursor of ``conn``'s driver connection, closed at the end of the block.

    Driver errors raised in the block (for ``statement`` run with ``params``)
    are wrapped as SQLAlchemy would, for :mod:`dfc.catalog._errors`. ``name``
    makes a named (server-side) cursor, on PostgreSQL.

    Raises:
        sqlalchemy.exc.DBAPIError: the driver failed.
    """
    dbapi = conn.dialect.loaded_dbapi
    raw = conn.connection
    cursor = raw.cursor() if name is None else raw.cursor(name=name)
    try:
        yield cursor
    except dbapi.Error as exc:
        from sqlalchemy import exc as sa_exc  # only now: see dfc.catalog._lite

        raise sa_exc.DBAPIError.instance(
            statement, params, exc, dbapi.Error, dialect=conn.dialect
        ) from exc
    finally:
        cursor.close()


@lru_cache(maxsize=512)
def _to_pyformat(sql: str) -> str:
    return sql.replace("?", "%s")


class Rows:
    """A statement's fetched rows and row count, read as SQLAlchemy's results are."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        """Every row."""
        return self._rows

    def first(self) -> Any:
        """The first row, or None."""
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        """The only row.

        Raises:
            sqlalchemy.exc.NoResultFound: there is none.
            sqlalchemy.exc.MultipleResultsFound: there are several.
        """
        if len(self._rows) != 1:
            from sqlalchemy import exc as sa_exc  # as SQLAlchemy's result would

            if not self._rows:
                raise sa_exc.NoResultFound("No row was found when one was required")
            raise sa_exc.MultipleResultsFound(
                "Multiple rows were found when exactly one was required"
            )
        return self._rows[0]

    def scalar_one(self) -> Any:
        """The only row's first column (see :meth:`one`)."""
        return self.one()[0]


class TxBase:
    """State and helpers shared by every part of a catalogue transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._dialect = conn.dialect.name
        self._sqlite = self._dialect == "sqlite"
        self._collate = "" if self._sqlite else ' COLLATE "C"'
        self._times: dict[Any, datetime] = {}
        self._echo = bool(conn.engine.echo)

    # ------------------------------------------------------------ SQL plumbing
    def _sql(self, sql: str) -> str:
        return sql if self._sqlite else _to_pyformat(sql)

    def _q(self, sql: str, params: Sequence[Any] = ()) -> QueryResult:
        """Run any statement; return its result (rows and row count).

        On SQLite on the driver's cursor, as :meth:`_fetchall`, its rows
        fetched at once (:class:`Rows`; the statements that use this return
        bounded results); through SQLAlchemy elsewhere, and with ``echo`` (so
        that it is logged).
        Driver errors are wrapped as SQLAlchemy would, for :mod:`._errors`.
        """
        if self._sqlite and not self._echo:
            args = tuple(params)
            with self._driver_cursor(sql, args) as cursor:
                cursor.execute(sql, args)
                rows = cursor.fetchall() if cursor.description is not None else []
                return Rows(rows, cursor.rowcount)
        return self._conn.exec_driver_sql(self._sql(sql), tuple(params))

    def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query on the driver's cursor and return plain tuples.

        The hot lookups skip SQLAlchemy's row objects (a third of their time);
        driver errors are wrapped as SQLAlchemy would, for :mod:`._errors`.
        With ``echo`` on, SQLAlchemy runs it, so that it is logged.
        """
        if self._echo:
            return [tuple(r) for r in self._q(sql, params).all()]
        statement, args = self._sql(sql), tuple(params)
        with self._driver_cursor(statement, args) as cursor:
            cursor.execute(statement, args)
            return list(cursor.fetchall())

    def _driver_cursor(self, statement: str, params: Any) -> AbstractContextManager[Any]:
        """A cursor of the driver's connection (see :func:`driver_cursor`)."""
        return driver_cursor(self._conn, statement, params)

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Run a statement once per row (nothing for no rows); see :meth:`_many_count`."""
        if rows:
            self._many_count(sql, rows)

    def _many_count(self, sql: str, rows: list[tuple[Any, ...]]) -> int:
        """Run a statement once per row on the driver's cursor; return the rows changed.

        Driver errors are wrapped as SQLAlchemy would, for :mod:`._errors`.
        """
        if not rows:
            return 0
        return self._run(sql, rows, many=True)

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement without results on the driver's cursor; return the rows changed.

        A registration is a dozen such statements: SQLAlchemy's execution
        context would cost each one more than SQLite takes to run it.
        Driver errors are wrapped as SQLAlchemy would, for :mod:`._errors`.
        """
        return self._run(sql, tuple(params), many=False)

    def _run(self, sql: str, params: Any, *, many: bool) -> int:
        statement = self._sql(sql)
        if self._echo:  # SQLAlchemy runs it, so that it is logged
            return int(self._conn.exec_driver_sql(statement, params).rowcount)
        with self._driver_cursor(statement, params) as cursor:
            if many:
                cursor.executemany(statement, params)
            else:
                cursor.execute(statement, params)
            return int(cursor.rowcount)

    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[DBRow]:
        """Yield the rows of a query batch by batch (a server-side cursor on PostgreSQL)."""
        if self._sqlite and not self._echo:  # on the driver's cursor, as _fetchall
            statement, args = self._sql(sql), tuple(params)
            with self._driver_cursor(statement, args) as cursor:
                cursor.execute(statement, args)
                while batch := cursor.fetchmany(2000):
                    yield from batch
            return
        opts: dict[str, Any] = {} if self._sqlite else {"stream_results": True, "yield_per": 2000}
        result = self._conn.exec_driver_sql(self._sql(sql), tuple(params), execution_options=opts)
        try:
            for batch in result.partitions(2000):
                yield from batch
        finally:
            result.close()

    def _now(self) -> tuple[datetime, Any]:
        now = datetime.now(UTC)
        return now, to_db_time(now, self._dialect)

    def _time(self, value: Any) -> datetime:
        # Bulk-written rows share timestamps: convert each distinct value once.
        out = self._times.get(value)
        if out is None:
            if len(self._times) > 100_000:
                self._times.clear()
            out = self._times[value] = from_db_time(value)
        return out

    def _touch_dirs(self, dir_ids: Iterable[int], db_now: Any) -> None:
        ids = sorted(set(dir_ids))
        for part in chunks(ids):
            self._exec(
                f"UPDATE directories SET mtime = ? WHERE id IN ({marks(len(part))})",
                [db_now, *part],
            )

    def _lock_dirs(self, dir_ids: Iterable[int]) -> None:
        """Serialise writers per directory on PostgreSQL (row locks, in id order).

        Two transactions adding the same file then behave as on SQLite (whose
        ``BEGIN IMMEDIATE`` serialises all writers): the second one waits, then
        sees the first one's rows and finds the file registered already.
        """
        if self._sqlite:
            return
        for part in chunks(sorted(set(dir_ids))):
            self._q(
                f"SELECT id FROM directories WHERE id IN ({marks(len(part))}) ORDER BY id "
                "FOR UPDATE",
                part,
            )

    # ------------------------------------------------------------ lookups
    def _dirs_by_path(self, paths: Iterable[str]) -> dict[str, DBRow]:
        """Return the directory rows (DIR_COLS) of those ``paths`` that exist."""
        keys = sorted(set(paths))
        out: dict[str, DBRow] = {}
        for part in chunks(keys):
            sql = f"SELECT {DIR_COLS} FROM directories d WHERE d.path IN ({marks(len(part))})"
            for row in self._fetchall(sql, part):
                out[row[1]] = row
        return out

    def _files_by_lfn(self, lfns: Iterable[str]) -> dict[str, tuple[Any, ...]]:
        """Return the file rows (FILE_COLS) of those ``lfns`` that are files."""
        keys = sorted(set(lfns))
        out: dict[str, tuple[Any, ...]] = {}
        for part in chunks(keys):
            params: list[str] = []
            for key in part:
                params += (_lfn.dirname(key), _lfn.basename(key))
            sql = (
                f"SELECT v.column1, {FILE_COLS} FROM (VALUES {values(len(part), 2)}) v "
                "CROSS JOIN directories d CROSS JOIN files f "
                "WHERE d.path = v.column1 AND f.dir_id = d.id AND f.name = v.column2"
            )
            for row in self._fetchall(sql, params):
                out[_lfn.join(row[0], row[1 + F_NAME])] = row[1:]
        return out

    def _files_with_replicas(
        self, lfns: Iterable[str]
    ) -> tuple[dict[str, tuple[Any, ...]], dict[int, list[Replica]]]:
        """Return the files among ``lfns`` with their replicas, in one query per chunk.

        Returns ``(lfn -> row of FILE_COLS, file id -> replicas sorted by SE name)``.
        """
        keys = sorted(set(lfns))
        files: dict[str, tuple[Any, ...]] = {}
        reps: dict[int, list[Replica]] = {}
        width = len(FILE_COLS.split(","))
        for part in chunks(keys):
            params: list[str] = []
            for key in part:
                params += (_lfn.dirname(key), _lfn.basename(key))
            if len(part) == 1:  # a single stat: no VALUES list to build and scan
                source, where = "", "d.path = ? AND f.dir_id = d.id AND f.name = ?"
                head = "d.path"
            else:
                source = f"(VALUES {values(len(part), 2)}) v CROSS JOIN "
                where = "d.path = v.column1 AND f.dir_id = d.id AND f.name = v.column2"
                head = "v.column1"
            sql = (
                f"SELECT {head}, {FILE_COLS}, s.name, s.url, r.path, r.status "
                f"FROM {source}directories d CROSS JOIN files f "
                "LEFT JOIN replicas r ON r.file_id = f.id "
                "LEFT JOIN storage_elements s ON s.id = r.se_id "
                f"WHERE {where}"
            )
            for row in self._fetchall(sql, params):
                file_id = row[1 + F_ID]
                got = reps.get(file_id)
                if got is None:
                    files[_lfn.join(row[0], row[1 + F_NAME])] = row[1 : 1 + width]
                    got = reps[file_id] = []
                se, url, path, status = row[1 + width :]
                if se is not None:
                    got.append(new_replica(Replica, (se, path, url.rstrip("/") + path, status)))
        for got in reps.values():
            if len(got) > 1:
                got.sort(key=_replica_se)
        return files, reps

    def _files_by_dir_name(
        self, keys: Sequence[tuple[int, str]], cols: str = "f.id"
    ) -> dict[tuple[int, str], DBRow]:
        """Return ``cols`` of the files with those ``(dir_id, name)`` keys."""
        out: dict[tuple[int, str], DBRow] = {}
        for part in chunks(keys):
            params: list[Any] = []
            for dir_id, name in part:
                params += (dir_id, name)
            sql = (
                f"SELECT f.dir_id, f.name, {cols} FROM (VALUES {values(len(part), 2)}) v "
                "CROSS JOIN files f WHERE f.dir_id = v.column1 AND f.name = v.column2"
            )
            for row in self._fetchall(sql, params):
                out[(row[0], row[1])] = row
        return out

    def _replicas_of(self, file_ids: Iterable[int]) -> dict[int, list[Replica]]:
        """Return the replicas of the given files, sorted by SE name."""
        ids = sorted(set(file_ids))
        out: dict[int, list[Replica]] = {}
        for part in chunks(ids):
            sql = (
                "SELECT r.file_id, s.name, s.url, r.path, r.status FROM replicas r "
                "JOIN storage_elements s ON s.id = r.se_id "
                f"WHERE r.file_id IN ({marks(len(part))})"
            )
            for file_id, se, url, path, status in self._fetchall(sql, part):
                out.setdefault(file_id, []).append(
                    Replica(se=se, path=path, pfn=url.rstrip("/") + path, status=status)
                )
        for reps in out.values():
            reps.sort(key=lambda r: r.se)
        return out

    def _se_ids(self) -> dict[str, tuple[int, str]]:
        """Return SE name -> (id, url) for every registered SE."""
        rows = self._fetchall("SELECT name, id, url FROM storage_elements")
        return {name: (se_id, url) for name, se_id, url in rows}

    # ------------------------------------------------------------ rows -> models
    def _dir_entry(self, row: DBRow) -> Entry:
        return Entry(
            lfn=row[1],
            type="directory",
            owner=row[3],
            group=row[4],
            mode=row[5],
            ctime=self._time(row[6]),
            mtime=self._time(row[7]),
        )

    def _file_entry(self, lfn: str, row: Sequence[Any], reps: Sequence[Replica] = ()) -> Entry:
        return Entry(
            lfn=lfn,
            type="file",
            owner=row[F_OWNER],
            group=row[F_GRP],
            mode=row[F_MODE],
            ctime=self._time(row[F_CTIME]),
            mtime=self._time(row[F_MTIME]),
            size=row[F_SIZE],
            status=row[F_STATUS],
            adler32=row[F_ADLER],
            xxh3=row[F_XXH3],
            guid=row[F_GUID],
            replicas=tuple(reps),
        )
