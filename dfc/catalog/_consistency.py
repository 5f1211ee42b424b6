"""Catalogue side of ``dfc check``: replicas at one SE, and which SE paths are known."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dfc import lfn as _lfn
from dfc.catalog._base import TxBase, chunks, marks, path_between, prefix_range
from dfc.errors import InvalidLFN, SENotFound

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["ConsistencyMixin", "ReplicaRecord"]

# Uploads that found their path taken write to "<lfn>~<8 hex>" (see dfc.api).
_SUFFIX = re.compile(r"~[0-9a-f]{8}$")


@dataclass(frozen=True, slots=True)
class ReplicaRecord:
    """One replica at one SE with what the catalogue expects of its bytes."""

    file_id: int
    lfn: str
    path: str
    status: str
    size: int
    adler32: str | None
    xxh3: str | None


class ConsistencyMixin(TxBase):
    """Queries for comparing the catalogue with the contents of a storage element."""

    def _se_id(self, name: str) -> int:
        rows = self._fetchall("SELECT id FROM storage_elements WHERE name = ?", [name])
        if not rows:
            raise SENotFound(f"{name}: no such storage element")
        return int(rows[0][0])

    def replicas_at(
        self, se: str, path: str, *, after: int = 0, limit: int = 1000
    ) -> list[ReplicaRecord]:
        """Return replicas at SE ``se`` of the files at or below LFN ``path``.

        Keyset-paginated for streaming: rows with a file id above ``after``,
        ordered by file id, at most ``limit``.

        Raises:
            SENotFound: no such SE.
        """
        se_id = self._se_id(se)
        below, range_params = path_between("d.path", *prefix_range(path), sqlite=self._sqlite)
        cols = (
            "f.id, d.path, f.name, r.path, r.status, f.size, f.adler32, f.xxh3 "
            "FROM replicas r JOIN files f ON f.id = r.file_id "
            "JOIN directories d ON d.id = f.dir_id"
        )
        where = f"r.se_id = ? AND f.id > ? AND (d.path = ? OR ({below})"
        params: list[object] = [se_id, after, path, *range_params]
        if path != "/":
            where += " OR (d.path = ? AND f.name = ?)"
            params += [_lfn.dirname(path), _lfn.basename(path)]
        sql = f"SELECT {cols} WHERE {where}) ORDER BY f.id LIMIT ?"
        return [
            ReplicaRecord(
                file_id=row[0],
                lfn=_lfn.join(row[1], row[2]),
                path=row[3],
                status=row[4],
                size=row[5],
                adler32=row[6],
                xxh3=row[7],
            )
            for row in self._fetchall(sql, [*params, limit])
        ]

    def paths_in_use(self, se: str, paths: Sequence[str]) -> set[str]:
        """Return those of ``paths`` that some replica at SE ``se`` points to.

        Physical paths are nearly always the LFN they were written for (or that
        LFN with an ``~xxxxxxxx`` suffix), so they are looked up through the
        indexed namespace first; only the rest are searched by path.

        Raises:
            SENotFound: no such SE.
        """
        se_id = self._se_id(se)
        wanted = set(paths)
        found: set[str] = set()
        candidates = {p for p in wanted if _is_lfn(p)}
        candidates |= {_SUFFIX.sub("", p) for p in candidates}
        files = self._files_by_lfn(candidates)
        ids = [row[0] for row in files.values()]
        for part in chunks(ids):
            sql = f"SELECT path FROM replicas WHERE se_id = ? AND file_id IN ({marks(len(part))})"
            found |= {row[0] for row in self._fetchall(sql, [se_id, *part])} & wanted
        rest = sorted(wanted - found)
        for part in chunks(rest):
            sql = f"SELECT path FROM replicas WHERE se_id = ? AND path IN ({marks(len(part))})"
            found |= {row[0] for row in self._fetchall(sql, [se_id, *part])}
        return found


def _is_lfn(path: str) -> bool:
    try:
        _lfn.validate(path)
    except InvalidLFN:
        return False
    return True
