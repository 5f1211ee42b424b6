"""Recursive dump: every file below a directory with checksums and replicas.

One ordered query over the tree (directories by path index, files by their
``(dir_id, name)`` index, replicas by ``file_id``), read with the driver's own
cursor in batches (a server-side cursor on PostgreSQL): memory stays bounded
whatever the size of the tree (DIRAC's ``getDirectoryDump``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dfc import lfn as _lfn
from dfc.catalog._namespace import NamespaceMixin
from dfc.catalog._scope import StreamMixin, subtree

if TYPE_CHECKING:
    from collections.abc import Iterator

    from dfc.catalog._records import DumpEntry

__all__ = ["DumpMixin"]


class DumpMixin(NamespaceMixin, StreamMixin):
    """Stream a tree of files with their checksums and replicas."""

    def dump(self, path: str) -> Iterator[DumpEntry]:
        """Stream every file below directory ``path`` (or the file ``path``), in LFN order.

        Each entry holds the LFN, size, checksums and replicas ``(se, pfn)``.
        ``path`` is checked when this is called; entries stream from the
        database while the transaction lasts.

        Raises:
            LFNNotFound: nothing is registered at ``path``.
        """
        # The records load on first use (CLI start-up).
        from dfc.catalog._records import DumpEntry

        row = self._dirs_by_path([path]).get(path)
        if row is None:
            entry = self.lookup(path)
            reps = tuple((r.se, r.pfn) for r in entry.replicas)
            return iter([DumpEntry(path, entry.size, entry.adler32 or "", entry.xxh3, reps)])
        where, params = subtree("d", path, sqlite=self._sqlite)
        sql = (
            "SELECT d.path, f.name, f.size, f.adler32, f.xxh3, r.se_id, r.path "
            "FROM directories d JOIN files f ON f.dir_id = d.id "
            f"LEFT JOIN replicas r ON r.file_id = f.id WHERE {where} "
            f"ORDER BY d.path{self._collate}, f.name{self._collate}"
        )
        ses = {se_id: (name, url.rstrip("/")) for name, (se_id, url) in self._se_ids().items()}
        return self._dump_rows(self._stream_raw(sql, params), ses)

    @staticmethod
    def _dump_rows(
        rows: Iterator[tuple[Any, ...]], ses: dict[int, tuple[str, str]]
    ) -> Iterator[DumpEntry]:
        # The rows of one file are adjacent (ordered by directory, name): a
        # hand-written group-by, the hot loop of a million-file dump.
        from dfc.catalog._records import DumpEntry

        join = _lfn.join
        entry = DumpEntry
        head: tuple[Any, ...] | None = None
        reps: list[tuple[str, str]] = []
        for row in rows:
            if head is not None and (row[1] != head[1] or row[0] != head[0]):
                if len(reps) > 1:
                    reps.sort()
                yield entry(join(head[0], head[1]), head[2], head[3], head[4], tuple(reps))
                reps = []
            head = row
            if row[5] is not None:
                se, base = ses[row[5]]
                reps.append((se, base + row[6]))
        if head is not None:
            if len(reps) > 1:
                reps.sort()
            yield entry(join(head[0], head[1]), head[2], head[3], head[4], tuple(reps))
