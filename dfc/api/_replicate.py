"""``replicate``: copy files from one of their replicas to another storage element, verified."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, TypeVar

from dfc import _sync
from dfc.api._bulk import reorder, validate_all
from dfc.api._storage import Storage
from dfc.api._transfers import TransferMixin
from dfc.errors import (
    DFCError,
    IsADirectory,
)
from dfc.models import BulkResult, Replica

if TYPE_CHECKING:
    from collections.abc import Awaitable, Sequence
    from contextlib import AbstractContextManager

    from dfc.api._guarded import ApiTx
    from dfc.api._results import ReplicateResult
    from dfc.callbacks import Callback
    from dfc.catalog import CatalogTx
    from dfc.config import Settings
    from dfc.models import Entry

__all__ = ["ReplicateMixin"]

T = TypeVar("T")
#: Files looked up per catalogue query when a directory is expanded.
_BATCH = 500


class ReplicateMixin(TransferMixin):
    """The ``replicate`` operation of :class:`dfc.DFC` (through the engine, or direct)."""

    settings: Settings

    if TYPE_CHECKING:
        # Authorised transactions (dfc.api._authz), provided by DFC.
        def _tx(self) -> AbstractContextManager[ApiTx]: ...

        def _reader(self) -> AbstractContextManager[ApiTx]: ...

    def replicate(
        self,
        lfns: Sequence[str],
        to: str,
        *,
        source: str | None = None,
        recursive: bool = False,
        callback: Callback | None = None,
    ) -> BulkResult[ReplicateResult]:
        """Copy files to storage element ``to`` and register the new replicas.

        A file already at ``to`` is a successful no-op. Sources at the
        destination's site are preferred; every copy is verified before it is
        registered, and a corrupt source fails over to another replica.
        ``recursive`` replicates everything below directories. The files form a
        transfer job that the engine works in this process until it is final
        (:meth:`fts_submit`, :meth:`fts_run`); the job stays listed by
        :meth:`fts_jobs`.

        Raises:
            SENotFound: ``to`` or ``source`` is unknown.
            SEBanned: ``to`` is banned for writing.
        """
        result: BulkResult[ReplicateResult] = BulkResult()
        valid = validate_all(lfns, result)
        # A catalogue server's clients have no queue database: they copy directly.
        remote = self.settings.catalog_url.startswith("https://")
        copy = self._replicate_direct if remote else self._replicate_queued
        result.merge(copy(valid, to, source=source, recursive=recursive, callback=callback))
        reorder(result, lfns)
        return result

    def _replicate_direct(
        self,
        lfns: Sequence[str],
        to: str,
        *,
        source: str | None = None,
        recursive: bool = False,
        callback: Callback | None = None,
    ) -> BulkResult[ReplicateResult]:
        """Copy and register each file directly, without a job (remote catalogues).

        ``lfns`` are valid LFNs (:meth:`replicate` checked them).
        """
        from dfc.api._batch import Batcher
        from dfc.api._copy import replicate_one  # the storage layer loads on first use
        from dfc.api._slots import CopySlots

        result: BulkResult[ReplicateResult] = BulkResult()
        with self._reader() as tx:
            infos = {s.name: s for s in tx.list_ses()}
            storage_check = Storage(self.settings, infos)
            storage_check.writable(to)
            if source is not None:
                storage_check.info(source)
            entries = self._expand(tx, lfns, recursive, result)
            copies = [e.lfn for e in entries if all(r.se != to for r in e.replicas)]
            refused = tx.access(copies, "write").failed
        result.failed.update(refused)
        entries = [e for e in entries if e.lfn not in refused]
        if callback is not None:
            callback.set_size(sum(e.size for e in entries if all(r.se != to for r in e.replicas)))

        async def run() -> None:
            storage = Storage(self.settings, infos)
            executor = _sync.CatalogExecutor()
            slots = CopySlots.from_settings(self.settings)

            def register_batch(items: list[tuple[str, Replica]]) -> list[Exception | None]:
                with self._tx() as tx:
                    added = tx.add_replicas(items)
                return [added.failed.get(lfn) for lfn, _ in items]

            registrar = Batcher(executor, register_batch)

            def register(lfn: str, replica: Replica) -> Awaitable[None]:
                return registrar.submit((lfn, replica))

            async def one(entry: Entry) -> None:
                async with slots.hold(entry.size):
                    try:
                        done = await replicate_one(
                            entry, to, storage, register, source=source, callback=callback
                        )
                    except DFCError as exc:
                        result.failed[entry.lfn] = exc
                    else:
                        result.succeeded[entry.lfn] = done

            try:
                await asyncio.gather(*(one(e) for e in entries))
            finally:
                await storage.aclose()
                executor.shutdown()

        if entries:
            _sync.run(run())
        return result

    def _expand(
        self, tx: CatalogTx, lfns: Sequence[str], recursive: bool, result: BulkResult[T]
    ) -> list[Entry]:
        """Resolve LFNs to file entries with replicas; directories need ``recursive``."""
        found = tx.stat(lfns)
        result.failed.update(found.failed)
        out: list[Entry] = []
        for lfn in lfns:
            entry = found.succeeded.get(lfn)
            if entry is None:
                continue
            if not entry.is_dir:
                out.append(entry)
            elif not recursive:
                result.failed[lfn] = IsADirectory(f"{lfn} is a directory (use -r)")
            else:
                names = [e.lfn for e in tx.walk(lfn, files_only=True)]
                for start in range(0, len(names), _BATCH):
                    sub = tx.stat(names[start : start + _BATCH])
                    out.extend(
                        sub.succeeded[n]
                        for n in names[start : start + _BATCH]
                        if n in sub.succeeded
                    )
        return out
