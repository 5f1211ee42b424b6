"""Datasets: named metadata queries, dynamic or frozen (DIRAC's ``dataset``).

A dataset is a query (a scope path and terms) stored under a full path name.
A *dynamic* dataset is evaluated whenever it is used; *freezing* it stores its
current members (file ids, so they survive renames), *releasing* it drops them.
Each dataset keeps the file count, bytes and a hash of its sorted member LFNs
as of its last add, update or freeze; ``check`` compares them with now.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from typing import TYPE_CHECKING, Any, cast

from dfc import lfn as _lfn
from dfc.catalog._find import FROM, FindMixin
from dfc.errors import AlreadyExists, InvalidArgument, InvalidQuery, NotFound

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Literal

    from dfc.catalog._query import Query
    from dfc.catalog._records import DatasetCheck, DatasetInfo

__all__ = ["DatasetMixin"]

_COLS = "id, name, query, status, files, bytes, hash, owner, grp, annotation, ctime, mtime"
_MAX_ANNOTATION = 4096


def _words(stored: str) -> list[str]:
    return [str(w) for w in json.loads(stored)]


class DatasetMixin(FindMixin):
    """Create, evaluate, freeze and remove datasets."""

    # ------------------------------------------------------------ helpers
    def _ds_row(self, name: str) -> tuple[Any, ...]:
        rows = self._fetchall(f"SELECT {_COLS} FROM datasets WHERE name = ?", [name])
        if not rows:
            raise NotFound(f"{name}: no such dataset")
        return rows[0]

    def _ds_info(self, row: Sequence[Any]) -> DatasetInfo:
        # The dataset records and the query language load on first use (CLI start-up).
        from dfc.catalog._records import DatasetInfo

        words = _words(row[2])
        status = cast("Literal['dynamic', 'frozen']", row[3])
        return DatasetInfo(
            name=row[1],
            query=shlex.join(words),
            status=status,
            files=int(row[4]),
            bytes=int(row[5]),
            hash=row[6],
            owner=row[7],
            group=row[8],
            annotation=row[9],
            ctime=self._time(row[10]),
            mtime=self._time(row[11]),
        )

    def _ds_query(self, stored: str) -> tuple[str, Query]:
        from dfc.catalog._query import split_scope

        path, terms = split_scope(_words(stored))
        return path or "/", self.parse_query(terms)

    def _ds_members(self, row: Sequence[Any]) -> tuple[str, list[Any]]:
        """SQL (selecting ``d.path, f.name, f.size, f.id``, LFN order) of the members."""
        order = f"ORDER BY d.path{self._collate}, f.name{self._collate}"
        cols = "SELECT d.path, f.name, f.size, f.id"
        if row[3] == "frozen":
            sql = (
                f"{cols} FROM dataset_files df JOIN files f ON f.id = df.file_id "
                f"JOIN directories d ON d.id = f.dir_id WHERE df.dataset_id = ? {order}"
            )
            return sql, [row[0]]
        path, query = self._ds_query(row[2])
        if query.empty:
            return f"{cols} {FROM} WHERE 1 = 0", []
        where, params = self._where(path, query)
        return f"{cols} {FROM} WHERE {where} {order}", params

    def _ds_stats(self, sql: str, params: list[Any]) -> tuple[int, int, str]:
        """Count, bytes and MD5 of the sorted member LFNs (streamed, not held)."""
        digest = hashlib.md5(usedforsecurity=False)
        files = size = 0
        for dpath, name, fsize, _fid in self._stream_raw(sql, params):
            digest.update(_lfn.join(dpath, name).encode() + b"\n")
            files += 1
            size += fsize
        return files, size, digest.hexdigest().upper()

    # ------------------------------------------------------------ operations
    def dataset_add(
        self, name: str, words: Sequence[str], *, owner: str, group: str
    ) -> DatasetInfo:
        """Create dynamic dataset ``name`` (a full path) from ``[PATH] TERM...``.

        The scope PATH defaults to ``/``; the dataset's parent directory is
        created if missing (as in DIRAC).

        Raises:
            InvalidQuery: no terms, or a malformed term, unknown field or bad value.
            AlreadyExists: a dataset, file or directory has that name.
            LFNNotFound: the scope path does not exist.
            NotADirectory: the scope or the parent of ``name`` is a file.
        """
        from dfc.catalog._query import split_scope

        path, terms = split_scope(words)
        query = self.parse_query(terms)
        if query.empty:
            raise InvalidQuery(f"dataset {name}: the query has no terms")
        stored = json.dumps([path or "/", *terms])
        if self._fetchall("SELECT id FROM datasets WHERE name = ?", [name]):
            raise AlreadyExists(f"Dataset {name} already exists")
        if self._dirs_by_path([name]) or self._files_by_lfn([name]):
            raise AlreadyExists(f"{name}: a file or directory has that name")
        made = self.mkdir([_lfn.dirname(name)], parents=True, owner=owner, group=group)
        made.raise_first()
        where, params = self._where(path or "/", query)
        order = f"ORDER BY d.path{self._collate}, f.name{self._collate}"
        sql = f"SELECT d.path, f.name, f.size, f.id {FROM} WHERE {where} {order}"
        files, size, digest = self._ds_stats(sql, params)
        _, db_now = self._now()
        self._exec(
            "INSERT INTO datasets (name, query, status, owner, grp, files, bytes, hash, "
            "ctime, mtime) VALUES (?, ?, 'dynamic', ?, ?, ?, ?, ?, ?, ?)",
            [name, stored, owner, group, files, size, digest, db_now, db_now],
        )
        return self.dataset_show(name)

    def dataset_show(self, name: str) -> DatasetInfo:
        """Return dataset ``name``.

        Raises:
            NotFound: no such dataset.
        """
        return self._ds_info(self._ds_row(name))

    def dataset_list(self, path: str = "/") -> list[DatasetInfo]:
        """Return the datasets whose names are below ``path``, sorted by name."""
        low = "/" if path == "/" else path + "/"
        high = low[:-1] + "0"
        sql = f"SELECT {_COLS} FROM datasets WHERE name > ? AND name < ? ORDER BY name"
        return [self._ds_info(r) for r in self._fetchall(sql + self._collate, [low, high])]

    def dataset_files(self, name: str) -> Iterator[str]:
        """Stream the member LFNs of a dataset, in LFN order.

        A dynamic dataset runs its query now; a frozen one lists its stored
        members that still exist.

        Raises:
            NotFound: no such dataset.
            InvalidQuery: the stored query names a field removed since.
            LFNNotFound: the stored scope path no longer exists.
        """
        sql, params = self._ds_members(self._ds_row(name))
        join = _lfn.join
        return (join(r[0], r[1]) for r in self._stream_raw(sql, params))

    def dataset_check(self, name: str) -> DatasetCheck:
        """Compare a dataset's stored count, bytes and hash with its members now.

        Raises:
            NotFound: no such dataset.
            InvalidQuery: the stored query names a field removed since.
            LFNNotFound: the stored scope path no longer exists.
        """
        from dfc.catalog._records import DatasetCheck

        row = self._ds_row(name)
        files, size, digest = self._ds_stats(*self._ds_members(row))
        return DatasetCheck(name, int(row[4]), files, int(row[5]), size, row[6], digest)

    def dataset_update(self, name: str) -> DatasetCheck:
        """Store a dataset's current count, bytes and hash; return what changed.

        Raises:
            NotFound: no such dataset.
            InvalidQuery: the stored query names a field removed since.
            LFNNotFound: the stored scope path no longer exists.
        """
        check = self.dataset_check(name)
        _, db_now = self._now()
        self._exec(
            "UPDATE datasets SET files = ?, bytes = ?, hash = ?, mtime = ? WHERE name = ?",
            [check.new_files, check.new_bytes, check.new_hash, db_now, name],
        )
        return check

    def dataset_freeze(self, name: str) -> DatasetInfo:
        """Fix a dataset's members to the files its query matches now.

        Freezing a frozen dataset changes nothing.

        Raises:
            NotFound: no such dataset.
            InvalidQuery: the stored query names a field removed since.
            LFNNotFound: the stored scope path no longer exists.
        """
        row = self._ds_row(name)
        if row[3] == "frozen":
            return self._ds_info(row)
        path, query = self._ds_query(row[2])
        if not query.empty:
            where, params = self._where(path, query)
            self._exec(
                f"INSERT INTO dataset_files (dataset_id, file_id) SELECT ?, f.id {FROM} "
                f"WHERE {where}",
                [row[0], *params],
            )
        self._exec("UPDATE datasets SET status = 'frozen' WHERE id = ?", [row[0]])
        self.dataset_update(name)
        return self.dataset_show(name)

    def dataset_release(self, name: str) -> DatasetInfo:
        """Make a frozen dataset dynamic again (its stored members are dropped).

        Raises:
            NotFound: no such dataset.
        """
        row = self._ds_row(name)
        if row[3] == "frozen":
            _, db_now = self._now()
            self._exec("DELETE FROM dataset_files WHERE dataset_id = ?", [row[0]])
            self._exec(
                "UPDATE datasets SET status = 'dynamic', mtime = ? WHERE id = ?", [db_now, row[0]]
            )
        return self.dataset_show(name)

    def dataset_annotate(self, name: str, text: str) -> DatasetInfo:
        """Set (or, with an empty text, clear) a dataset's annotation.

        Raises:
            NotFound: no such dataset.
            InvalidArgument: the text is longer than 4096 characters.
        """
        if len(text) > _MAX_ANNOTATION:
            raise InvalidArgument(f"annotation longer than {_MAX_ANNOTATION} characters")
        row = self._ds_row(name)
        self._exec("UPDATE datasets SET annotation = ? WHERE id = ?", [text or None, row[0]])
        return self.dataset_show(name)

    def dataset_rm(self, name: str) -> bool:
        """Remove a dataset (never its files); a missing one is a success.

        Returns:
            True if it existed.
        """
        gone = self._fetchall("DELETE FROM datasets WHERE name = ? RETURNING id", [name])
        return bool(gone)
