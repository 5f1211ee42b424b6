"""Download files from their best replica, verified, never leaving a partial file."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from dfc.api._choose import order_replicas
from dfc.api._local import remove_quietly, temp_name, write_local
from dfc.api._results import GetResult
from dfc.api._stream import SourceStream
from dfc.checksum import Hasher, verify
from dfc.errors import (
    ChecksumMismatch,
    DFCError,
    NoReplicaAvailable,
    ReplicaNotFound,
    SizeMismatch,
)

if TYPE_CHECKING:
    from pathlib import Path

    from dfc.api._storage import Storage
    from dfc.callbacks import Callback
    from dfc.models import Entry

__all__ = ["get_one"]


async def get_one(
    entry: Entry,
    target: Path,
    storage: Storage,
    *,
    site: str | None,
    only_se: str | None = None,
    callback: Callback | None = None,
) -> GetResult:
    """Download ``entry`` to ``target`` from the first replica that verifies.

    Replicas at ``site`` are tried first. The bytes go to a temporary file next
    to ``target``, which is renamed into place only after size and checksums
    matched the catalogue.

    Raises:
        ReplicaNotFound: ``only_se`` holds no replica of the file.
        NoReplicaAvailable: every replica failed (the message lists why).
        DFCError: the local file cannot be written.
    """
    if only_se is not None and all(r.se != only_se for r in entry.replicas):
        raise ReplicaNotFound(f"{entry.lfn} has no replica at {only_se}")
    ordered, bad = order_replicas(entry.replicas, storage.infos, site, only=only_se)
    for rep in ordered:
        tmp = temp_name(target)
        hasher = Hasher()
        stream = SourceStream(storage.get(rep.se), rep.path, None, callback)
        try:
            await write_local(stream, tmp, hasher)
            verify(entry, hasher, f"{entry.lfn} at {rep.se}")
            os.replace(tmp, target)
        except DFCError as exc:
            remove_quietly(tmp)
            stream.rewind_progress()
            if stream.source_error is None and not _is_verification(exc):
                raise
            bad[rep.se] = str(exc)
            continue
        except BaseException:
            remove_quietly(tmp)
            raise
        return GetResult(entry.lfn, target, rep.se, hasher.size, bad)
    reasons = "; ".join(f"{se}: {why}" for se, why in bad.items()) or "it has no replicas"
    raise NoReplicaAvailable(f"{entry.lfn}: no replica could be read ({reasons})")


def _is_verification(exc: DFCError) -> bool:
    return isinstance(exc, (ChecksumMismatch, SizeMismatch))
