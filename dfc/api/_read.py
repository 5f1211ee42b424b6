"""What a filesystem view of the catalogue needs.

Range reads with failover, whole-file verification, extended attributes and
``rmdir``.

:class:`ReplicaReader` serves byte ranges of catalogue files from their best
replica (the user's site first), failing over to the next replica when one
errs, is short or does not answer in time. It lives on one event loop (its
storage clients are bound to it); the FUSE filesystem keeps it on the loop of a
:class:`dfc._sync.LoopThread`.

:class:`WholeFileVerifier` follows the ranges handed out for one open file and,
once they covered the whole file in order, checks size and checksums against
the catalogue. Ranges may arrive out of order (concurrent read-ahead), within a
bounded reorder window. :class:`LocalFileVerifier` does the same for a file
whose bytes never pass through Python (served zero-copy from a local replica,
see :meth:`ReplicaReader.local_paths`): it hashes the same open file itself.
"""

from __future__ import annotations

import asyncio
import errno
import os
import threading
from typing import TYPE_CHECKING

from dfc import lfn as lfnmod
from dfc.api._choose import order_replicas
from dfc.api._storage import Storage
from dfc.checksum import Hasher, verify
from dfc.errors import DFCError, NoReplicaAvailable, StorageError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from concurrent.futures import Executor, Future
    from contextlib import AbstractContextManager

    from dfc.api._guarded import ApiTx
    from dfc.catalog._records import MetaValue
    from dfc.config import Settings
    from dfc.models import BulkResult, Entry, SEInfo

__all__ = [
    "XATTR_PREFIX",
    "LocalFileVerifier",
    "ReadMixin",
    "ReplicaReader",
    "WholeFileVerifier",
]

#: Every extended attribute dfc serves starts with this.
XATTR_PREFIX = "user.dfc."


class ReplicaReader:
    """Reads byte ranges of catalogue files from their replicas, with failover.

    Create it with :meth:`ReadMixin.open_reader` and use it on one event loop;
    close it with :meth:`aclose` on that loop.

    Args:
        settings: for the user's site and per-SE options.
        ses: every known storage element by name.
        timeout: seconds one replica may take to answer one range.
        on_skip: told about each replica that failed before another was tried.
    """

    def __init__(
        self,
        settings: Settings,
        ses: Mapping[str, SEInfo],
        *,
        timeout: float = 30.0,
        on_skip: Callable[[Entry, str, str], None] | None = None,
    ) -> None:
        self._storage = Storage(settings, ses)
        self._site = settings.site
        self.timeout = timeout
        self._on_skip = on_skip
        # The SE that served an LFN last: sequential reads stay on one replica
        # instead of hopping between them (order_replicas shuffles).
        self._sticky: dict[str, str] = {}

    def _order(self, entry: Entry) -> tuple[list[str], list[str], dict[str, str]]:
        ordered, skipped = order_replicas(entry.replicas, self._storage.infos, self._site)
        names = [r.se for r in ordered]
        paths = [r.path for r in ordered]
        last = self._sticky.get(entry.lfn)
        if last in names:
            i = names.index(last)
            names.insert(0, names.pop(i))
            paths.insert(0, paths.pop(i))
        return names, paths, skipped

    async def read_range(self, entry: Entry, offset: int, length: int) -> bytes:
        """Return ``length`` bytes of file ``entry`` from ``offset`` (fewer only at its end).

        Replicas are tried in order (the user's site first, the one that served
        this file last before the others); a replica that fails, returns fewer
        bytes than the catalogue size implies, or does not answer within
        :attr:`timeout` seconds is skipped for the next.

        Raises:
            NoReplicaAvailable: no replica could serve the range (the message
                says why for each).
        """
        want = max(0, min(length, entry.size - offset))
        if want == 0:
            return b""
        names, paths, skipped = self._order(entry)
        errors = dict(skipped)
        for se, path in zip(names, paths, strict=True):
            try:
                data = await self._read_replica(se, path, offset, want)
            except DFCError as exc:
                errors[se] = str(exc)
                if self._on_skip is not None:
                    self._on_skip(entry, se, str(exc))
                continue
            self._sticky[entry.lfn] = se
            return data
        reasons = "; ".join(f"{se}: {why}" for se, why in errors.items()) or "it has no replicas"
        raise NoReplicaAvailable(f"{entry.lfn}: no replica could be read ({reasons})")

    async def _read_replica(self, se: str, path: str, offset: int, want: int) -> bytes:
        storage = self._storage.get(se)
        parts: list[bytes] = []
        got = 0
        try:
            async with asyncio.timeout(self.timeout):
                while got < want:
                    data = await storage.read_range(path, offset + got, want - got)
                    if not data:
                        break
                    parts.append(data)
                    got += len(data)
        except TimeoutError:
            raise StorageError(f"no answer within {self.timeout:g} s") from None
        if got < want:
            raise StorageError(
                f"replica is shorter than the catalogue size: {offset + got} bytes, "
                f"{offset + want} expected at least"
            )
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def has_local_storage(self) -> bool:
        """Whether any storage element is on local disk (``file://``): see :meth:`local_paths`."""
        return any(info.protocol == "file" for info in self._storage.infos.values())

    async def local_paths(self, entry: Entry) -> list[tuple[str, str]]:
        """The replicas :meth:`read_range` would try first that are files on this machine.

        Returns ``(SE, local path)`` for the leading replicas, in reading order,
        that live on local-disk (``file://``) storage elements, up to the first
        one that does not; empty when the first choice is elsewhere. A caller
        may then serve the file from the local path itself (zero copy), falling
        back to :meth:`read_range` when none of them can be opened.
        """
        from dfc.se.local import LocalSE  # only for the isinstance check

        names, paths, _ = self._order(entry)
        found: list[tuple[str, str]] = []
        for se, path in zip(names, paths, strict=True):
            try:
                client = self._storage.get(se)
                if not isinstance(client, LocalSE):
                    break
                found.append((se, client.pfn(path).removeprefix("file://")))
            except DFCError:
                break
        return found

    async def aclose(self) -> None:
        """Close the storage clients opened so far."""
        await self._storage.aclose()


