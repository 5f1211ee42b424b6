"""Directories and lookups: mkdir, rmdir, stat, list_dir, walk, find_guid."""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any

from dfc import lfn as _lfn
from dfc._gc import gc_paused
from dfc.catalog._base import (
    DIR_COLS,
    F_NAME,
    FILE_COLS,
    TxBase,
    chunks,
    marks,
    path_between,
    prefix_range,
    sort_key,
    values,
)
from dfc.errors import (
    AlreadyExists,
    DFCError,
    DirectoryNotEmpty,
    LFNNotFound,
    NotADirectory,
    PermissionDenied,
)
from dfc.models import BulkResult, Entry, Replica

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from dfc.catalog._base import DBRow

__all__ = ["NamespaceMixin"]


def _depth(path: str) -> int:
    return 0 if path == "/" else path.count("/")


class NamespaceMixin(TxBase):
    """The directory tree and read access to entries."""

    # ------------------------------------------------------------ directory creation
    def _ensure_dirs(
        self,
        targets: set[str],
        cache: dict[str, int],
        *,
        parents: bool,
        owner: str,
        group: str,
        mode: int,
    ) -> tuple[set[str], set[str]]:
        """Make sure ``targets`` exist as directories, filling ``cache`` (path -> id).

        Returns ``(created, files_in_the_way)``; targets absent from ``cache``
        afterwards could not be created (see :meth:`_dir_error`).
        """
        wanted: set[str] = set()
        for target in targets:
            if target not in cache:
                wanted.add(target)
                wanted.update(p for p in _lfn.parents(target) if p not in cache)
        if not wanted:
            return set(), set()
        for path, row in self._dirs_by_path(wanted).items():
            cache[path] = row[0]
        missing = wanted.difference(cache)
        if not missing:
            return set(), set()
        in_the_way = set(self._files_by_lfn(missing))
        create = missing if parents else missing & targets
        created: set[str] = set()
        now, db_now = self._now()
        touched: set[int] = set()
        for depth in sorted({_depth(p) for p in create}):
            rows: list[tuple[Any, ...]] = []
            for path in sorted(p for p in create if _depth(p) == depth):
                parent_id = cache.get(_lfn.dirname(path))
                if parent_id is None or path in in_the_way:
                    continue
                rows.append((path, parent_id, owner, group, mode, db_now, db_now))
                touched.add(parent_id)
            self._many(
                "INSERT INTO directories (path, parent_id, owner, grp, mode, ctime, mtime) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            )
            new = [r[0] for r in rows]
            for path, row in self._dirs_by_path(new).items():
                cache[path] = row[0]
            created.update(new)
        self._touch_dirs(touched, db_now)
        del now
        return created, in_the_way

    @staticmethod
    def _dir_error(path: str, in_the_way: set[str], *, target_is_file: DFCError) -> DFCError:
        """Explain why the directory ``path`` could not be made or found."""
        for parent in _lfn.parents(path):
            if parent in in_the_way:
                return NotADirectory(f"{parent}: not a directory")
        if path in in_the_way:
            return target_is_file
        return LFNNotFound(f"{_lfn.dirname(path)}: no such directory")

    def mkdir(
        self,
        paths: Sequence[str],
        *,
        parents: bool,
        owner: str,
        group: str,
        mode: int = 0o775,
    ) -> BulkResult[None]:
        """Create directories; an existing directory counts as success (DIRAC).

        Without ``parents`` a parent must exist or be created by the same call.

        Returns:
            Per path: success, or :class:`~dfc.errors.LFNNotFound` (missing
            parent), :class:`~dfc.errors.NotADirectory` (a parent is a file),
            :class:`~dfc.errors.AlreadyExists` (the path is a file).
        """
        result: BulkResult[None] = BulkResult()
        cache: dict[str, int] = {}
        for part in chunks(list(dict.fromkeys(paths))):
            targets = set(part)
            _, in_the_way = self._ensure_dirs(
                targets, cache, parents=parents, owner=owner, group=group, mode=mode
            )
            for path in part:
                if path in cache:
                    result.succeeded[path] = None
                else:
                    exists = AlreadyExists(f"{path}: a file exists with that name")
                    result.failed[path] = self._dir_error(path, in_the_way, target_is_file=exists)
        return result

    def rmdir(self, paths: Sequence[str]) -> BulkResult[None]:
        """Remove empty directories; a missing directory counts as success.

        Deeper paths are removed first, so a directory and its only
        subdirectory can go in one call.

        Returns:
            Per path: success, or :class:`~dfc.errors.DirectoryNotEmpty`,
            :class:`~dfc.errors.NotADirectory` (a file),
            :class:`~dfc.errors.PermissionDenied` (``/``).
        """
        result: BulkResult[None] = BulkResult()
        ordered = sorted(dict.fromkeys(paths), key=lambda p: (-_depth(p), p))
        _, db_now = self._now()
        for depth in sorted({_depth(p) for p in ordered}, reverse=True):
            level = [p for p in ordered if _depth(p) == depth]
            for part in chunks(level):
                self._rmdir_chunk(part, result, db_now)
        return result

    def _rmdir_chunk(self, part: Sequence[str], result: BulkResult[None], db_now: Any) -> None:
        found = self._dirs_by_path(part)
        missing = [p for p in part if p not in found]
        files = self._files_by_lfn(missing) if missing else {}
        ids = [row[0] for row in found.values()]
        busy: set[int] = set()
        if ids:
            sql = (
                f"SELECT v.column1 FROM (VALUES {values(len(ids), 1)}) v WHERE "
                "EXISTS (SELECT 1 FROM directories c WHERE c.parent_id = v.column1) OR "
                "EXISTS (SELECT 1 FROM files f WHERE f.dir_id = v.column1)"
            )
            busy = {row[0] for row in self._fetchall(sql, ids)}
        gone: list[int] = []
        parents: set[int] = set()
        for path in part:
            row = found.get(path)
            if path == "/":
                result.failed[path] = PermissionDenied("/: cannot remove the root directory")
            elif path in files:
                result.failed[path] = NotADirectory(f"{path}: not a directory")
            elif row is not None and row[0] in busy:
                result.failed[path] = DirectoryNotEmpty(f"{path}: directory not empty")
            else:
                if row is not None:
                    gone.append(row[0])
                    parents.add(row[2])
                result.succeeded[path] = None
        if gone:
            self._exec(f"DELETE FROM directories WHERE id IN ({marks(len(gone))})", gone)
            self._touch_dirs(parents, db_now)

    # ------------------------------------------------------------ lookups
    @gc_paused()  # a bulk answer makes no reference cycles (dfc._gc)
    def stat(self, lfns: Sequence[str], *, with_replicas: bool = True) -> BulkResult[Entry]:
        """Return the entry of each LFN; files come with their replicas unless not wanted.

        Returns:
            Per LFN: the :class:`~dfc.models.Entry`, or
            :class:`~dfc.errors.LFNNotFound`.
        """
        result: BulkResult[Entry] = BulkResult()
        for part in chunks(list(dict.fromkeys(lfns))):
            # Files first (most stats are of files): one query with their replicas.
            reps: dict[int, list[Replica]]
            if with_replicas:
                files, reps = self._files_with_replicas(part)
            else:
                files, reps = self._files_by_lfn(part), {}
            missing = [p for p in part if p not in files]
            dirs = self._dirs_by_path(missing) if missing else {}
            for path in part:
                if path in dirs:
                    result.succeeded[path] = self._dir_entry(dirs[path])
                elif path in files:
                    row = files[path]
                    result.succeeded[path] = self._file_entry(path, row, reps.get(row[0], ()))
                else:
                    result.failed[path] = LFNNotFound(f"{path}: no such file or directory")
        return result

    def lookup(self, lfn: str) -> Entry:
        """Return the entry of one LFN (files with their replicas).

        Raises:
            LFNNotFound: nothing is registered at ``lfn``.
        """
        res = self.stat([lfn])
        res.raise_first()
        return res.succeeded[lfn]

    def _dir_row(self, path: str) -> DBRow:
        """Return the row of directory ``path``.

        Raises:
            NotADirectory: ``path`` is a file.
            LFNNotFound: nothing is registered at ``path``.
        """
        row = self._dirs_by_path([path]).get(path)
        if row is not None:
            return row
        if path != "/" and self._files_by_lfn([path]):
            raise NotADirectory(f"{path}: not a directory")
        raise LFNNotFound(f"{path}: no such file or directory")

    def list_dir(self, path: str, *, with_replicas: bool = False) -> Iterator[Entry]:
        """Stream the direct children of a directory, sorted by name.

        The checks run when this is called, before anything is yielded; the
        entries are then streamed from the database while the transaction lasts.

        Raises:
            LFNNotFound: nothing is registered at ``path``.
            NotADirectory: ``path`` is a file.
        """
        dir_id = self._dir_row(path)[0]
        dirs = self._iter_subdirs(dir_id)
        files = self._iter_files(
            "WHERE f.dir_id = ?", [dir_id], "f.name", with_replicas, lambda _r: path
        )
        return heapq.merge(dirs, files, key=lambda e: e.lfn)

    def _iter_subdirs(self, dir_id: int) -> Iterator[Entry]:
        sql = f"SELECT {DIR_COLS} FROM directories d WHERE d.parent_id = ? ORDER BY d.path"
        for row in self._stream(sql + self._collate, [dir_id]):
            yield self._dir_entry(row)

    def _iter_files(
        self,
        where: str,
        params: list[Any],
        order: str,
        with_replicas: bool,
        dir_of: Any,
    ) -> Iterator[Entry]:
        """Stream file entries; ``dir_of(row)`` gives the directory path of a row."""
        if not with_replicas:
            sql = (
                f"SELECT {FILE_COLS}, d.path FROM files f JOIN directories d ON d.id = f.dir_id "
                f"{where} ORDER BY {order}{self._collate}"
            )
            for row in self._stream(sql, params):
                yield self._file_entry(_lfn.join(dir_of(row), row[F_NAME]), row)
            return
        sql = (
            f"SELECT {FILE_COLS}, d.path, s.name, s.url, r.path, r.status "
            "FROM files f JOIN directories d ON d.id = f.dir_id "
            "LEFT JOIN replicas r ON r.file_id = f.id "
            f"LEFT JOIN storage_elements s ON s.id = r.se_id {where} "
            f"ORDER BY {order}{self._collate}, f.id"
        )
        current: Any = None
        reps: list[Replica] = []
        for row in self._stream(sql, params):
            if current is not None and row[0] != current[0]:
                yield self._grouped_entry(current, reps, dir_of)
                reps = []
            current = row
            if row[14] is not None:
                url = row[15]
                reps.append(Replica(row[14], row[16], url.rstrip("/") + row[16], row[17]))
        if current is not None:
            yield self._grouped_entry(current, reps, dir_of)

    def _grouped_entry(self, row: Any, reps: list[Replica], dir_of: Any) -> Entry:
        reps.sort(key=lambda r: r.se)
        return self._file_entry(_lfn.join(dir_of(row), row[F_NAME]), row, reps)

    def walk(self, path: str, *, files_only: bool = False) -> Iterator[Entry]:
        """Stream everything below ``path`` (not ``path`` itself) in tree order.

        Entries are sorted by LFN compared component by component, so a
        directory comes right before its contents.

        Raises:
            LFNNotFound: nothing is registered at ``path``.
            NotADirectory: ``path`` is a file.
        """
        dir_id = self._dir_row(path)[0]
        low, high = prefix_range(path)
        files = self._iter_files_walk(dir_id, low, high)
        if files_only:
            return files
        return heapq.merge(self._iter_walk_dirs(low, high), files, key=lambda e: sort_key(e.lfn))

    def _iter_walk_dirs(self, low: str, high: str) -> Iterator[Entry]:
        below, params = path_between("d.path", low, high, sqlite=self._sqlite)
        sql = (
            f"SELECT {DIR_COLS} FROM directories d WHERE {below} "
            f"ORDER BY replace(d.path, '/', ?){self._collate}"
        )
        for row in self._stream(sql, [*params, "\x01"]):
            yield self._dir_entry(row)

    def _iter_files_walk(self, dir_id: int, low: str, high: str) -> Iterator[Entry]:
        key = "CASE WHEN d.path = '/' THEN '' ELSE replace(d.path, '/', ?) END || ? || f.name"
        below, params = path_between("d.path", low, high, sqlite=self._sqlite)
        sql = (
            f"SELECT {FILE_COLS}, d.path FROM files f JOIN directories d ON d.id = f.dir_id "
            f"WHERE (d.id = ? OR ({below})) ORDER BY {key}{self._collate}"
        )
        for row in self._stream(sql, [dir_id, *params, "\x01", "\x01"]):
            yield self._file_entry(_lfn.join(row[13], row[F_NAME]), row)

    def find_guid(self, guid: str) -> Entry:
        """Return the file registered with ``guid`` (with its replicas).

        Raises:
            LFNNotFound: no file has that GUID.
        """
        sql = (
            f"SELECT {FILE_COLS}, d.path FROM files f JOIN directories d ON d.id = f.dir_id "
            "WHERE f.guid = ? ORDER BY f.id LIMIT 1"
        )
        rows = self._fetchall(sql, [guid])
        row = rows[0] if rows else None
        if row is None:
            raise LFNNotFound(f"no file with GUID {guid}")
        reps = self._replicas_of([row[0]])
        return self._file_entry(_lfn.join(row[13], row[F_NAME]), row, reps.get(row[0], ()))
