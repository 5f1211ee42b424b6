"""Download files from their best replica, verified, never leaving a partial file."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from dfc.api._choose import order_replicas
from dfc.api._local import local_error, open_local, remove_quietly, temp_name, write_local
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
    import io
    from pathlib import Path

    from dfc._sync import BatchedWorkers
    from dfc.api._storage import Storage
    from dfc.callbacks import Callback
    from dfc.models import Entry
    from dfc.se.local import LocalSE

__all__ = ["get_one"]


async def get_one(
    entry: Entry,
    target: Path,
    storage: Storage,
    *,
    site: str | None,
    only_se: str | None = None,
    callback: Callback | None = None,
    workers: BatchedWorkers | None = None,
) -> GetResult:
    """Download ``entry`` to ``target`` from the first replica that verifies.

    Replicas at ``site`` are tried first. The bytes go to a temporary file next
    to ``target``, which is renamed into place only after size and checksums
    matched the catalogue. ``workers`` write small files from remote SEs (many
    files at once), else the loop's default executor does.

    Raises:
        ReplicaNotFound: ``only_se`` holds no replica of the file.
        NoReplicaAvailable: every replica failed (the message lists why).
        DFCError: the local file cannot be written.
    """
    if only_se is not None and all(r.se != only_se for r in entry.replicas):
        raise ReplicaNotFound(f"{entry.lfn} has no replica at {only_se}")
    from dfc.se.local import LocalSE

    ordered, bad = order_replicas(entry.replicas, storage.infos, site, only=only_se)
    for rep in ordered:
        tmp = temp_name(target)
        hasher = Hasher()
        se = storage.get(rep.se)
        copy = _LocalCopy(se, rep.path, callback) if isinstance(se, LocalSE) else None
        stream = SourceStream(se, rep.path, None, callback)
        try:
            if copy is not None:
                await copy.run(tmp, hasher)
            else:
                await write_local(stream, tmp, hasher, workers=workers)
            verify(entry, hasher, f"{entry.lfn} at {rep.se}")
            os.replace(tmp, target)
        except DFCError as exc:
            remove_quietly(tmp)
            source_failed = copy.source_failed if copy is not None else stream.source_error
            if copy is not None:
                copy.rewind_progress()
            else:
                stream.rewind_progress()
            if not source_failed and not _is_verification(exc):
                raise
            bad[rep.se] = str(exc)
            continue
        except BaseException:
            remove_quietly(tmp)
            raise
        return GetResult(entry.lfn, target, rep.se, hasher.size, bad)
    reasons = "; ".join(f"{se}: {why}" for se, why in bad.items()) or "it has no replicas"
    raise NoReplicaAvailable(f"{entry.lfn}: no replica could be read ({reasons})")


class _LocalCopy:
    """One replica on a local SE copied to a local file by the SE's worker threads."""

    def __init__(self, se: LocalSE, path: str, callback: Callback | None) -> None:
        self._se = se
        self._path = path
        self._callback = callback
        self._sent = 0
        self.source_failed = False

    async def run(self, tmp: Path, hasher: Hasher) -> None:
        """Copy the replica to the new file ``tmp``, hashing the bytes written.

        Raises:
            DFCError: the replica cannot be read (:attr:`source_failed` is then
                true) or ``tmp`` cannot be written.
        """
        # The file is created by the SE's worker with the first bytes (no hand-over of its own).
        opened: list[io.FileIO] = []
        failed: list[DFCError] = []

        def create() -> io.FileIO:
            try:
                opened.append(open(tmp, "xb", buffering=0))  # noqa: SIM115 - closed below
            except OSError as exc:
                failed.append(local_error(tmp.parent, exc))
                raise failed[-1] from None
            return opened[0]

        def write(view: memoryview) -> None:
            fh = opened[0] if opened else create()
            try:
                while view:
                    view = view[fh.write(view) :]
            except OSError as exc:
                failed.append(local_error(tmp, exc))
                raise failed[-1] from None

        try:
            progress = self._progress if self._callback is not None else None
            await self._se.get_into(self._path, write, hasher, progress=progress)
            if not opened:  # an empty replica
                try:
                    (await open_local(tmp, "xb")).close()
                except OSError as exc:
                    failed.append(local_error(tmp.parent, exc))
                    raise failed[-1] from None
        except DFCError as exc:
            self.source_failed = exc not in failed
            raise
        finally:
            for fh in opened:
                fh.close()

    def _progress(self, inc: int) -> None:
        assert self._callback is not None
        self._sent += inc
        self._callback.relative_update(inc)

    def rewind_progress(self) -> None:
        """Take the bytes of a failed attempt back out of the progress bar."""
        if self._callback is not None and self._sent:
            self._callback.relative_update(-self._sent)
        self._sent = 0


def _is_verification(exc: DFCError) -> bool:
    return isinstance(exc, (ChecksumMismatch, SizeMismatch))