class WholeFileVerifier:
    """Checks a file read whole, from the ranges handed out, against the catalogue.

    Feed every range returned to the reader with :meth:`feed`, from any thread.
    Ranges are hashed in file order; later ranges wait in a window of at most
    ``window`` bytes. A reader that seeks around (or leaves a gap wider than the
    window) simply ends verification: only a file read whole is verified.

    Args:
        entry: the file, with the catalogue's size and checksums.
        window: bytes of out-of-order ranges kept while waiting for a gap.
    """

    def __init__(self, entry: Entry, *, window: int = 64 << 20) -> None:
        self.entry = entry
        self._window = window
        self._hasher = Hasher()
        self._pending: dict[int, bytes] = {}
        self._pending_bytes = 0
        self._lock = threading.Lock()
        #: ``reading``, ``verified``, ``failed`` or ``abandoned``.
        self.state = "reading" if entry.adler32 or entry.xxh3 else "abandoned"

    def feed(self, offset: int, data: bytes) -> None:
        """Account for ``data`` read at ``offset``; verify once the whole file was seen.

        Raises:
            SizeMismatch, ChecksumMismatch: the file was read whole and differs
                from the catalogue (raised once, by the call that completed it).
        """
        with self._lock:
            if self.state != "reading":
                return
            done = self._hasher.size
            end = offset + len(data)
            if end <= done:
                return  # a range read again
            if offset < done:
                data, offset = data[done - offset :], done
            if offset > done:
                self._hold(offset, data)
                return
            self._hasher.update(data)
            self._drain()
            if self._hasher.size >= self.entry.size:
                self._finish()

    def _hold(self, offset: int, data: bytes) -> None:
        if len(data) > len(self._pending.get(offset, b"")):
            self._pending_bytes += len(data) - len(self._pending.get(offset, b""))
            self._pending[offset] = data
        if self._pending_bytes > self._window:
            self._abandon()

    def _drain(self) -> None:
        while self._pending:
            done = self._hasher.size
            ready = [o for o in self._pending if o <= done]
            if not ready:
                return
            for start in sorted(ready):
                data = self._pending.pop(start)
                self._pending_bytes -= len(data)
                if start + len(data) > self._hasher.size:
                    self._hasher.update(data[self._hasher.size - start :])

    def _abandon(self) -> None:
        self.state = "abandoned"
        self._pending.clear()
        self._pending_bytes = 0

    def _finish(self) -> None:
        self._pending.clear()
        self._pending_bytes = 0
        try:
            verify(self.entry, self._hasher, self.entry.lfn)
        except DFCError:
            self.state = "failed"
            raise
        self.state = "verified"


