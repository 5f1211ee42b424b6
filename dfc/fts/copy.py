"""One try of one file: copy from the best source to a temporary name, verify, rename.

Per source replica, in order:

1. stream the replica, computing adler32 and xxh3 in the same pass (large
   chunks hashed on a worker thread, so reading, hashing and writing overlap),
   into ``<dir>/.<name>.dfc-part-fts<file id>-<try>`` at the destination (the
   SE creates missing parents and writes atomically itself);
2. compare size and checksums with the catalogue, and with the destination's
   own checksum of the temporary file when the SE computes one server-side;
3. rename the temporary file into place (never over an existing file).

A checksum or size mismatch deletes the copy and re-reads the same source
(``checksum_rereads`` times), then moves on to the next source; a source that
fails otherwise is marked unhealthy and the next one is tried. A destination
failure ends the try. If the final name exists already, the existing file is
*adopted* when its size and checksum are the catalogue's (a copy renamed into
place by a try that died before it was registered), and refused otherwise. On
any failure the temporary file is removed.

Registration is not done here: the engine marks the file FINISHED and
registers the replica in one database transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import posixpath
from typing import TYPE_CHECKING

from dfc.checksum import Hasher, adler32_equal, verify
from dfc.errors import (
    AlreadyExists,
    ChecksumMismatch,
    DFCError,
    NoReplicaAvailable,
    NotFound,
    SETimeout,
    SizeMismatch,
)
from dfc.fts.job import FailedTry, FileState
from dfc.fts.localcopy import Control, LocalFault, copy_local, local_path
from dfc.fts.retry import is_corruption, is_retryable
from dfc.se import SupportsChecksum

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from concurrent.futures import Executor

    from dfc.fts.job import Task
    from dfc.models import Entry, Replica
    from dfc.se import StorageElement

__all__ = [
    "CopyDone",
    "CopyFailed",
    "HashingStream",
    "copy_task",
    "leftover_prefixes",
    "matches_entry",
    "temp_name",
    "timeout_for",
]

MiB = 1 << 20
# Below this size hashing on the event loop costs less than a thread hop.
_INLINE_HASH = 1 << 20


def temp_name(path: str, file_id: int, attempt: int) -> str:
    """The temporary name of try ``attempt`` of queue file ``file_id`` next to ``path``."""
    head, name = posixpath.split(path)
    return posixpath.join(head, f".{name}.dfc-part-fts{file_id}-{attempt}")


def leftover_prefixes(path: str, file_id: int) -> tuple[str, str]:
    """Name prefixes of every temporary file any try of ``file_id`` may have left.

    The engine's own temporary name, and the SE's temporary name for *it*
    (``.<temp name>.dfc-part-<hex>``) when a put was interrupted.
    """
    name = posixpath.basename(path)
    mine = f".{name}.dfc-part-fts{file_id}-"
    return mine, "." + mine


class HashingStream:
    """Streams a replica through a :class:`~dfc.checksum.Hasher`; remembers source faults.

    Args:
        se: the source SE.
        path: the replica's path on it.
        hasher: receives every chunk.
        progress: called with each chunk's length (byte counters, progress bars).
    """

    def __init__(
        self,
        se: StorageElement,
        path: str,
        hasher: Hasher,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self._se = se
        self._path = path
        self._hasher = hasher
        self._progress = progress
        self.source_error: DFCError | None = None
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        stream = self._se.open_read(self._path)
        try:
            while True:
                try:
                    data = await anext(stream)
                except StopAsyncIteration:
                    return
                except DFCError as exc:
                    self.source_error = exc
                    raise
                if len(data) < _INLINE_HASH:
                    self._hasher.update(data)
                else:
                    await asyncio.to_thread(self._hasher.update, data)
                self.sent += len(data)
                if self._progress is not None:
                    self._progress(len(data))
                yield data
        finally:
            # Close the SE's generator (its file or connection) now, not at GC.
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()


async def matches_entry(se: StorageElement, path: str, entry: Entry) -> bool:
    """True when ``path`` on ``se`` holds exactly the catalogue's ``entry``.

    Uses the SE's checksum when it has one, else reads the file through.

    Raises:
        DFCError: the SE failed (a missing file is simply not a match).
    """
    try:
        info = await se.stat(path)
        if info.size != entry.size:
            return False
        if isinstance(se, SupportsChecksum) and entry.adler32:
            value = await se.checksum(path, "adler32")
            if value is not None:
                return adler32_equal(value, entry.adler32)
        hasher = Hasher()
        async for _ in HashingStream(se, path, hasher):
            pass
    except NotFound:
        return False
    try:
        verify(entry, hasher, path)
    except (ChecksumMismatch, SizeMismatch):
        return False
    return True


class CopyDone:
    """A try that succeeded: the file is at ``path`` on the destination."""

    __slots__ = ("adopted", "path", "source", "tries")

    def __init__(
        self, source: str | None, path: str, tries: list[FailedTry], *, adopted: bool
    ) -> None:
        self.source = source
        self.path = path
        self.tries = tries
        self.adopted = adopted


class CopyFailed(Exception):
    """A try that failed: its error, the sources tried, and whether to try again later."""

    def __init__(
        self, error: DFCError, tries: list[FailedTry], source: str | None, *, retryable: bool
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.tries = tries
        self.source = source
        self.retryable = retryable


class _Copier:
    """The state of one try of one file (see :func:`copy_task`)."""

    def __init__(
        self,
        task: Task,
        dest: StorageElement,
        open_source: Callable[[str], StorageElement],
        *,
        rereads: int,
        timeout: float,
        progress: Callable[[str, int], None] | None,
        executor: Executor | None,
    ) -> None:
        assert task.entry is not None
        self.executor = executor
        self.task = task
        self.entry: Entry = task.entry
        self.dest = dest
        self.open_source = open_source
        self.rereads = rereads
        self.timeout = timeout
        self.progress = progress
        self.final = task.entry.lfn
        self.tmp = temp_name(self.final, task.id, task.attempt)
        self.tries: list[FailedTry] = []
        self.current: str | None = None

    async def run(self, on_source_fault: Callable[[str, DFCError], None]) -> CopyDone:
        if (self.task.recovered or self.task.attempt > 1) and await matches_entry(
            self.dest, self.final, self.entry
        ):
            return CopyDone(None, self.final, self.tries, adopted=True)
        retryable = False
        for rep in self.task.sources:
            self.current = rep.se
            for read in range(self.rereads + 1):
                try:
                    return await self._one(rep)
                except _SourceFault as fault:
                    self.tries.append(FailedTry(rep.se, FileState.NOT_USED, fault.error))
                    if is_corruption(fault.error) and read < self.rereads:
                        continue
                    if not is_corruption(fault.error):
                        on_source_fault(rep.se, fault.error)
                        retryable = retryable or is_retryable(fault.error)
                    break
        reasons = [f"{t.source}: {t.error}" for t in self.tries if t.source]
        reasons += [f"{se}: {why}" for se, why in self.task.unusable.items()]
        message = (
            f"{self.entry.lfn}: no source replica could be copied ("
            + ("; ".join(reasons) or "it has no replicas")
            + ")"
        )
        # One kind of failure everywhere (all sources missing, all refused...) is
        # reported as that kind; a mix, or bad bytes, as NoReplicaAvailable.
        kinds = {type(t.error) for t in self.tries}
        cls = next(iter(kinds)) if len(kinds) == 1 else NoReplicaAvailable
        if is_corruption(cls("")):
            cls = NoReplicaAvailable
        error = cls(message)
        # Worth another try later when some source failed in a transient way.
        raise CopyFailed(error, self.tries, self.current, retryable=retryable)

    async def _one(self, rep: Replica) -> CopyDone:
        source = self.open_source(rep.se)
        if self.executor is not None:
            src = local_path(source, rep.path)
            tmp = local_path(self.dest, self.tmp)
            final = local_path(self.dest, self.final)
            if src is not None and tmp is not None and final is not None:
                return await self._one_local(rep, src, tmp, final)
        hasher = Hasher()
        sent = 0

        def count(n: int) -> None:
            nonlocal sent
            sent += n
            if self.progress is not None:
                self.progress(rep.se, n)

        stream = HashingStream(source, rep.path, hasher, count)
        try:
            async with asyncio.timeout(self.timeout):
                info = await self.dest.put(stream, self.tmp, size=self.entry.size, overwrite=True)
                verify(self.entry, hasher, f"{self.entry.lfn} from {rep.se}")
                if info.size != self.entry.size:
                    raise SizeMismatch(
                        f"{self.entry.lfn}: {self.task.dest} stored {info.size} of "
                        f"{self.entry.size} bytes"
                    )
                await self._remote_checksum()
        except TimeoutError:
            await self._discard(sent)
            raise _SourceFault(
                SETimeout(
                    f"{self.entry.lfn}: copy from {rep.se} timed out after {self.timeout:.0f} s"
                )
            ) from None
        except DFCError as exc:
            await self._discard(sent)
            if stream.source_error is not None or is_corruption(exc):
                raise _SourceFault(exc) from None
            raise
        except BaseException:
            await self._discard(sent)
            raise
        return await self._rename(rep.se, sent)

    async def _one_local(self, rep: Replica, src: str, tmp: str, final: str) -> CopyDone:
        """The same-host fast path (:mod:`dfc.fts.localcopy`): one thread hop per file."""
        assert self.executor is not None
        loop = asyncio.get_running_loop()
        sent = 0

        def moved(n: int) -> None:
            nonlocal sent
            sent += n
            if self.progress is not None:
                self.progress(rep.se, n)

        def report(n: int) -> None:  # called on the copy's thread
            loop.call_soon_threadsafe(moved, n)

        control = Control(report)
        where = f"{self.entry.lfn} from {rep.se}"
        call = functools.partial(
            copy_local,
            src,
            tmp,
            final,
            check=lambda hasher: verify(self.entry, hasher, where),
            fsync=bool(getattr(self.dest, "fsync", True)),
            src_url=self.open_source(rep.se).pfn(rep.path),
            dst_url=self.dest.pfn(self.tmp),
            control=control,
        )
        try:
            await loop.run_in_executor(self.executor, call)
        except LocalFault as fault:
            self._unsend(sent)
            if fault.side == "source":
                raise _SourceFault(fault.error) from None
            if not isinstance(fault.error, AlreadyExists):
                raise fault.error from None
            if not await matches_entry(self.dest, self.final, self.entry):
                raise self._exists_error() from None
            return CopyDone(rep.se, self.final, self.tries, adopted=True)
        except BaseException:
            control.cancelled.set()
            raise
        return CopyDone(rep.se, self.final, self.tries, adopted=False)

    def _unsend(self, sent: int) -> None:
        if sent and self.progress is not None:
            self.progress("", -sent)

    def _exists_error(self) -> AlreadyExists:
        return AlreadyExists(
            f"{self.entry.lfn}: {self.dest.pfn(self.final)} exists with other "
            "content (remove it, or register it with `dfc check --register-dark`)"
        )

    async def _remote_checksum(self) -> None:
        """Compare the destination's own checksum of the temporary file with the catalogue.

        A server that does not answer in time (xrootd 5.5 sometimes never
        answers a checksum query) is not waited for: the file is read back
        through the SE and hashed instead.
        """
        dest = self.dest
        if not (isinstance(dest, SupportsChecksum) and dest.remote_checksum and self.entry.adler32):
            return
        try:
            async with asyncio.timeout(10.0 + self.entry.size / (100 * MiB)):
                remote = await dest.checksum(self.tmp, "adler32")
        except (TimeoutError, SETimeout):
            hasher = Hasher()
            async for _ in HashingStream(dest, self.tmp, hasher):
                pass
            verify(self.entry, hasher, f"{self.entry.lfn}: read back from {self.task.dest}")
            return
        if remote is not None and not adler32_equal(remote, self.entry.adler32):
            raise ChecksumMismatch(
                f"{self.entry.lfn}: {self.task.dest} reports adler32 {remote}, "
                f"catalogue says {self.entry.adler32}"
            )

    async def _rename(self, source: str, sent: int) -> CopyDone:
        try:
            try:
                await self.dest.rename(self.tmp, self.final)
            except AlreadyExists:
                if not await matches_entry(self.dest, self.final, self.entry):
                    raise self._exists_error() from None
                await self._discard(0)
                return CopyDone(source, self.final, self.tries, adopted=True)
        except BaseException:
            await self._discard(sent)
            raise
        return CopyDone(source, self.final, self.tries, adopted=False)

    async def _discard(self, sent: int) -> None:
        if sent and self.progress is not None:
            self.progress("", -sent)
        with contextlib.suppress(NotFound, DFCError):
            await self.dest.rm(self.tmp)


class _SourceFault(Exception):
    def __init__(self, error: DFCError) -> None:
        super().__init__(str(error))
        self.error = error


async def copy_task(
    task: Task,
    dest: StorageElement,
    open_source: Callable[[str], StorageElement],
    *,
    rereads: int = 1,
    timeout: float = 3600.0,
    progress: Callable[[str, int], None] | None = None,
    on_source_fault: Callable[[str, DFCError], None] | None = None,
    executor: Executor | None = None,
) -> CopyDone:
    """Make one try of ``task`` (whose ``entry`` and ``sources`` are set).

    Args:
        task: the file, its catalogue entry and ordered sources.
        dest: the destination SE.
        open_source: returns the SE client of a source name.
        rereads: re-reads of a source after a checksum or size mismatch.
        timeout: seconds allowed per source.
        progress: ``(source, bytes)`` for every chunk moved (negative: taken back).
        on_source_fault: told of a source that failed (not by bad bytes).
        executor: threads for the same-host fast path (None: always stream).

    Returns:
        Where the file now is at the destination, and the failed sources.

    Raises:
        CopyFailed: the try failed; its ``error`` is retryable when another
            try may succeed (a transient source or destination failure).
    """
    copier = _Copier(
        task,
        dest,
        open_source,
        rereads=rereads,
        timeout=timeout,
        progress=progress,
        executor=executor,
    )
    try:
        return await copier.run(on_source_fault or (lambda _se, _err: None))
    except CopyFailed:
        raise
    except DFCError as exc:
        raise CopyFailed(exc, copier.tries, copier.current, retryable=is_retryable(exc)) from None


def timeout_for(size: int, base: float, per_mib: float) -> float:
    """FTS3's transfer timeout: ``base`` plus ``per_mib`` seconds per MiB."""
    return base + per_mib * size / MiB
