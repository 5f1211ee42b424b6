"""Replicas: add, remove, change status, and the bulk replica lookup."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dfc._gc import gc_paused
from dfc.catalog._base import chunks, new_replica, values
from dfc.catalog._files import REPLICA_STATUSES, FilesMixin, resolve_replica_path
from dfc.catalog._usage import Deltas
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
            for file_id, se_id, path, status in self._fetchall(sql, part):
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
        usage = Deltas()
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
            fresh = [r for lfn, r in rows if lfn not in result.failed]
            if fresh:
                where = self._file_rows_locked(files.values())
                for file_id, se_id in self._insert_replicas(fresh):
                    dir_id, size = where[file_id]
                    usage.add(dir_id, se_id, 1, size)
            for lfn, _ in part:
                if lfn not in result.failed:
                    result.succeeded[lfn] = None
        self._usage_apply(usage)
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
        usage = Deltas()
        for part in chunks(items):
            files = self._files_by_lfn(lfn for lfn, _ in part)
            absent = self._absent([lfn for lfn, _ in part if lfn not in files])
            rows = [(files[lfn][0], ses[se][0]) for lfn, se in part if lfn in files and se in ses]
            if rows:
                where = self._file_rows_locked(files.values())
                for file_id, se_id in self._delete_replicas(rows):
                    dir_id, size = where[file_id]
                    usage.add(dir_id, se_id, -1, -size)
            for lfn, _ in part:
                if isinstance(absent.get(lfn), IsADirectory):
                    result.failed[lfn] = absent[lfn]
                else:
                    result.succeeded[lfn] = None
        self._usage_apply(usage)
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

    @gc_paused()  # a bulk answer makes no reference cycles (dfc._gc)
    def replicas(self, lfns: Sequence[str]) -> BulkResult[list[Replica]]:
        """Return every replica of each file (PFN filled), sorted by SE name.

        Two queries per chunk of LFNs: their directories, then files joined with
        replicas.

        Returns:
            Per LFN: the replica list (possibly empty), or
            :class:`~dfc.errors.LFNNotFound`, :class:`~dfc.errors.IsADirectory`.
        """
        result: BulkResult[list[Replica]] = BulkResult()
        ses = {se_id: (name, url.rstrip("/")) for name, (se_id, url) in self._se_ids().items()}
        dir_ids: dict[str, int] = {}
        found: dict[str, list[Replica]] = {}
        # Sorted keys walk the indexes in order: about twice as fast as random order.
        for part in chunks(sorted(set(lfns))):
            split = [lfn.rpartition("/") for lfn in part]
            unknown = {head or "/" for head, _, _ in split}.difference(dir_ids)
            for path, row in self._dirs_by_path(unknown).items():
                dir_ids[path] = row[0]
            params: list[Any] = []
            for i, (head, _, name) in enumerate(split):
                dir_id = dir_ids.get(head or "/")
                if dir_id is not None:
                    params += (i, dir_id, name)
            sql = (
                "SELECT v.column1, r.se_id, r.path, r.status "
                f"FROM (VALUES {values(len(params) // 3, 3)}) v CROSS JOIN files f "
                "LEFT JOIN replicas r ON r.file_id = f.id "
                "WHERE f.dir_id = v.column2 AND f.name = v.column3"
            )
            last = -1
            hits = 0
            reps: list[Replica] = []
            prev = ""
            # Rows usually come grouped by key (i), replicas in SE-name order.
            for i, se_id, path, status in self._fetchall(sql, params) if params else ():
                if i != last:
                    last = i
                    key = part[i]
                    got = found.get(key)
                    if got is None:
                        hits += 1
                        reps = found[key] = []
                        prev = ""
                    else:  # not grouped (a plan that does not keep the key order)
                        reps = got
                        prev = reps[-1].se if reps else ""
                if se_id is not None:
                    se, base = ses[se_id]
                    rep = new_replica(Replica, (se, path, base + path, status))
                    if se > prev:
                        reps.append(rep)
                        prev = se
                    else:  # keep SE-name order (ids need not follow names; lists are short)
                        at = len(reps)
                        while at and reps[at - 1].se > se:
                            at -= 1
                        reps.insert(at, rep)
            if hits < len(part):
                result.failed.update(self._absent([p for p in part if p not in found]))
        result.succeeded = {lfn: found[lfn] for lfn in lfns if lfn in found}
        return result