class LocalFileVerifier:
    """Checks a file served straight from a local replica (zero copy) against the catalogue.

    When the reader's bytes go from a local file descriptor to the kernel
    without passing through Python, this verifier follows the ranges handed
    out (:meth:`served`) and hashes the same open file itself, in file order
    and behind the reader, on ``executor``'s threads: hashing overlaps with
    serving. The call that completes the whole file waits for the hash and
    raises on a mismatch, before that last range reaches the reader.

    The bytes hashed are the bytes served: both come from the same open file
    (one inode, which storage elements never change in place: they replace a
    file by renaming a new one over it, and the descriptor keeps the old one).

    Args:
        entry: the file, with the catalogue's size and checksums.
        fd: the open replica; it must stay open until :meth:`close` returns.
        executor: where hashing runs.
        max_ranges: out-of-order ranges kept before giving up (a reader
            seeking around is not verified, as with :class:`WholeFileVerifier`).
        chunk: bytes hashed per ``pread``.
        lag: bytes the hash may trail the reader before it catches up.
    """

    def __init__(
        self,
        entry: Entry,
        fd: int,
        executor: Executor,
        *,
        max_ranges: int = 1024,
        chunk: int = 1 << 20,
        lag: int = 16 << 20,
    ) -> None:
        self.entry = entry
        self._fd = fd
        self._executor = executor
        self._max_ranges = max_ranges
        self._chunk = chunk
        self._lag = lag
        self._hasher = Hasher()
        self._covered = 0  # [0, covered) was handed out
        self._ahead: dict[int, int] = {}  # start -> end of ranges handed out past it
        self._lock = threading.Lock()
        self._hashing = False
        self._idle = threading.Event()
        self._idle.set()
        self._error: DFCError | None = None
        #: ``reading``, ``verified``, ``failed`` or ``abandoned``.
        self.state = "reading" if entry.adler32 or entry.xxh3 else "abandoned"

    def served(self, offset: int, length: int) -> None:
        """Account for ``length`` bytes at ``offset`` about to be handed to the reader.

        Raises:
            SizeMismatch, ChecksumMismatch: the file is now covered whole and
                differs from the catalogue (and again on every later call).
            StorageError: the replica could not be read for hashing (likewise).
        """
        with self._lock:
            self._raise_failure()
            if self.state != "reading" or length <= 0:
                return
            end = offset + length
            if offset > self._covered:
                self._ahead[offset] = max(end, self._ahead.get(offset, end))
                if len(self._ahead) > self._max_ranges:
                    self._stop("abandoned")
                return
            self._covered = max(self._covered, end)
            while self._ahead:
                ready = [start for start in self._ahead if start <= self._covered]
                if not ready:
                    break
                for start in ready:
                    self._covered = max(self._covered, self._ahead.pop(start))
            complete = self._covered >= self.entry.size
            if complete or self._covered - self._hasher.size >= self._lag:
                self._start_hashing()
            if not complete:
                return
        self._idle.wait()
        with self._lock:
            self._raise_failure()

    def _raise_failure(self) -> None:
        # Called with the lock held. Every call after a failure raises it: the
        # call that completed the file may wake after another one saw it.
        if self._error is not None:
            raise self._error

    def _stop(self, state: str) -> None:
        # Called with the lock held.
        self.state = state
        self._ahead.clear()

    def _start_hashing(self) -> None:
        # Called with the lock held.
        if self._hashing:
            return
        self._hashing = True
        self._idle.clear()
        try:
            future = self._executor.submit(self._hash)
        except RuntimeError:  # shut down: the mount is going away
            self._hashing = False
            self._idle.set()
            self._stop("abandoned")
            return
        future.add_done_callback(self._hash_done)

    def _hash_done(self, future: Future[None]) -> None:
        if future.cancelled():
            with self._lock:
                self._hashing = False
                self._stop("abandoned")
                self._idle.set()

    def _hash(self) -> None:
        why, caught_up = "hashing stopped unexpectedly", False
        try:
            self._hash_until_caught_up()
            caught_up = True
        except OSError as exc:
            why = f"cannot read the replica to verify it: {exc.strerror or exc}"
        finally:
            if not caught_up:  # left by an exception: fail the read, never hang it
                with self._lock:
                    if self.state == "reading":
                        self._error = StorageError(f"{self.entry.lfn}: {why}")
                        self._stop("failed")
                    self._hashing = False
                    self._idle.set()

    def _hash_until_caught_up(self) -> None:
        view = memoryview(bytearray(self._chunk))
        while True:
            with self._lock:
                start = self._hasher.size
                stop = min(self._covered, self.entry.size)
                if self.state != "reading" or start >= stop:
                    # Decided under the lock that served() takes: no range is missed.
                    if self.state == "reading" and start >= self.entry.size:
                        self._finish()
                    self._hashing = False
                    self._idle.set()
                    return
            self._hash_range(view, start, stop)

    def _hash_range(self, view: memoryview, start: int, stop: int) -> None:
        pos = start
        while pos < stop and self.state == "reading":
            got = os.preadv(self._fd, [view[: min(self._chunk, stop - pos)]], pos)
            if got <= 0:
                raise OSError(errno.EIO, f"replica ends at {pos} bytes, {stop} expected")
            self._hasher.update(view[:got])
            pos += got

    def _finish(self) -> None:
        # Called with the lock held, once the whole file was hashed.
        try:
            verify(self.entry, self._hasher, self.entry.lfn)
        except DFCError as exc:
            self._error = exc
            self._stop("failed")
            return
        self.state = "verified"

    def close(self) -> None:
        """Stop hashing (a reader that closes early is not verified); returns once idle."""
        with self._lock:
            if self.state == "reading":
                self._stop("abandoned")
        self._idle.wait()


