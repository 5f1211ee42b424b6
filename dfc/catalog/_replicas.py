"""Replicas: add, remove, change status, and the bulk replica lookup."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dfc import lfn as _lfn
from dfc.catalog._base import chunks, values
from dfc.catalog._files import REPLICA_STATUSES, FilesMixin, resolve_replica_path
from dfc.errors import (
    DFCError,
    InvalidArgument,
    IsADirectory,
    LFNNotFound,
    ReplicaExists,
    ReplicaNotFound,
    SENotFound,
)
from dfc.models import BulkResult, Replica

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["ReplicasMixin"]


class ReplicasMixin(FilesMixin):
    """Replica rows of registered files."""

    def _absent(self, lfns: Sequence[str]) -> dict[str, DFCError]:
        """Explain why each of ``lfns`` is not a file."""
        dirs = self._dirs_by_path(lfns) if lfns else {}
        return {
            p: IsADirectory(f"{p}: is a directory")
            if p in dirs
            else LFNNotFound(f"{p}: no such file")
            for p in lfns
        }

    def _existing(self, file_ids: Sequence[int]) -> dict[tuple[int, int], tuple[str, str]]:
        """Return (file_id, se_id) -> (path, status) of the files' replicas."""
        out: dict[tuple[int, int], tuple[str, str]] = {}
        for part in chunks(sorted(set(file_ids))):
            marks_ = ",".join("?" * len(part))
            sql = f"SELECT file_id, se_id, path, status FROM replicas WHERE file_id IN ({marks_})"
            for file_id, se_id, path, status in self._q(sql, part):
                out[(file_id, se_id)] = (path, status)
        return out

    def add_replicas(self, items: Sequence[tuple[str, Replica]]) -> BulkResult[None]:
        """Register replicas ``(lfn, Replica(se, path, status))``; keyed by LFN.

        The same replica again (same SE and path) is a success; an empty path
        means the LFN. An LFN with several items fails if any of them fails.

        Returns:
            Per LFN: success, or :class:`~dfc.errors.ReplicaExists` (same SE,
            other path), :class:`~dfc.errors.SENotFound`,
            :class:`~dfc.errors.LFNNotFound`, :class:`~dfc.errors.IsADirectory`,
            :class:`~dfc.errors.InvalidArgument` (bad status or path).
        """
        result: BulkResult[None] = BulkResult()
        ses = self._se_ids()
        _, db_now = self._now()
        for part in chunks(items):
            files = self._files_by_lfn(lfn for lfn, _ in part)
            result.failed.update(self._absent([lfn for lfn, _ in part if lfn not in files]))
            have = self._existing([row[0] for row in files.values()])
            rows: list[tuple[str, tuple[Any, ...]]] = []
            for lfn, rep in part:
                row = files.get(lfn)
                if row is None:
                    continue
                try:
                    new = self._replica_row(lfn, rep, row[0], ses, have)
                except DFCError as exc:
                    result.failed[lfn] = exc
                    continue
                if new is not None:
                    have[(new[0], new[1])] = (new[2], new[3])
                    rows.append((lfn, (*new, db_now)))
            self._many(
                "INSERT INTO replicas (file_id, se_id, path, status, ctime) VALUES (?, ?, ?, ?, ?)",
                [r for lfn, r in rows if lfn not in result.failed],
            )
            for lfn, _ in part:
                if lfn not in result.failed:
                    result.succeeded[lfn] = None
        return result

    @staticmethod
    def _replica_row(
        lfn: str,
        rep: Replica,
        file_id: int,
        ses: dict[str, tuple[int, str]],
        have: dict[tuple[int, int], tuple[str, str]],
    ) -> tuple[int, int, str, str] | None:
        if rep.se not in ses:
            raise SENotFound(f"{rep.se}: no such storage element")
        if rep.status not in REPLICA_STATUSES:
            raise InvalidArgument(f"{lfn}: invalid replica status {rep.status!r}")
        path = resolve_replica_path(lfn, rep.path)
        se_id = ses[rep.se][0]
        old = have.get((file_id, se_id))
        if old is None:
            return (file_id, se_id, path, rep.status)
        if old[0] != path:
            raise ReplicaExists(f"{lfn}: replica at {rep.se} exists with path {old[0]}")
        return None

    def remove_replicas(self, items: Sequence[tuple[str, str]]) -> BulkResult[None]:
        """Unregister replicas ``(lfn, se)``; absent ones count as success.

        A file may be left with no replica (the API enforces the last-replica
        rule). Keyed by LFN.

        Returns:
            Per LFN: success, or :class:`~dfc.errors.IsADirectory`.
        """
        result: BulkResult[None] = BulkResult()
        ses = self._se_ids()
        for part in chunks(items):
            files = self._files_by_lfn(lfn for lfn, _ in part)
            absent = self._absent([lfn for lfn, _ in part if lfn not in files])
            rows = [(files[lfn][0], ses[se][0]) for lfn, se in part if lfn in files and se in ses]
            self._many("DELETE FROM replicas WHERE file_id = ? AND se_id = ?", rows)
            for lfn, _ in part:
                if isinstance(absent.get(lfn), IsADirectory):
                    result.failed[lfn] = absent[lfn]
                else:
                    result.succeeded[lfn] = None
        return result

    def set_replica_status(self, items: Sequence[tuple[str, str, str]]) -> BulkResult[None]:
        """Set the status (``good`` or ``bad``) of replicas ``(lfn, se, status)``.

        Returns:
            Per LFN: success, or :class:`~dfc.errors.ReplicaNotFound`,
            :class:`~dfc.errors.SENotFound`, :class:`~dfc.errors.LFNNotFound`,
            :class:`~dfc.errors.IsADirectory`, :class:`~dfc.errors.InvalidArgument`.
        """
        result: BulkResult[None] = BulkResult()
        ses = self._se_ids()
        for part in chunks(items):
            files = self._files_by_lfn(lfn for lfn, _, _ in part)
            result.failed.update(self._absent([x[0] for x in part if x[0] not in files]))
            have = self._existing([row[0] for row in files.values()])
            rows: list[tuple[Any, ...]] = []
            for lfn, se, status in part:
                if lfn not in files:
                    continue
                if status not in REPLICA_STATUSES:
                    result.failed[lfn] = InvalidArgument(f"invalid replica status {status!r}")
                elif se not in ses:
                    result.failed[lfn] = SENotFound(f"{se}: no such storage element")
                elif (files[lfn][0], ses[se][0]) not in have:
                    result.failed[lfn] = ReplicaNotFound(f"{lfn}: no replica at {se}")
                else:
                    rows.append((status, files[lfn][0], ses[se][0]))
            self._many("UPDATE replicas SET status = ? WHERE file_id = ? AND se_id = ?", rows)
            for lfn, _, _ in part:
                if lfn not in result.failed:
                    result.succeeded[lfn] = None
        return result

    def replicas(self, lfns: Sequence[str]) -> BulkResult[list[Replica]]:
        """Return every replica of each file (PFN filled), sorted by SE name.

        One query per chunk of LFNs.

        Returns:
            Per LFN: the replica list (possibly empty), or
            :class:`~dfc.errors.LFNNotFound`, :class:`~dfc.errors.IsADirectory`.
        """
        result: BulkResult[list[Replica]] = BulkResult()
        urls: dict[str, str] = {}
        for part in chunks(list(dict.fromkeys(lfns))):
            params: list[str] = []
            for key in part:
                params += (_lfn.dirname(key), _lfn.basename(key))
            sql = (
                "SELECT v.column1, v.column2, s.name, s.url, r.path, r.status "
                f"FROM (VALUES {values(len(part), 2)}) v "
                "CROSS JOIN directories d CROSS JOIN files f "
                "LEFT JOIN replicas r ON r.file_id = f.id "
                "LEFT JOIN storage_elements s ON s.id = r.se_id "
                "WHERE d.path = v.column1 AND f.dir_id = d.id AND f.name = v.column2"
            )
            found = result.succeeded
            for dpath, name, se, url, path, status in self._q(sql, params):
                reps = found.setdefault(_lfn.join(dpath, name), [])
                if se is not None:
                    base = urls.get(se)
                    if base is None:
                        base = urls[se] = url.rstrip("/")
                    reps.append(Replica(se, path, base + path, status))
            result.failed.update(self._absent([p for p in part if p not in found]))
        for reps in result.succeeded.values():
            if len(reps) > 1:
                reps.sort(key=lambda r: r.se)
        return result
