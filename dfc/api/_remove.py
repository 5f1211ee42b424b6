"""``rm``: removal of files, directory trees and replicas, storage first, then the catalogue."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from dfc import _sync
from dfc.api._bulk import reorder, validate_all
from dfc.api._storage import Storage
from dfc.errors import (
    DFCError,
    InvalidArgument,
    IsADirectory,
    LastReplica,
    LFNNotFound,
    NotFound,
    SEBanned,
)
from dfc.models import BulkResult

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from contextlib import AbstractContextManager

    from dfc.api._guarded import ApiTx
    from dfc.api._results import RemoveResult
    from dfc.config import Settings
    from dfc.models import Entry, SEInfo

__all__ = ["Removal", "RemoveMixin", "remove_physical"]

#: Files looked up per catalogue query when a tree is removed.
_BATCH = 500


class Removal:
    """Outcome of removing some replicas of one file.

    A plain class: a dataclass's generated methods would cost every start.

    Attributes:
        removed: SEs whose copy is gone (or was already missing).
        errors: SEs whose copy could not be removed, with the error.
    """

    __slots__ = ("errors", "removed")

    def __init__(self) -> None:
        self.removed: list[str] = []
        self.errors: dict[str, DFCError] = {}


async def remove_physical(
    entries: Sequence[Entry], storage: Storage, *, se: str | None, concurrency: int
) -> dict[str, Removal]:
    """Remove the physical copies of ``entries`` (only those at ``se`` if given).

    A copy already missing on its SE counts as removed. Nothing is raised: each
    file's :class:`Removal` says what happened.
    """
    limit = asyncio.Semaphore(concurrency)
    out: dict[str, Removal] = {e.lfn: Removal() for e in entries}

    async def one(entry: Entry, se_name: str, path: str) -> None:
        async with limit:
            result = out[entry.lfn]
            try:
                if not storage.info(se_name).write:
                    raise SEBanned(f"storage element {se_name} is banned for writing")
                await storage.get(se_name).rm(path)
            except NotFound:
                result.removed.append(se_name)
            except DFCError as exc:
                result.errors[se_name] = exc
            else:
                result.removed.append(se_name)

    await asyncio.gather(
        *(
            one(entry, rep.se, rep.path)
            for entry in entries
            for rep in entry.replicas
            if se is None or rep.se == se
        )
    )
    return out


class RemoveMixin:
    """The ``rm`` operation of :class:`dfc.DFC`."""

    settings: Settings

    if TYPE_CHECKING:
        # Authorised transactions (dfc.api._authz), provided by DFC.
        def _tx(self) -> AbstractContextManager[ApiTx]: ...

        def _reader(self) -> AbstractContextManager[ApiTx]: ...

    def rm(
        self, lfns: Sequence[str], *, recursive: bool = False, se: str | None = None
    ) -> BulkResult[RemoveResult]:
        """Remove files (their replicas first), or with ``se`` one replica of each.

        A file whose replicas cannot all be removed stays registered with the
        ones that remain, and fails with the reasons. Removing the last replica
        with ``se`` is refused (:class:`~dfc.errors.LastReplica`). A name that is
        already gone is a success. Directories need ``recursive``.

        Raises:
            SENotFound: ``se`` is unknown.
        """
        from dfc.api._results import RemoveResult  # result types load on first use

        result: BulkResult[RemoveResult] = BulkResult()
        valid = validate_all(lfns, result)
        with self._reader() as tx:
            infos = {s.name: s for s in tx.list_ses()}
            if se is not None:
                Storage(self.settings, infos).info(se)
            found = tx.stat(valid)
        for lfn in valid:
            if isinstance(found.failed.get(lfn), LFNNotFound):
                result.succeeded[lfn] = RemoveResult(lfn, (), removed=True)
            elif lfn in found.failed:
                result.failed[lfn] = found.failed[lfn]
        files = [
            found.succeeded[x]
            for x in valid
            if x in found.succeeded and not found.succeeded[x].is_dir
        ]
        dirs = [x for x in valid if x in found.succeeded and found.succeeded[x].is_dir]
        self._rm_files(files, infos, se, result)
        for d in dirs:
            if not recursive:
                result.failed[d] = IsADirectory(f"{d} is a directory (use -r)")
            elif se is not None:
                self._rm_tree_replicas(d, infos, se, result)
            else:
                self._rm_tree(d, infos, result)
        reorder(result, [x for x in lfns if x in result.succeeded or x in result.failed])
        return result

    def _rm_tree_replicas(
        self, root: str, infos: dict[str, SEInfo], se: str, result: BulkResult[RemoveResult]
    ) -> None:
        from dfc.api._results import RemoveResult

        sub: BulkResult[RemoveResult] = BulkResult()
        for batch in self._file_batches(root):
            self._rm_files(batch, infos, se, sub)
        result.failed.update(sub.failed)
        result.succeeded[root] = RemoveResult(root, (se,), removed=False)

    def _rm_tree(
        self, root: str, infos: dict[str, SEInfo], result: BulkResult[RemoveResult]
    ) -> None:
        from dfc.api._results import RemoveResult

        sub: BulkResult[RemoveResult] = BulkResult()
        for batch in self._file_batches(root):
            self._rm_files(batch, infos, None, sub)
        result.failed.update(sub.failed)
        if root == "/":
            result.failed[root] = InvalidArgument("refusing to remove the root directory")
            return
        with self._reader() as tx:
            dirs = [e.lfn for e in tx.walk(root) if e.is_dir]
        dirs.sort(key=lambda d: d.count("/"), reverse=True)
        with self._tx() as tx:
            removed = tx.rmdir([*dirs, root])
        if sub.failed or root in removed.failed:
            if root not in result.failed and not sub.failed:
                result.failed[root] = removed.failed[root]
            return
        result.succeeded[root] = RemoveResult(root, (), removed=True)

    def _file_batches(self, root: str) -> Iterator[list[Entry]]:
        with self._reader() as tx:
            names = [e.lfn for e in tx.walk(root, files_only=True)]
        for start in range(0, len(names), _BATCH):
            with self._reader() as tx:
                found = tx.stat(names[start : start + _BATCH])
            yield list(found.succeeded.values())

    def _rm_files(
        self,
        files: list[Entry],
        infos: dict[str, SEInfo],
        se: str | None,
        result: BulkResult[RemoveResult],
    ) -> None:
        from dfc.api._results import RemoveResult

        if not files:
            return
        targets = files
        if se is not None:
            targets = []
            for entry in files:
                ses = {r.se for r in entry.replicas}
                if se not in ses:
                    result.succeeded[entry.lfn] = RemoveResult(entry.lfn, (), removed=False)
                elif len(ses) == 1:
                    result.failed[entry.lfn] = LastReplica(
                        f"{se} holds the last replica of {entry.lfn}; "
                        f"use `dfc rm {entry.lfn}` to remove the file"
                    )
                else:
                    targets.append(entry)
        if targets:  # ask before touching storage: a refused file keeps its replicas
            with self._reader() as tx:
                names = [e.lfn for e in targets]
                refused = (
                    tx.access(names, "remove") if se is None else tx.access(names, "write")
                ).failed
            result.failed.update(refused)
            targets = [e for e in targets if e.lfn not in refused]

        async def run() -> dict[str, Removal]:
            storage = Storage(self.settings, infos)
            try:
                return await remove_physical(
                    targets, storage, se=se, concurrency=self.settings.transfer_concurrency
                )
            finally:
                await storage.aclose()

        outcome = _sync.run(run()) if targets else {}
        with self._tx() as tx:
            pairs: list[tuple[str, str]] = []
            gone: list[str] = []
            for entry in targets:
                rem = outcome[entry.lfn]
                pairs.extend((entry.lfn, s) for s in rem.removed)
                if se is None and not rem.errors:
                    gone.append(entry.lfn)
            tx.remove_replicas(pairs).raise_first()
            tx.remove_files(gone).raise_first()
        for entry in targets:
            rem = outcome[entry.lfn]
            if rem.errors:
                left = len(entry.replicas) - len(rem.removed)
                why = "; ".join(f"{s}: {e}" for s, e in rem.errors.items())
                result.failed[entry.lfn] = _worst(rem.errors)(
                    f"{entry.lfn}: {len(rem.errors)} replica(s) could not be removed ({why}); "
                    f"the file stays registered with {left} replica(s)"
                )
            else:
                result.succeeded[entry.lfn] = RemoveResult(
                    entry.lfn, tuple(rem.removed), removed=se is None
                )


def _worst(errors: dict[str, DFCError]) -> type[DFCError]:
    return type(next(iter(errors.values())))