class ReadMixin:
    """Operations of :class:`dfc.DFC` for a filesystem view of the catalogue."""

    settings: Settings

    def se_list(self) -> list[SEInfo]:  # provided by DFC
        raise NotImplementedError

    def stat(self, lfns: Sequence[str]) -> BulkResult[Entry]:  # provided by DFC
        raise NotImplementedError

    if TYPE_CHECKING:  # provided by DFC and MetaMixin; no run-time stubs to shadow them

        def _tx(self) -> AbstractContextManager[ApiTx]: ...

        def meta_get(self, path: str) -> dict[str, MetaValue]: ...

    def open_reader(
        self,
        *,
        timeout: float = 30.0,
        on_skip: Callable[[Entry, str, str], None] | None = None,
    ) -> ReplicaReader:
        """Return a :class:`ReplicaReader` over the storage elements registered now.

        Use it on one event loop and close it there (``await reader.aclose()``).

        Args:
            timeout: seconds one replica may take to answer one range read.
            on_skip: called with (entry, SE, reason) for each replica that failed
                before the next was tried.

        Raises:
            CatalogError: the catalogue cannot be read.
        """
        ses = {s.name: s for s in self.se_list()}
        return ReplicaReader(self.settings, ses, timeout=timeout, on_skip=on_skip)

    def verifier(self, entry: Entry, *, window: int = 64 << 20) -> WholeFileVerifier:
        """Return a :class:`WholeFileVerifier` for one reading of file ``entry``."""
        return WholeFileVerifier(entry, window=window)

    def local_verifier(self, entry: Entry, fd: int, executor: Executor) -> LocalFileVerifier:
        """Return a :class:`LocalFileVerifier` for one reading of ``entry`` served from ``fd``."""
        return LocalFileVerifier(entry, fd, executor)

    def xattrs(self, lfn: str) -> dict[str, bytes]:
        """Return the extended attributes of a file or directory, by name.

        ``user.dfc.lfn``; for files also ``user.dfc.replicas`` (one line per
        replica: ``SE PFN``, plus `` bad`` for a bad one), ``user.dfc.adler32``,
        ``user.dfc.xxh3``, ``user.dfc.guid``; and ``user.dfc.meta.<field>`` for
        each metadata field when the metadata API is available.

        Raises:
            InvalidLFN: ``lfn`` is not a valid LFN.
            LFNNotFound: nothing is registered at ``lfn``.
        """
        lfn = lfnmod.validate(lfn)
        found = self.stat([lfn])
        found.raise_first()
        entry = found.succeeded[lfn]
        out: dict[str, bytes] = {XATTR_PREFIX + "lfn": lfn.encode()}
        if not entry.is_dir:
            lines = [
                f"{r.se} {r.pfn}" + ("" if r.status == "good" else f" {r.status}")
                for r in entry.replicas
            ]
            out[XATTR_PREFIX + "replicas"] = "\n".join(lines).encode()
            for name, value in (
                ("adler32", entry.adler32),
                ("xxh3", entry.xxh3),
                ("guid", entry.guid),
            ):
                if value:
                    out[XATTR_PREFIX + name] = value.encode()
        out.update(self._meta_xattrs(lfn))
        return out

    def _meta_xattrs(self, lfn: str) -> dict[str, bytes]:
        """``user.dfc.meta.<field>``: own and inherited metadata values, as text."""
        return {f"{XATTR_PREFIX}meta.{k}": str(v).encode() for k, v in self.meta_get(lfn).items()}

    def rmdir(self, lfn: str) -> None:
        """Remove the empty directory ``lfn``.

        Raises:
            InvalidLFN: ``lfn`` is not a valid LFN.
            LFNNotFound: no such directory.
            NotADirectory: ``lfn`` is a file.
            DirectoryNotEmpty: it still has entries.
            PermissionDenied: ``lfn`` is ``/``.
        """
        lfn = lfnmod.validate(lfn)
        found = self.stat([lfn])
        found.raise_first()
        with self._tx() as tx:
            tx.rmdir([lfn]).raise_first()
