"""One verified copy of a file from its best replica to another storage element.

Used by :meth:`dfc.DFC.replicate` when it copies directly (remote catalogues);
loaded on first use, so that namespace commands never import the storage layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfc.api._choose import order_replicas
from dfc.api._results import ReplicateResult
from dfc.api._stream import SourceStream
from dfc.checksum import Hasher, adler32_equal, verify
from dfc.errors import (
    AlreadyExists,
    ChecksumMismatch,
    DFCError,
    NoReplicaAvailable,
    ReplicaNotFound,
    SizeMismatch,
)
from dfc.models import Replica
from dfc.se import SupportsChecksum

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from dfc.api._storage import Storage
    from dfc.callbacks import Callback
    from dfc.models import Entry

__all__ = ["replicate_one"]


async def replicate_one(
    entry: Entry,
    dest: str,
    storage: Storage,
    register: Callable[[str, Replica], Awaitable[None]],
    *,
    source: str | None = None,
    callback: Callback | None = None,
) -> ReplicateResult:
    """Stream ``entry`` from its best source replica to SE ``dest`` and register it.

    Sources at the destination's site are tried first. The copy is verified
    against the catalogue's size and checksums (and the destination's own
    checksum when it offers one); a bad copy is deleted and the next source
    tried. A replica already at ``dest`` makes this a no-op.

    Raises:
        ReplicaNotFound: ``source`` holds no replica of the file.
        NoReplicaAvailable: no source replica could be copied.
        DFCError: the destination failed, or the registration failed (the copy
            is removed again).
    """
    if any(r.se == dest for r in entry.replicas):
        return ReplicateResult(entry.lfn, dest, None, 0, skipped=True)
    if source is not None and all(r.se != source for r in entry.replicas):
        raise ReplicaNotFound(f"{entry.lfn} has no replica at {source}")
    dst = storage.get(dest)
    ordered, bad = order_replicas(
        entry.replicas, storage.infos, storage.info(dest).site or None, only=source
    )
    path = entry.lfn
    for rep in ordered:
        hasher = Hasher()
        stream = SourceStream(storage.get(rep.se), rep.path, hasher, callback)
        try:
            try:
                info = await dst.put(stream, path, size=entry.size)
            except AlreadyExists:
                # Bytes the catalogue does not know sit there: keep them.
                path = f"{entry.lfn}~{entry.guid[:8].lower() if entry.guid else 'dfc'}"
                stream.rewind_progress()
                hasher = Hasher()
                stream = SourceStream(storage.get(rep.se), rep.path, hasher, callback)
                info = await dst.put(stream, path, size=entry.size)
        except DFCError as exc:
            stream.rewind_progress()
            if stream.source_error is None and not isinstance(exc, SizeMismatch):
                raise
            bad[rep.se] = str(exc)
            continue
        try:
            verify(entry, hasher, f"{entry.lfn} from {rep.se}")
            if info.size != entry.size:
                raise SizeMismatch(f"{entry.lfn}: {dest} stored {info.size} of {entry.size} bytes")
            await _server_checksum(dst, path, entry, dest)
        except (ChecksumMismatch, SizeMismatch) as exc:
            await storage.remove_quietly(dest, path)
            stream.rewind_progress()
            bad[rep.se] = str(exc)
            continue
        except BaseException:
            await storage.remove_quietly(dest, path)
            raise
        await storage.register_or_remove(
            dest, path, register(entry.lfn, Replica(se=dest, path=path))
        )
        return ReplicateResult(entry.lfn, dest, rep.se, entry.size, bad_replicas=bad)
    reasons = "; ".join(f"{se}: {why}" for se, why in bad.items()) or "it has no replicas"
    raise NoReplicaAvailable(f"{entry.lfn}: no source replica could be copied ({reasons})")


async def _server_checksum(dst: object, path: str, entry: Entry, dest: str) -> None:
    if isinstance(dst, SupportsChecksum) and dst.remote_checksum and entry.adler32:
        remote = await dst.checksum(path, "adler32")
        if remote is not None and not adler32_equal(remote, entry.adler32):
            raise ChecksumMismatch(
                f"{entry.lfn}: {dest} reports adler32 {remote}, catalogue says {entry.adler32}"
            )
