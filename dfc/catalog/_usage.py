"""Storage usage: per-directory counters kept in step with every change.

``dir_usage`` holds, for each directory, the files directly in it and their
bytes (``se_id`` 0, the logical usage) and, per storage element, the replicas
of those files and their bytes. Every write that adds, removes or moves files
or replicas updates the counters in the same transaction, from what the
database reports it changed (``RETURNING``), so a recount always agrees; a
CHECK constraint keeps them from ever going negative. ``du`` of a tree sums
the rows of its directories (one range scan), never the files.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from dfc.catalog._base import F_DIR, F_SIZE, chunks, marks, values
from dfc.catalog._namespace import NamespaceMixin
from dfc.catalog._scope import subtree
from dfc.errors import CatalogError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from dfc.catalog._records import Usage

__all__ = ["Deltas", "UsageMixin"]

#: ``se_id`` of the logical (per-file) counters.
LOGICAL = 0
_UPSERT = (
    "INSERT INTO dir_usage (dir_id, se_id, files, bytes) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (dir_id, se_id) DO UPDATE SET files = dir_usage.files + excluded.files, "
    "bytes = dir_usage.bytes + excluded.bytes"
)
_DECREMENT = (
    "UPDATE dir_usage SET files = files + ?, bytes = bytes + ? WHERE dir_id = ? AND se_id = ?"
)
_REPLICA_ROWS = 1000  # rows per multi-row replica INSERT (5 parameters each)


class Deltas(defaultdict[tuple[int, int], list[int]]):
    """Counter changes of one operation: ``(dir_id, se_id) -> [files, bytes]``."""

    def __init__(self) -> None:
        super().__init__(lambda: [0, 0])

    def add(self, dir_id: int, se_id: int, files: int, size: int) -> None:
        """Add ``files`` files of ``size`` bytes in total (negative to remove)."""
        cell = self[(dir_id, se_id)]
        cell[0] += files
        cell[1] += size


class UsageMixin(NamespaceMixin):
    """Usage counters: maintenance helpers for the writers, ``du`` and recount."""

    # ------------------------------------------------------------ maintenance
    def _usage_apply(self, deltas: Deltas) -> None:
        """Add ``deltas`` to the counters (in key order: no lock-order deadlocks).

        Increments are upserts. Decrements update rows that must exist: a
        missing row means the counters were already wrong, and the CHECK
        constraint refuses any counter that would go negative.

        Raises:
            CatalogError: a counter to decrement is missing.
        """
        ups: list[tuple[int, int, int, int]] = []
        downs: list[tuple[int, int, int, int]] = []
        for (dir_id, se_id), (files, size) in sorted(deltas.items()):
            if files >= 0 and size >= 0:
                if files or size:
                    ups.append((dir_id, se_id, files, size))
            else:
                downs.append((files, size, dir_id, se_id))
        self._many(_UPSERT, ups)
        if downs:
            changed = self._many_count(_DECREMENT, downs)
            if changed != len(downs):
                raise CatalogError(
                    "storage usage counters are inconsistent; rebuild them with `dfc du --recount`"
                )

    def _current_files(self, known: dict[int, tuple[int, int]]) -> dict[int, tuple[int, int]]:
        """Return file id -> (dir_id, size) for the files of ``known``, as locked now.

        ``known`` holds the same mapping as read earlier in this transaction. On
        PostgreSQL the rows are re-read ``FOR UPDATE``: a concurrent move or
        removal of one of the files then waits for this transaction (or this
        one for it), so counters are charged to the directory that holds the
        file. SQLite serialises writers, so what was read is current.
        """
        if self._sqlite or not known:
            return known
        locked: dict[int, tuple[int, int]] = {}
        for part in chunks(sorted(known)):
            sql = (
                f"SELECT id, dir_id, size FROM files WHERE id IN ({marks(len(part))}) "
                "ORDER BY id FOR UPDATE"
            )
            for file_id, dir_id, size in self._fetchall(sql, part):
                locked[file_id] = (dir_id, size)
        return locked

    def _file_rows_locked(self, rows: Iterable[Sequence[Any]]) -> dict[int, tuple[int, int]]:
        """:meth:`_current_files` of file rows (FILE_COLS)."""
        return self._current_files({row[0]: (row[F_DIR], row[F_SIZE]) for row in rows})

    def _insert_replicas(self, rows: Sequence[tuple[Any, ...]]) -> list[tuple[int, int]]:
        """Insert replica rows ``(file_id, se_id, path, status, ctime)`` not there yet.

        Returns:
            The ``(file_id, se_id)`` keys actually inserted.
        """
        done: list[tuple[int, int]] = []
        for part in chunks(rows, _REPLICA_ROWS):
            params = [v for row in part for v in row]
            sql = (
                "INSERT INTO replicas (file_id, se_id, path, status, ctime) "
                f"VALUES {values(len(part), 5)} ON CONFLICT (file_id, se_id) DO NOTHING "
                "RETURNING file_id, se_id"
            )
            done.extend((r[0], r[1]) for r in self._fetchall(sql, params))
        return done

    def _delete_replicas(self, keys: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        """Delete replicas by ``(file_id, se_id)``; return the keys that existed."""
        done: list[tuple[int, int]] = []
        for part in chunks(keys):
            params = [v for key in part for v in key]
            sql = (
                "DELETE FROM replicas WHERE (file_id, se_id) IN "
                f"(VALUES {values(len(part), 2)}) RETURNING file_id, se_id"
            )
            done.extend((r[0], r[1]) for r in self._fetchall(sql, params))
        return done

    def _drop_files(self, file_ids: Sequence[int], deltas: Deltas) -> None:
        """Delete files and their replicas by id; uncount what was deleted in ``deltas``.

        The caller applies ``deltas`` once, at the end of its operation (all
        counter rows are then locked last, in key order).
        """
        for part in chunks(sorted(set(file_ids))):
            ids = marks(len(part))
            reps = self._fetchall(
                f"DELETE FROM replicas WHERE file_id IN ({ids}) RETURNING file_id, se_id", part
            )
            gone = self._fetchall(
                f"DELETE FROM files WHERE id IN ({ids}) RETURNING id, dir_id, size", part
            )
            where = {file_id: (dir_id, size) for file_id, dir_id, size in gone}
            for dir_id, size in where.values():
                deltas.add(dir_id, LOGICAL, -1, -size)
            for file_id, se_id in reps:
                if file_id in where:
                    dir_id, size = where[file_id]
                    deltas.add(dir_id, se_id, -1, -size)

    # ------------------------------------------------------------ queries
    def du(self, path: str, *, own: bool = False, from_files: bool = False) -> Usage:
        """Return the usage of a directory tree (or of one file).

        Args:
            path: a directory or a file.
            own: count only the files directly in the directory (and its direct
                subdirectories), not the whole tree.
            from_files: recount from the file and replica tables instead of
                reading the counters (slow; for checking).

        Raises:
            LFNNotFound: nothing is registered at ``path``.
        """
        row = self._dirs_by_path([path]).get(path)
        if row is None:
            return self._file_usage(path)
        if own:
            where, params = "d.id = ?", [row[0]]
            count_sql, count_params = (
                "SELECT COUNT(*) FROM directories WHERE parent_id = ?",
                [row[0]],
            )
        else:
            where, params = subtree("d", path, sqlite=self._sqlite)
            count_sql, count_params = (
                f"SELECT COUNT(*) - 1 FROM directories d WHERE {where}",
                params,
            )
        if from_files:
            sql = (
                "SELECT 0, COUNT(*), SUM(f.size) FROM directories d "
                f"JOIN files f ON f.dir_id = d.id WHERE {where} "
                "UNION ALL SELECT r.se_id, COUNT(*), SUM(f.size) FROM directories d "
                "JOIN files f ON f.dir_id = d.id JOIN replicas r ON r.file_id = f.id "
                f"WHERE {where} GROUP BY r.se_id"
            )
            params = params + params
        else:
            sql = (
                "SELECT u.se_id, SUM(u.files), SUM(u.bytes) FROM directories d "
                f"JOIN dir_usage u ON u.dir_id = d.id WHERE {where} GROUP BY u.se_id"
            )
        totals = {se_id: (int(n or 0), int(b or 0)) for se_id, n, b in self._fetchall(sql, params)}
        dirs = int(self._fetchall(count_sql, count_params)[0][0])
        return self._usage(path, totals, dirs)

    def _file_usage(self, path: str) -> Usage:
        # The usage records load on first use (CLI start-up).
        from dfc.catalog._records import SEUsage, Usage

        entry = self.lookup(path)
        ses = {r.se: SEUsage(1, entry.size) for r in entry.replicas}
        return Usage(path, 1, entry.size, 0, ses)

    def _usage(self, path: str, totals: dict[int, tuple[int, int]], dirs: int) -> Usage:
        from dfc.catalog._records import SEUsage, Usage

        names = {se_id: name for name, (se_id, _url) in self._se_ids().items()}
        files, size = totals.pop(LOGICAL, (0, 0))
        ses = {
            names.get(se_id, f"#{se_id}"): SEUsage(n, b)
            for se_id, (n, b) in totals.items()
            if n or b
        }
        return Usage(path, files, size, dirs, dict(sorted(ses.items())))

    def recount_usage(self, path: str = "/") -> None:
        """Rebuild the counters of directory ``path`` and everything below it.

        Raises:
            LFNNotFound: no such directory.
            NotADirectory: ``path`` is a file.
        """
        self._dir_row(path)
        where, params = subtree("d", path, sqlite=self._sqlite)
        self._exec(
            f"DELETE FROM dir_usage WHERE dir_id IN (SELECT d.id FROM directories d WHERE {where})",
            params,
        )
        self._exec(
            "INSERT INTO dir_usage (dir_id, se_id, files, bytes) "
            "SELECT f.dir_id, 0, COUNT(*), SUM(f.size) FROM directories d "
            f"JOIN files f ON f.dir_id = d.id WHERE {where} GROUP BY f.dir_id",
            params,
        )
        self._exec(
            "INSERT INTO dir_usage (dir_id, se_id, files, bytes) "
            "SELECT f.dir_id, r.se_id, COUNT(*), SUM(f.size) FROM directories d "
            "JOIN files f ON f.dir_id = d.id JOIN replicas r ON r.file_id = f.id "
            f"WHERE {where} GROUP BY f.dir_id, r.se_id",
            params,
        )

    def usage_mismatches(self, path: str = "/") -> list[tuple[str, int, int, int, int, int]]:
        """Compare every counter below ``path`` with a recount.

        Returns:
            ``(directory, se_id, files, bytes, counted_files, counted_bytes)``
            for each counter that differs (0 for ``se_id`` is the logical one);
            empty when all agree. Zero counters and absent rows are equal.

        Raises:
            LFNNotFound: no such directory.
            NotADirectory: ``path`` is a file.
        """
        self._dir_row(path)
        where, params = subtree("d", path, sqlite=self._sqlite)
        stored: dict[tuple[str, int], tuple[int, int]] = {}
        sql = (
            "SELECT d.path, u.se_id, u.files, u.bytes FROM directories d "
            f"JOIN dir_usage u ON u.dir_id = d.id WHERE {where}"
        )
        for dpath, se_id, n, b in self._fetchall(sql, params):
            if n or b:
                stored[(dpath, se_id)] = (n, b)
        counted: dict[tuple[str, int], tuple[int, int]] = {}
        sql = (
            "SELECT d.path, 0, COUNT(*), SUM(f.size) FROM directories d "
            f"JOIN files f ON f.dir_id = d.id WHERE {where} GROUP BY d.path "
            "UNION ALL SELECT d.path, r.se_id, COUNT(*), SUM(f.size) FROM directories d "
            "JOIN files f ON f.dir_id = d.id JOIN replicas r ON r.file_id = f.id "
            f"WHERE {where} GROUP BY d.path, r.se_id"
        )
        for dpath, se_id, n, b in self._fetchall(sql, params + params):
            if n or b:
                counted[(dpath, se_id)] = (int(n), int(b))
        out = []
        for key in sorted(stored.keys() | counted.keys()):
            have, want = stored.get(key, (0, 0)), counted.get(key, (0, 0))
            if have != want:
                out.append((key[0], key[1], *have, *want))
        return out
