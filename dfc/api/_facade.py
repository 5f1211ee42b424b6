"""The public API of dfc: one object, names at the edge, transactions owned here.

:class:`DFC` composes the catalogue (synchronous SQLAlchemy) and the storage
elements (asyncio). Data operations run their storage I/O on one event loop
per call (through :mod:`dfc._sync`) and reach the catalogue from there on one
dedicated thread.
"""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dfc import _sync
from dfc import lfn as lfnmod
from dfc.api._admin import AdminMixin
from dfc.api._authz import Gate, Policy
from dfc.api._bulk import reorder, validate_all
from dfc.api._check import CheckMixin
from dfc.api._guarded import ApiTx, GuardedTx
from dfc.api._meta import MetaMixin
from dfc.api._read import ReadMixin
from dfc.api._remove import RemoveMixin
from dfc.api._replicate import ReplicateMixin
from dfc.api._ses import SEMixin
from dfc.api._storage import Storage
from dfc.api._transfers import TransferMixin
from dfc.auth.identity import Identity
from dfc.catalog import Catalog
from dfc.config import Settings
from dfc.errors import (
    DFCError,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    StorageError,
)
from dfc.models import BulkResult, Entry, FileRecord, Replica, SEInfo

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from dfc.api._results import GetResult, InitResult
    from dfc.callbacks import Callback
    from dfc.catalog import CatalogTx

__all__ = ["DFC"]

_BATCH = 500

_CONFIG_TEMPLATE = """\
# dfc configuration (TOML). Every key is optional.
# catalog = "postgresql+psycopg://user@host/dfc"   # default: the embedded SQLite file
# site = "IHEP"                                    # your site, for replica choice
# default_se = "IHEP-DISK"                         # where `dfc put` writes without --se
#
# [transfers]
# concurrency = 8                                  # files (>= 1 MiB) copied at once
# small_file_concurrency = 32                      # copies at once when files are smaller
#
# Per-SE local options (credentials stay here, never in the catalogue):
# [se.CNAF-S3]
# key = "..."
# secret = "..."
"""


