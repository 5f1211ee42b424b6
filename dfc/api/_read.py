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
bounded reorder window.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

from dfc import lfn as lfnmod
from dfc.api._choose import order_replicas
from dfc.api._storage import Storage
from dfc.checksum import Hasher, verify
from dfc.errors import DFCError, NoReplicaAvailable, StorageError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from contextlib import AbstractContextManager

    from dfc.api._guarded import ApiTx
    from dfc.catalog._records import MetaValue
    from dfc.config import Settings
    from dfc.models import BulkResult, Entry, SEInfo

__all__ = ["ReadMixin", "ReplicaReader", "WholeFileVerifier", "XATTR_PREFIX"]

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
