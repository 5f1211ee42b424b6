"""``dfc check``: compare the catalogue with what storage elements really hold.

Two passes per SE, both streamed in bounded memory:

1. catalogue -> SE: every replica registered at the SE below PATH is looked up
   on the SE (and with ``checksum`` read back and checksummed): *lost* replicas
   (missing), *size* and *checksum* mismatches;
2. SE -> catalogue: the SE's files below PATH are listed in batches and looked
   up in the catalogue: files that no replica points to are *dark* data.

Nothing changes unless asked: ``mark_bad`` sets the status of bad replicas
(so get and replication avoid them); ``register_dark`` / ``remove_dark`` act on
dark data.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

from dfc import _sync
from dfc import lfn as lfnmod
from dfc.api._storage import Storage
from dfc.checksum import Hasher, adler32_equal
from dfc.errors import DFCError, InvalidArgument, InvalidLFN, NotFound
from dfc.models import FileRecord, Replica

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from contextlib import AbstractContextManager

    from dfc.api._guarded import ApiTx
    from dfc.catalog import Catalog
    from dfc.catalog._consistency import ReplicaRecord
    from dfc.config import Settings
    from dfc.models import FileInfo, SEInfo
    from dfc.se import StorageElement

__all__ = ["CheckIssue", "CheckMixin"]

IssueKind = Literal["lost", "size", "checksum", "dark"]
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class CheckIssue:
    """One inconsistency between the catalogue and a storage element.

    Attributes:
        kind: ``lost`` (registered, missing on the SE), ``size`` or ``checksum``
            (the SE's copy differs from the catalogue), ``dark`` (on the SE, not
            registered).
        se: the storage element.
        path: the physical path on the SE.
        lfn: the LFN the replica belongs to (``None`` for dark data).
        detail: what was found.
        action: what was done about it (``None`` when nothing was asked).
    """

    kind: IssueKind
    se: str
    path: str
    lfn: str | None
    detail: str
    action: str | None = None


class CheckMixin:
    """The ``check`` operation of :class:`dfc.DFC`."""

    settings: Settings

    @property
    def catalog(self) -> Catalog:  # provided by DFC
        raise NotImplementedError

    def _owner(self) -> tuple[str, str]:  # provided by DFC
        raise NotImplementedError

    if TYPE_CHECKING:
        # Authorised transactions (dfc.api._authz), provided by DFC.
        def _tx(self) -> AbstractContextManager[ApiTx]: ...

        def _reader(self) -> AbstractContextManager[ApiTx]: ...

    def check(
        self,
        path: str = "/",
        *,
        se: str | None = None,
        checksum: bool = False,
        mark_bad: bool = False,
        register_dark: bool = False,
        remove_dark: bool = False,
    ) -> Iterator[CheckIssue]:
        """Yield every inconsistency below LFN ``path`` (on SE ``se``, or on every SE).

        Results stream as they are found; memory stays bounded for millions
        of files.

        Raises:
            InvalidLFN: ``path`` is not a valid LFN.
            InvalidArgument: both ``register_dark`` and ``remove_dark``.
            SENotFound: ``se`` is unknown.
            SETransient: an SE stopped answering (the check stops there).
        """
        path = lfnmod.validate(path)
        if register_dark and remove_dark:
            raise InvalidArgument("--register-dark and --remove-dark exclude each other")
        with self._reader() as tx:
            infos = {s.name: s for s in tx.list_ses()}
            names = [tx.get_se(se).name] if se is not None else sorted(infos)
        options = _Options(checksum, mark_bad, register_dark, remove_dark)
        return _sync.iterate(lambda: self._acheck(path, infos, names, options))

    async def _acheck(
        self, path: str, infos: dict[str, SEInfo], names: list[str], opts: _Options
    ) -> AsyncIterator[CheckIssue]:
        storage = Storage(self.settings, infos)
        db = _sync.CatalogExecutor()
        try:
            for name in names:
                async for issue in self._check_registered(storage, db, name, path, opts):
                    yield issue
                async for issue in self._check_dark(storage, db, name, path, opts):
                    yield issue
        finally:
            await storage.aclose()
            db.shutdown()

    # ------------------------------------------------------------ catalogue -> SE
    async def _check_registered(
        self, storage: Storage, db: _sync.CatalogExecutor, name: str, path: str, opts: _Options
    ) -> AsyncIterator[CheckIssue]:
        se = storage.get(name)
        limit = asyncio.Semaphore(self.settings.transfer_concurrency)

        def batch(after: int) -> list[ReplicaRecord]:
            with self._reader() as tx:
                return tx.replicas_at(name, path, after=after, limit=_BATCH)

        async def inspect(rec: ReplicaRecord) -> CheckIssue | None:
            async with limit:
                return await _inspect(se, name, rec, opts.checksum)

        after = 0
        while records := await db(batch, after):
            after = records[-1].file_id
            found = [i for i in await asyncio.gather(*map(inspect, records)) if i is not None]
            if opts.mark_bad and found:
                await db(self._mark_bad, name, found)
                found = [_with(i, "marked bad") for i in found]
            for issue in found:
                yield issue

    def _mark_bad(self, se: str, issues: list[CheckIssue]) -> None:
        with self._tx() as tx:
            tx.set_replica_status([(i.lfn or "", se, "bad") for i in issues]).raise_first()

    # ------------------------------------------------------------ SE -> catalogue
    async def _check_dark(
        self, storage: Storage, db: _sync.CatalogExecutor, name: str, path: str, opts: _Options
    ) -> AsyncIterator[CheckIssue]:
        se = storage.get(name)

        def known(paths: list[str]) -> set[str]:
            with self._reader() as tx:
                return tx.paths_in_use(name, paths)

        pending: list[FileInfo] = []

        async def flush() -> AsyncIterator[CheckIssue]:
            in_use = await db(known, [f.path for f in pending])
            for info in pending:
                if info.path in in_use:
                    continue
                issue = CheckIssue(
                    "dark", name, info.path, None, f"{info.size} bytes, unregistered"
                )
                if opts.remove_dark:
                    issue = _with(issue, await _remove(storage, name, info.path))
                elif opts.register_dark:
                    issue = _with(issue, await self._register_dark(se, db, name, info))
                yield issue
            pending.clear()

        async for info in _walk_sorted(se, path):
            pending.append(info)
            if len(pending) >= _BATCH:
                async for issue in flush():
                    yield issue
        if pending:
            async for issue in flush():
                yield issue

    async def _register_dark(
        self, se: StorageElement, db: _sync.CatalogExecutor, name: str, info: FileInfo
    ) -> str:
        if ".dfc-part-" in info.path:
            return "not registered: an unfinished upload"
        try:
            lfn = lfnmod.validate(info.path)
        except InvalidLFN as exc:
            return f"not registered: {exc}"
        hasher = Hasher()
        try:
            async for chunk in se.open_read(info.path):
                hasher.update(chunk)
        except DFCError as exc:
            return f"not registered: {exc}"
        owner, group = self._owner()

        def register() -> str:
            with self._tx() as tx:
                entry = tx.stat([lfn]).succeeded.get(lfn)
                replica = Replica(se=name, path=info.path)
                if entry is None:
                    record = FileRecord(
                        lfn,
                        hasher.size,
                        hasher.adler32,
                        hasher.xxh3,
                        str(uuid.uuid4()).upper(),
                        (replica,),
                    )
                    tx.add_files([record], owner=owner, group=group).raise_first()
                    return f"registered as {lfn}"
                if entry.is_dir:
                    return f"not registered: {lfn} is a directory"
                same = entry.size == hasher.size and adler32_equal(
                    entry.adler32 or 0, hasher.adler32
                )
                if not same:
                    return f"not registered: {lfn} exists with other content"
                tx.add_replicas([(lfn, replica)]).raise_first()
                return f"registered as a replica of {lfn}"

        try:
            return await db(register)
        except DFCError as exc:
            return f"not registered: {exc}"


class _Options(NamedTuple):  # a named tuple: its class is made faster than a dataclass's
    checksum: bool
    mark_bad: bool
    register_dark: bool
    remove_dark: bool


def _with(issue: CheckIssue, action: str) -> CheckIssue:
    return CheckIssue(issue.kind, issue.se, issue.path, issue.lfn, issue.detail, action)


async def _inspect(
    se: StorageElement, name: str, rec: ReplicaRecord, checksum: bool
) -> CheckIssue | None:
    try:
        info = await se.stat(rec.path)
    except NotFound:
        return CheckIssue("lost", name, rec.path, rec.lfn, "registered but missing on the SE")
    if info.size != rec.size:
        return CheckIssue(
            "size",
            name,
            rec.path,
            rec.lfn,
            f"{info.size} bytes on the SE, catalogue says {rec.size}",
        )
    if checksum and rec.adler32:
        actual = await _adler32(se, rec.path)
        if not adler32_equal(actual, rec.adler32):
            return CheckIssue(
                "checksum",
                name,
                rec.path,
                rec.lfn,
                f"adler32 {actual} on the SE, catalogue says {rec.adler32}",
            )
    return None


async def _adler32(se: StorageElement, path: str) -> str:
    from dfc.se import SupportsChecksum

    if isinstance(se, SupportsChecksum):
        value = await se.checksum(path, "adler32")
        if value is not None:
            return value
    hasher = Hasher()
    async for chunk in se.open_read(path):
        hasher.update(chunk)
    return hasher.adler32


async def _remove(storage: Storage, name: str, path: str) -> str:
    try:
        await storage.remove_quietly(name, path)
    except DFCError as exc:
        return f"not removed: {exc}"
    return "removed"


async def _walk_sorted(se: StorageElement, top: str) -> AsyncIterator[FileInfo]:
    """Yield the files below ``top`` in tree order, one directory listing at a time."""
    try:
        info = await se.stat(top)
    except NotFound:
        return
    if info.type != "directory":
        yield info
        return
    try:
        entries = await se.ls(top)
    except NotFound:
        return
    for entry in sorted(entries, key=lambda e: e.path):
        if entry.type == "directory":
            async for sub in _walk_sorted(se, entry.path):
                yield sub
        else:
            yield entry