class DFC(
    SEMixin,
    RemoveMixin,
    ReplicateMixin,
    CheckMixin,
    ReadMixin,
    MetaMixin,
    AdminMixin,
    TransferMixin,
):
    """The dfc library API.

    Use it as a context manager, or call :meth:`close` when done::

        with DFC(Settings.load()) as dfc:
            dfc.put([Path("run1.root")], "/juno/user/a/alice/", se="IHEP-DISK")

    Bulk methods return a :class:`~dfc.models.BulkResult` and never raise on the
    first bad item; single-item methods raise :class:`~dfc.errors.DFCError`.

    Every catalogue operation is authorised (:mod:`dfc.api._authz`) for ``identity``:
    by default the local OS user; an ``https://`` catalogue URL selects a catalogue
    server, which authorises the caller's grid credential instead.
    """

    def __init__(
        self, settings: Settings | None = None, *, identity: Identity | None = None
    ) -> None:
        self.settings = settings if settings is not None else Settings.load()
        self.identity = identity if identity is not None else Identity.local(self.settings.user)
        self._catalog: Catalog | None = None
        self._gate: Gate | None = None

    # ------------------------------------------------------------------ plumbing
    def __enter__(self) -> DFC:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the catalogue connection pool."""
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    @property
    def catalog(self) -> Catalog:
        """The catalogue, opened (and its schema checked) on first use.

        Raises:
            CatalogError: the catalogue is not initialised or its schema is old.
        """
        if self._catalog is None:
            catalog = _open_catalog(self.settings.catalog_url)
            try:
                catalog.check_schema()
            except BaseException:
                catalog.close()
                raise
            self._catalog = catalog
        return self._catalog

    def _owner(self) -> tuple[str, str]:
        return self.settings.user, self.settings.group

    def _guard(self, tx: CatalogTx) -> ApiTx:
        if isinstance(tx, ApiTx):  # a catalogue server's transaction: the server authorises
            return tx
        if self._gate is None:
            self._gate = Gate(Policy.from_config(self.settings.raw.get("authz")))
        return GuardedTx(tx, self._gate.authorizer(tx, self.identity, self.settings.group))

    @contextmanager
    def _tx(self) -> Iterator[ApiTx]:
        """A write transaction whose every operation is authorised for :attr:`identity`.

        Raises:
            CatalogError: the catalogue is not initialised or its schema is old.
            ConfigError: the ``[authz]`` policy in the configuration is invalid.
        """
        with self.catalog.transaction() as tx:
            yield self._guard(tx)

    @contextmanager
    def _reader(self) -> Iterator[ApiTx]:
        """A read-only transaction whose every operation is authorised.

        Raises:
            CatalogError: the catalogue is not initialised or its schema is old.
            ConfigError: the ``[authz]`` policy in the configuration is invalid.
        """
        with self.catalog.reader() as tx:
            yield self._guard(tx)

    # ------------------------------------------------------------------ set-up
    def init(self) -> InitResult:
        """Create the configuration file and the catalogue, or upgrade the catalogue.

        Idempotent: an existing configuration is left alone and an up-to-date
        catalogue is unchanged.

        Raises:
            CatalogError: the catalogue cannot be created or upgraded.
            StorageError: the configuration file cannot be written.
        """
        from dfc.api._results import InitResult  # result types load on first use

        path = self.settings.config_file
        created = False
        if not path.exists():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(_CONFIG_TEMPLATE, encoding="utf-8")
            except OSError as exc:
                raise StorageError(f"cannot write {path}: {exc.strerror}") from None
            created = True
        if self.settings.catalog_url.startswith("https://"):
            remote = _open_catalog(self.settings.catalog_url)
            try:
                remote.check_schema()
                return InitResult(path, created, remote.url)
            finally:
                remote.close()
        if self.settings.catalog_url.startswith("sqlite:///"):
            db = Path(self.settings.catalog_url.removeprefix("sqlite:///"))
            try:
                db.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create {db.parent}: {exc.strerror}") from None
        catalog = Catalog(self.settings.catalog_url)
        try:
            catalog.upgrade()
            url = catalog.url
        finally:
            catalog.close()
        return InitResult(path, created, url)

    # ------------------------------------------------------------------ namespace
    def mkdir(self, paths: Sequence[str], *, parents: bool = False) -> BulkResult[None]:
        """Create directories; an existing directory is a success.

        Invalid LFNs and other per-path problems are reported in ``failed``.
        """
        result: BulkResult[None] = BulkResult()
        valid = validate_all(paths, result)
        owner, group = self._owner()
        with self._tx() as tx:
            result.merge(tx.mkdir(valid, parents=parents, owner=owner, group=group))
        return result

    def stat(self, lfns: Sequence[str]) -> BulkResult[Entry]:
        """Return the entries (files with their replicas) of ``lfns``."""
        result: BulkResult[Entry] = BulkResult()
        valid = validate_all(lfns, result)
        with self._reader() as tx:
            result.merge(tx.stat(valid))
        reorder(result, lfns)
        return result

    def ls(self, path: str, *, with_replicas: bool = False) -> Iterator[Entry]:
        """Yield the entries of directory ``path`` sorted by name (a file yields itself).

        Raises:
            InvalidLFN: ``path`` is not a valid LFN.
            LFNNotFound: nothing is registered at ``path``.
        """
        path = lfnmod.validate(path)
        with self._reader() as tx:
            entry = tx.lookup(path)
            if entry.is_dir:
                yield from tx.list_dir(path, with_replicas=with_replicas)
            else:
                yield entry

    def walk(self, path: str, *, files_only: bool = False) -> Iterator[Entry]:
        """Yield everything below directory ``path``, sorted by LFN.

        Raises:
            InvalidLFN: ``path`` is not a valid LFN.
            LFNNotFound: no such directory.
            NotADirectory: ``path`` is a file.
        """
        path = lfnmod.validate(path)
        with self._reader() as tx:
            yield from tx.walk(path, files_only=files_only)

    def replicas(self, lfns: Sequence[str]) -> BulkResult[list[Replica]]:
        """Return the replicas of each of ``lfns``."""
        result: BulkResult[list[Replica]] = BulkResult()
        valid = validate_all(lfns, result)
        with self._reader() as tx:
            result.merge(tx.replicas(valid))
        reorder(result, lfns)
        return result

    def mv(self, src: str, dst: str) -> None:
        """Rename a file or directory; replicas stay where they are on storage.

        If ``dst`` is an existing directory, ``src`` moves into it.

        Raises:
            InvalidLFN: a name is not a valid LFN.
            LFNNotFound: ``src`` does not exist, or ``dst``'s parent does not.
            AlreadyExists: ``dst`` exists.
            InvalidArgument: moving a directory into itself.
        """
        src = lfnmod.validate(src)
        dst = lfnmod.validate(dst.rstrip("/") or "/")
        with self._tx() as tx:
            target = tx.stat([dst]).succeeded.get(dst)
            if target is not None and target.is_dir:
                dst = lfnmod.join(dst, lfnmod.basename(src))
            tx.move(src, dst)

    # ------------------------------------------------------------------ data
    def put(
        self,
        sources: Sequence[str | Path],
        dest: str,
        *,
        se: str | None = None,
        recursive: bool = False,
        overwrite: bool = False,
        callback: Callback | None = None,
    ) -> BulkResult[Entry]:
        """Upload local files and register them, each atomically.

        ``dest`` follows ``cp`` rules: an existing directory (or a name ending
        in ``/``) receives the files under their own names; with one source it
        may name the new file. ``recursive`` copies directory trees (``cp -r``).
        Each file is read once, computing adler32 and xxh3 while uploading; it
        is registered only once its replica is verified, and removed from the SE
        again if registration fails.

        Results are keyed by LFN (by local path for sources that never got one).

        Raises:
            InvalidLFN: ``dest`` is not a valid LFN.
            NotADirectory: several sources and ``dest`` is not a directory.
            SENotFound, SEBanned, InvalidArgument: no usable target SE.
        """
        # Storage I/O modules load only for data commands (CLI start-up).
        from dfc.api._batch import Batcher
        from dfc.api._put import plan_put, put_one
        from dfc.api._slots import CopySlots

        paths = [Path(s) for s in sources]
        with self._reader() as tx:
            plan = plan_put(tx, paths, dest, recursive=recursive, overwrite=overwrite)
            storage_infos = {s.name: s for s in tx.list_ses()}
            old = tx.stat([i.lfn for i in plan.items]).succeeded if overwrite else {}
            # Ask before moving bytes: a refused file never reaches storage.
            refused = tx.access([i.lfn for i in plan.items], "create").failed
        target = (
            Storage(self.settings, storage_infos).writable(self._choose_se(se, storage_infos)).name
        )
        result = plan.failed
        result.failed.update(refused)
        plan.items[:] = [i for i in plan.items if i.lfn not in refused]
        if not plan.items and not plan.directories:
            return result
        if plan.directories:
            result.failed.update(self.mkdir(plan.directories, parents=True).failed)
        if callback is not None:
            callback.set_size(sum(i.size for i in plan.items))

        async def run() -> None:
            storage = Storage(self.settings, storage_infos)
            executor = _sync.CatalogExecutor()
            slots = CopySlots.from_settings(self.settings)
            workers = _sync.BatchedWorkers()  # threads start with the first remote small file
            owner, group = self._owner()

            def register_batch(records: list[FileRecord]) -> list[Entry | Exception]:
                with self._tx() as tx:
                    added = tx.add_files(records, owner=owner, group=group, overwrite=overwrite)
                    # Their entries, or no registration at all (the copies get removed).
                    found = tx.stat([r.lfn for r in records if r.lfn in added.succeeded])
                    found.raise_first()
                return [added.failed.get(r.lfn) or found.succeeded[r.lfn] for r in records]

            registrar = Batcher(executor, register_batch)

            async def one(item_index: int) -> None:
                item = plan.items[item_index]
                async with slots.hold(item.size):
                    try:
                        entry = await put_one(
                            item,
                            storage,
                            target,
                            registrar.submit,
                            old.get(item.lfn),
                            callback,
                            workers,
                        )
                    except DFCError as exc:
                        result.failed[item.lfn] = exc
                        return
                    result.succeeded[item.lfn] = entry
                    previous = old.get(item.lfn)
                    if previous is not None:
                        await _drop_stale(storage, previous, entry)

            try:
                await asyncio.gather(*(one(i) for i in range(len(plan.items))))
            finally:
                await storage.aclose()
                workers.shutdown()
                executor.shutdown()

        _sync.run(run())
        return result

    def get(
        self,
        lfns: Sequence[str],
        dest: str | Path | None = None,
        *,
        se: str | None = None,
        recursive: bool = False,
        callback: Callback | None = None,
    ) -> BulkResult[GetResult]:
        """Download files, each from its best replica, verified.

        Replicas at the user's site are tried first, then the others; a replica
        that fails or does not match the catalogue's size and checksums is
        reported in :attr:`GetResult.bad_replicas` and the next one is tried.
        ``dest`` follows ``cp`` rules (default: the current directory).

        Raises:
            NotADirectory: several files and ``dest`` is not a directory.
        """
        from dfc.api._get import get_one
        from dfc.api._slots import CopySlots

        result: BulkResult[GetResult] = BulkResult()
        valid = validate_all(lfns, result)
        dest_path = Path(dest) if dest is not None else Path.cwd()
        dest_is_dir = dest_path.is_dir()
        if len(valid) > 1 and not dest_is_dir:
            raise NotADirectory(f"local target {str(dest_path)!r} is not a directory")
        jobs: list[tuple[Entry, Path]] = []
        with self._reader() as tx:
            infos = {s.name: s for s in tx.list_ses()}
            found = tx.stat(valid)
            result.failed.update(found.failed)
            for lfn in valid:
                entry = found.succeeded.get(lfn)
                if entry is None:
                    continue
                base = dest_path / lfnmod.basename(lfn) if dest_is_dir else dest_path
                if not entry.is_dir:
                    jobs.append((entry, base))
                elif not recursive:
                    result.failed[lfn] = IsADirectory(f"{lfn} is a directory (use -r)")
                else:
                    try:
                        jobs.extend(self._plan_tree_get(tx, lfn, base))
                    except DFCError as exc:
                        result.failed[lfn] = exc
        if se is not None and se not in infos:
            Storage(self.settings, infos).info(se)
        if callback is not None:
            callback.set_size(sum(e.size for e, _ in jobs))

        async def run() -> None:
            storage = Storage(self.settings, infos)
            slots = CopySlots.from_settings(self.settings)
            workers = _sync.BatchedWorkers()

            async def one(entry: Entry, target: Path) -> None:
                async with slots.hold(entry.size):
                    try:
                        got = await get_one(
                            entry,
                            target,
                            storage,
                            site=self.settings.site,
                            only_se=se,
                            callback=callback,
                            workers=workers,
                        )
                    except DFCError as exc:
                        result.failed[entry.lfn] = exc
                    else:
                        result.succeeded[entry.lfn] = got

            try:
                await asyncio.gather(*(one(e, t) for e, t in jobs))
            finally:
                await storage.aclose()
                workers.shutdown()

        if jobs:
            _sync.run(run())
        return result

    def _plan_tree_get(self, tx: CatalogTx, root: str, base: Path) -> list[tuple[Entry, Path]]:
        jobs: list[tuple[Entry, Path]] = []
        try:
            base.mkdir(exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {str(base)!r}: {exc.strerror}") from None
        prefix = len(root) + 1 if root != "/" else 1
        files: list[Entry] = []
        for entry in tx.walk(root):
            local = base.joinpath(*entry.lfn[prefix:].split("/"))
            if entry.is_dir:
                try:
                    local.mkdir(exist_ok=True)
                except OSError as exc:
                    raise StorageError(f"cannot create {str(local)!r}: {exc.strerror}") from None
            else:
                files.append(entry)
                jobs.append((entry, local))
        # walk() lists files without replicas: fetch them in bulk.
        full: dict[str, Entry] = {}
        for start in range(0, len(files), _BATCH):
            full.update(tx.stat([f.lfn for f in files[start : start + _BATCH]]).succeeded)
        return [(full.get(e.lfn, e), p) for e, p in jobs]

    # ------------------------------------------------------------------ helpers
    def _choose_se(self, se: str | None, infos: dict[str, SEInfo]) -> str:
        """Pick the SE to write to: the one asked for, the configured default, or a local one.

        Raises:
            SENotFound: the named SE is unknown.
            InvalidArgument: no SE was named and none can be chosen.
        """
        name = se or self.settings.raw.get("default_se")
        if isinstance(name, str) and name:
            return Storage(self.settings, infos).info(name).name
        writable = [s for s in infos.values() if s.write]
        local = [s for s in writable if self.settings.site and s.site == self.settings.site]
        if len(local) == 1:
            return local[0].name
        if len(writable) == 1:
            return writable[0].name
        known = ", ".join(sorted(infos)) or "none registered; use `dfc se add`"
        raise InvalidArgument(f"no storage element given: use --se NAME (known: {known})")


def _open_catalog(url: str) -> Catalog:
    """The catalogue at ``url``: a catalogue server for ``https://``, else a database."""
    if url.startswith("https://"):
        from dfc.api._remote import RemoteCatalog

        return RemoteCatalog(url)
    return Catalog(url)


async def _drop_stale(storage: Storage, old: Entry, new: Entry) -> None:
    """After an overwrite, remove the old bytes no replica points at any more."""
    keep = {(r.se, r.path) for r in new.replicas}
    for rep in old.replicas:
        if (rep.se, rep.path) in keep:
            continue
        try:
            await storage.get(rep.se).rm(rep.path)
        except NotFound:
            pass
        except DFCError:
            # The old copy stays as dark data; `dfc check` reports it.
            continue
