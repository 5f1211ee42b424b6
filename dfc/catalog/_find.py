"""Metadata queries: find files, their directories, counts and tag values.

Every query is one SQL statement built by :mod:`dfc.catalog._query`; results
stream from the database in LFN order (directory path, then name, compared by
code point on both backends).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dfc import lfn as _lfn
from dfc.catalog._meta import MetaMixin, _read
from dfc.catalog._scope import subtree
from dfc.errors import InvalidQuery

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from dfc.catalog._query import Query
    from dfc.catalog._records import MetaScalar

__all__ = ["FindMixin"]

#: The files and their directories, as every compiled condition expects them.
FROM = "FROM directories d JOIN files f ON f.dir_id = d.id"


class FindMixin(MetaMixin):
    """Find files by metadata, with inheritance, in SQL."""

    def parse_query(self, terms: Sequence[str]) -> Query:
        """Parse query terms against the declared fields.

        Raises:
            InvalidQuery: a malformed term, unknown field or badly typed value.
        """
        # The query language loads on first use (CLI start-up).
        from dfc.catalog._query import parse

        return parse(terms, self._fields())

    def _as_query(self, terms: Sequence[str] | Query) -> Query:
        """``terms`` parsed, or as they are when already a query.

        Raises:
            InvalidQuery: a malformed term, unknown field or badly typed value.
        """
        from dfc.catalog._query import Query

        return terms if isinstance(terms, Query) else self.parse_query(terms)

    def _where(self, path: str, query: Query) -> tuple[str, list[Any]]:
        """The compiled condition of ``query`` below directory ``path``.

        Raises:
            LFNNotFound: ``path`` (or a ``Path=`` scope) does not exist.
            NotADirectory: it is a file.
        """
        from dfc.catalog._query import compile_where

        scopes = []
        for scope in (path, *query.paths):
            self._dir_row(scope)
            scopes.append(subtree("d", scope, sqlite=self._sqlite))
        return compile_where(query, scopes, sqlite=self._sqlite)

    def find(self, path: str, terms: Sequence[str] | Query) -> Iterator[str]:
        """Stream the LFNs of files below ``path`` matching the query, in LFN order.

        An empty query matches nothing (as in DIRAC). The query is parsed and
        ``path`` checked when this is called; rows stream while the
        transaction lasts.

        Raises:
            InvalidQuery: a malformed term, unknown field or badly typed value.
            LFNNotFound: ``path`` does not exist.
            NotADirectory: ``path`` is a file.
        """
        query = self._as_query(terms)
        where, params = self._where(path, query)
        if query.empty:
            return iter(())
        order = f"d.path{self._collate}, f.name{self._collate}"
        sql = f"SELECT d.path, f.name {FROM} WHERE {where} ORDER BY {order}"
        return self._lfns(sql, params)

    def _lfns(self, sql: str, params: list[Any]) -> Iterator[str]:
        join = _lfn.join
        for row in self._stream_raw(sql, params):
            yield join(row[0], row[1])

    def find_dirs(self, path: str, terms: Sequence[str] | Query) -> Iterator[str]:
        """Stream the directories that hold files matching the query, sorted.

        Raises:
            InvalidQuery: a malformed term, unknown field or badly typed value.
            LFNNotFound: ``path`` does not exist.
            NotADirectory: ``path`` is a file.
        """
        query = self._as_query(terms)
        where, params = self._where(path, query)
        if query.empty:
            return iter(())
        sql = (
            "SELECT d.path FROM directories d WHERE EXISTS "
            f"(SELECT 1 FROM files f WHERE f.dir_id = d.id AND {where}) "
            f"ORDER BY d.path{self._collate}"
        )
        return (row[0] for row in self._stream_raw(sql, params))

    def find_count(self, path: str, terms: Sequence[str] | Query) -> tuple[int, int]:
        """Return the number and total size of the files matching the query.

        Raises:
            InvalidQuery: a malformed term, unknown field or badly typed value.
            LFNNotFound: ``path`` does not exist.
            NotADirectory: ``path`` is a file.
        """
        query = self._as_query(terms)
        where, params = self._where(path, query)
        if query.empty:
            return 0, 0
        row = self._fetchall(f"SELECT COUNT(*), SUM(f.size) {FROM} WHERE {where}", params)[0]
        return int(row[0]), int(row[1] or 0)

    def meta_tags(
        self, path: str, name: str, terms: Sequence[str] | Query = ()
    ) -> list[MetaScalar]:
        """Return the distinct values of field ``name`` among the matching files.

        Without terms, among all files below ``path`` (DIRAC's ``meta tags``).
        A directory field counts the value each file inherits.

        Raises:
            InvalidQuery: an unknown field, a malformed term or badly typed value.
            LFNNotFound: ``path`` does not exist.
            NotADirectory: ``path`` is a file.
        """
        from dfc.catalog._query import ALIASES, STANDARD, below_md

        query = self._as_query(terms)
        where, params = self._where(path, query)
        name = ALIASES.get(name, name)
        matching = f"SELECT f.id {FROM} WHERE {where}"
        if name == "SE":
            sql = (
                "SELECT DISTINCT s.name FROM replicas r JOIN storage_elements s "
                f"ON s.id = r.se_id WHERE r.file_id IN ({matching}) ORDER BY 1"
            )
            return [row[0] for row in self._fetchall(sql, params)]
        if name in STANDARD:
            col, type_ = STANDARD[name]
            sql = f"SELECT DISTINCT {col} {FROM} WHERE {where} ORDER BY 1"
            return [_read(type_, row[0]) for row in self._fetchall(sql, params)]
        fld = self._fields().get(name)
        if fld is None:
            raise InvalidQuery(f"Metadata field {name} not defined")
        if fld.level == "file":
            sql = (
                f"SELECT DISTINCT m.value FROM file_meta_{fld.type} m WHERE m.field_id = ? "
                f"AND m.file_id IN ({matching}) ORDER BY 1"
            )
        else:
            sql = (
                f"SELECT DISTINCT m.value FROM dir_meta_{fld.type} m "
                "JOIN directories md ON md.id = m.dir_id WHERE m.field_id = ? AND EXISTS "
                f"(SELECT 1 {FROM} WHERE {below_md('d')} AND {where}) ORDER BY 1"
            )
        rows = self._fetchall(sql, [fld.id, *params])
        return [_read(fld.type, row[0]) for row in rows]
