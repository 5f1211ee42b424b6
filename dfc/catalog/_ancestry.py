"""Provenance: which files a file was made from (DIRAC's ancestors).

Only direct links are stored (``ancestry(file_id, ancestor_id)``); ancestors
and descendants at any depth come from one recursive query, so they stay right
when links are added in any order. A link that would make a cycle is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dfc import lfn as _lfn
from dfc.catalog._base import chunks, marks
from dfc.catalog._namespace import NamespaceMixin
from dfc.errors import DFCError, InvalidArgument, LFNNotFound
from dfc.models import BulkResult

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["AncestryMixin"]

MAX_DEPTH = 1000
_INSERT = (
    "INSERT INTO ancestry (file_id, ancestor_id) VALUES (?, ?) "
    "ON CONFLICT (file_id, ancestor_id) DO NOTHING"
)


class AncestryMixin(NamespaceMixin):
    """Link files to their ancestors; walk the links both ways."""

    def ancestry_add(self, items: Sequence[tuple[str, Sequence[str]]]) -> BulkResult[None]:
        """Record that each file was made from the given ancestor files.

        Adding a link that exists is a success. Keyed by file LFN.

        Returns:
            Per LFN: success, or :class:`~dfc.errors.LFNNotFound` (the file or an
            ancestor is not a registered file), :class:`~dfc.errors.InvalidArgument`
            (a file would be its own ancestor, directly or through others).
        """
        result: BulkResult[None] = BulkResult()
        for part in chunks(items, 500):
            ids = self._file_ids({lfn for lfn, _ in part} | {a for _, anc in part for a in anc})
            for lfn, ancestors in part:
                try:
                    file_id = ids.get(lfn)
                    if file_id is None:
                        raise LFNNotFound(f"{lfn}: no such file")
                    missing = [a for a in ancestors if a not in ids]
                    if missing:
                        raise LFNNotFound(f"{lfn}: ancestor {missing[0]}: no such file")
                    wanted = sorted({ids[a] for a in ancestors})
                    self._refuse_cycle(lfn, file_id, wanted)
                except DFCError as exc:
                    result.failed[lfn] = exc
                    continue
                self._many(_INSERT, [(file_id, a) for a in wanted])
                result.succeeded[lfn] = None
        return result

    def _file_ids(self, lfns: set[str]) -> dict[str, int]:
        return {lfn: row[0] for lfn, row in self._files_by_lfn(lfns).items()}

    def _refuse_cycle(self, lfn: str, file_id: int, ancestors: list[int]) -> None:
        if file_id in ancestors:
            raise InvalidArgument(f"{lfn} cannot be its own ancestor")
        if not ancestors:
            return
        sql = (
            "WITH RECURSIVE down(id) AS (SELECT f.id FROM files f WHERE f.id = ? "
            "UNION SELECT a.file_id FROM ancestry a "
            "JOIN down ON a.ancestor_id = down.id) "
            f"SELECT id FROM down WHERE id IN ({marks(len(ancestors))}) LIMIT 1"
        )
        if self._fetchall(sql, [file_id, *ancestors]):
            raise InvalidArgument(f"{lfn}: an ancestor given descends from it (a cycle)")

    def ancestors(self, lfns: Sequence[str], depth: int = 1) -> BulkResult[dict[str, int]]:
        """Return each file's ancestors up to ``depth`` levels: ``{lfn: depth}``.

        Depth 1 is the files it was made from, 2 theirs, and so on; a file
        reached by several paths gets its smallest depth.

        Returns:
            Per LFN: the ancestors (possibly none), or
            :class:`~dfc.errors.LFNNotFound`.

        Raises:
            InvalidArgument: ``depth`` is not between 1 and 1000.
        """
        return self._relatives(lfns, depth, up=True)

    def descendants(self, lfns: Sequence[str], depth: int = 1) -> BulkResult[dict[str, int]]:
        """Return the files made from each file, up to ``depth`` levels: ``{lfn: depth}``.

        Returns:
            Per LFN: the descendants (possibly none), or
            :class:`~dfc.errors.LFNNotFound`.

        Raises:
            InvalidArgument: ``depth`` is not between 1 and 1000.
        """
        return self._relatives(lfns, depth, up=False)

    def _relatives(
        self, lfns: Sequence[str], depth: int, *, up: bool
    ) -> BulkResult[dict[str, int]]:
        if not 1 <= depth <= MAX_DEPTH:
            raise InvalidArgument(f"depth must be between 1 and {MAX_DEPTH}, not {depth}")
        near, far = ("file_id", "ancestor_id") if up else ("ancestor_id", "file_id")
        result: BulkResult[dict[str, int]] = BulkResult()
        for part in chunks(list(dict.fromkeys(lfns))):
            ids = self._file_ids(set(part))
            for lfn in part:
                if lfn not in ids:
                    result.failed[lfn] = LFNNotFound(f"{lfn}: no such file")
            if not ids:
                continue
            by_id = {file_id: lfn for lfn, file_id in ids.items()}
            out: dict[int, dict[str, int]] = {file_id: {} for file_id in by_id}
            sql = (
                f"WITH RECURSIVE rel(origin, id, depth) AS ("
                f"SELECT a.{near}, a.{far}, 1 FROM ancestry a "
                f"WHERE a.{near} IN ({marks(len(by_id))}) "
                f"UNION SELECT rel.origin, a.{far}, rel.depth + 1 FROM rel "
                f"JOIN ancestry a ON a.{near} = rel.id WHERE rel.depth < ?) "
                "SELECT rel.origin, d.path, f.name, MIN(rel.depth) FROM rel "
                "JOIN files f ON f.id = rel.id JOIN directories d ON d.id = f.dir_id "
                "GROUP BY rel.origin, d.path, f.name"
            )
            params: list[Any] = [*by_id, depth]
            for origin, dpath, name, dist in self._fetchall(sql, params):
                out[origin][_lfn.join(dpath, name)] = int(dist)
            for file_id, rel in out.items():
                result.succeeded[by_id[file_id]] = dict(
                    sorted(rel.items(), key=lambda kv: (kv[1], kv[0]))
                )
        return result
