"""Upload local files to a storage element and register them, atomically per file."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from dfc import lfn as lfnmod
from dfc.api._local import local_error, read_local
from dfc.checksum import Hasher, adler32_equal
from dfc.errors import (
    AlreadyExists,
    ChecksumMismatch,
    DFCError,
    InvalidArgument,
    IsADirectory,
    LFNExists,
    NotADirectory,
    NotFound,
    SizeMismatch,
)
from dfc.models import BulkResult, Entry, FileRecord, Replica
from dfc.se import SupportsChecksum

if TYPE_CHECKING:
    import io
    from collections.abc import Awaitable, Callable, Sequence

    from dfc._sync import BatchedWorkers
    from dfc.api._storage import Storage
    from dfc.callbacks import Callback
    from dfc.catalog import CatalogTx
    from dfc.models import FileInfo
    from dfc.se import StorageElement

__all__ = ["PutItem", "plan_put", "put_one"]


# Named tuples rather than dataclasses: their classes are made several times faster,
# which every `dfc put` pays.
class PutItem(NamedTuple):
    """One local file and the LFN it becomes."""

    local: Path
    lfn: str
    size: int
    mode: int


class PutPlan(NamedTuple):
    """What a put will do: files to upload, empty directories to create, failures."""

    items: list[PutItem]
    directories: list[str]
    failed: BulkResult[Entry]


def _split_dest(dest: str) -> tuple[str, bool]:
    """Return the destination LFN and whether the user marked it a directory."""
    hint = dest.endswith("/") and dest != "/"
    return lfnmod.validate(dest.rstrip("/") or "/"), hint


def plan_put(
    tx: CatalogTx, sources: Sequence[Path], dest: str, *, recursive: bool, overwrite: bool
) -> PutPlan:
    """Map local ``sources`` to LFNs under ``dest`` with ``cp``/``cp -r`` semantics.

    Raises:
        InvalidLFN: ``dest`` is not a valid LFN.
        NotADirectory: several sources and ``dest`` is not a directory.
    """
    dest_lfn, hint = _split_dest(dest)
    found = tx.stat([dest_lfn]).succeeded.get(dest_lfn)
    dest_is_dir = found is not None and found.is_dir
    if found is not None and not dest_is_dir and (hint or len(sources) > 1):
        raise NotADirectory(f"{dest_lfn} is a file, not a directory")
    if found is None and len(sources) > 1 and not hint:
        raise NotADirectory(f"target {dest_lfn} is not a directory (create it or end it with '/')")
    into_dir = dest_is_dir or hint or len(sources) > 1
    plan = PutPlan([], [], BulkResult())
    for src in sources:
        key = str(src)
        try:
            st = src.stat()
        except OSError:
            plan.failed.failed[key] = NotFound(f"local file {key!r}: no such file or directory")
            continue
        name = src.resolve().name
        try:
            if src.is_dir():
                if not recursive:
                    raise IsADirectory(f"local path {key!r} is a directory (use -r)")
                root = lfnmod.join(dest_lfn, name) if dest_is_dir else dest_lfn
                _plan_tree(src, lfnmod.validate(root), plan)
            else:
                target = lfnmod.join(dest_lfn, name) if into_dir else dest_lfn
                plan.items.append(
                    PutItem(src, lfnmod.validate(target), st.st_size, st.st_mode & 0o777)
                )
        except DFCError as exc:
            plan.failed.failed[key] = exc
    _check_targets(tx, plan, overwrite=overwrite)
    return plan


def _plan_tree(src: Path, root: str, plan: PutPlan) -> None:
    plan.directories.append(root)
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        rel = Path(dirpath).relative_to(src)
        base = root
        for part in rel.parts:
            base = lfnmod.join(base, part)
        for d in dirnames:
            try:
                plan.directories.append(lfnmod.validate(lfnmod.join(base, d)))
            except DFCError as exc:
                plan.failed.failed[os.path.join(dirpath, d)] = exc
        for f in sorted(filenames):
            local = Path(dirpath, f)
            try:
                st = local.stat()
                plan.items.append(
                    PutItem(local, lfnmod.validate(lfnmod.join(base, f)), st.st_size, 0o644)
                )
            except OSError as exc:
                plan.failed.failed[str(local)] = NotFound(f"local file {str(local)!r}: {exc}")
            except DFCError as exc:
                plan.failed.failed[str(local)] = exc


def _check_targets(tx: CatalogTx, plan: PutPlan, *, overwrite: bool) -> None:
    """Drop (as failed) the items that cannot be registered, before any byte is sent.

    An item fails if two sources map to its LFN, if the LFN is a directory, if
    it exists (without ``overwrite``), or if one of its ancestors is a file.
    """
    ancestors: set[str] = set()
    for parent in {lfnmod.dirname(item.lfn) for item in plan.items}:
        if parent not in ancestors:
            ancestors.add(parent)
            ancestors.update(lfnmod.parents(parent))
    wanted = [item.lfn for item in plan.items]
    existing = tx.stat([*wanted, *ancestors.difference(wanted)], with_replicas=False).succeeded
    in_the_way = {lfn for lfn in ancestors if lfn in existing and not existing[lfn].is_dir}
    keep: list[PutItem] = []
    seen: set[str] = set()
    for item in plan.items:
        entry = existing.get(item.lfn)
        blocking = (
            next((d for d in lfnmod.parents(item.lfn) if d in in_the_way), None)
            if in_the_way
            else None
        )
        if blocking is not None:
            plan.failed.failed[item.lfn] = NotADirectory(f"{item.lfn}: {blocking}: not a directory")
        elif item.lfn in seen:
            plan.failed.failed[str(item.local)] = InvalidArgument(
                f"two sources map to the same LFN {item.lfn}"
            )
        elif entry is not None and entry.is_dir:
            plan.failed.failed[item.lfn] = IsADirectory(f"{item.lfn} is a directory")
        elif entry is not None and not overwrite:
            plan.failed.failed[item.lfn] = LFNExists(
                f"{item.lfn} already exists (use --overwrite to replace it)"
            )
        else:
            keep.append(item)
        seen.add(item.lfn)
    plan.items[:] = keep


class _LocalSource:
    """A local file read by a local SE's worker thread: opened there, closed at its end.

    The copy of a file to a local SE is then one job of the SE's worker: the
    event loop makes no system call of its own for it.
    """

    __slots__ = ("_fh", "_path", "_size")

    def __init__(self, path: Path, size: int) -> None:
        self._path = path
        self._size = size
        self._fh: io.FileIO | None = None

    def readinto(self, view: memoryview) -> int:
        """Fill ``view``; 0 at the end (the file is closed then).

        Raises:
            DFCError: the file cannot be opened or read.
        """
        try:
            fh = self._fh
            if fh is None:
                fh = self._fh = open(self._path, "rb", buffering=0)  # noqa: SIM115 - closed at the end
                if self._size > len(view):
                    with contextlib.suppress(OSError, AttributeError):
                        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            n = fh.readinto(view) or 0
            if not n:
                self.close()
            return n
        except OSError as exc:
            raise local_error(self._path, exc) from None

    def close(self) -> None:
        """Close the file if it is open (idempotent)."""
        fh, self._fh = self._fh, None
        if fh is not None:
            fh.close()


async def _upload(
    se: StorageElement,
    item: PutItem,
    path: str,
    hasher: Hasher,
    callback: Callback | None,
    workers: BatchedWorkers | None,
) -> FileInfo:
    """Write the local file to ``path`` on ``se``, hashing the bytes sent.

    A local SE copies in its worker threads (:meth:`LocalSE.put_from`), which
    also open and close the local file; any other SE gets the file as a stream
    of chunks (a small file read in one call on ``workers``, if given).

    Raises:
        DFCError: the local file cannot be read, or the SE failed.
    """
    from dfc.se.local import LocalSE

    if not isinstance(se, LocalSE):
        stream = read_local(item.local, hasher, callback, workers=workers)
        return await se.put(stream, path, size=None)
    source = _LocalSource(item.local, item.size)
    try:
        progress = callback.relative_update if callback is not None else None
        return await se.put_from(source.readinto, path, hasher, progress=progress)
    finally:
        source.close()  # when the copy failed before the end (put_from's worker is over)


async def put_one(
    item: PutItem,
    storage: Storage,
    se_name: str,
    register: Callable[[FileRecord], Awaitable[Entry]],
    old: Entry | None,
    callback: Callback | None,
    workers: BatchedWorkers | None = None,
) -> Entry:
    """Upload one file, verify it on the SE and register it.

    ``register`` registers the record (on the catalogue thread) and raises on
    failure; the uploaded replica is then removed again, so the file
    is either registered with a verified replica or left nowhere. ``workers``
    read small local files for SEs other than local ones (many files at once).

    Raises:
        DFCError: the upload, the verification or the registration failed.
    """
    se = storage.get(se_name)
    guid = str(uuid.uuid4()).upper()
    path = item.lfn
    if old is not None and any(r.se == se_name and r.path == path for r in old.replicas):
        # Overwriting: keep the old bytes until the new ones are registered.
        path = f"{item.lfn}~{guid[:8].lower()}"
    hasher = Hasher()
    try:
        info = await _upload(se, item, path, hasher, callback, workers)
    except AlreadyExists:
        # Bytes at this path that the catalogue does not know (a renamed LFN's
        # replica, or dark data): never overwrite them.
        path = f"{item.lfn}~{guid[:8].lower()}"
        hasher = Hasher()
        info = await _upload(se, item, path, hasher, callback, workers)
    try:
        if hasher.size != item.size:
            raise SizeMismatch(
                f"local file {str(item.local)!r} changed while uploading "
                f"({item.size} bytes before, {hasher.size} read)"
            )
        if info.size != hasher.size:
            raise SizeMismatch(
                f"{se_name} stored {info.size} bytes of {item.lfn}, {hasher.size} were sent"
            )
        # The attribute first: a runtime protocol check costs ~10 us per file.
        if getattr(se, "remote_checksum", False) and isinstance(se, SupportsChecksum):
            remote = await se.checksum(path, "adler32")
            if remote is not None and not adler32_equal(remote, hasher.adler32):
                raise ChecksumMismatch(
                    f"{se_name} reports adler32 {remote} for {item.lfn}, {hasher.adler32} was sent"
                )
        record = FileRecord(
            lfn=item.lfn,
            size=hasher.size,
            adler32=hasher.adler32,
            xxh3=hasher.xxh3,
            guid=guid,
            replicas=(Replica(se=se_name, path=path),),
            mode=item.mode,
        )
    except BaseException:
        await storage.remove_quietly(se_name, path)
        raise
    return await storage.register_or_remove(se_name, path, register(record))
