"""The FUSE operations: the catalogue as a filesystem, over the public :class:`dfc.DFC` API.

Paths under the mount point map to LFNs under ``--root``. Listings and
attributes come from the catalogue through a short-lived :class:`AttrCache`;
reads go to the best replica through one event-loop thread
(:class:`dfc._sync.LoopThread`) with a timeout, optionally through a local
:class:`BlockCache`; a file read whole is verified against its checksums. A
file whose replica to read first is on this machine (a ``file://`` SE) is
served from it without copying through Python (:mod:`dfc.fuse.zerocopy`) and
verified by hashing that replica alongside. In a writable mount new files are
spooled locally and uploaded on close.

Every error becomes an errno: a :class:`~dfc.errors.DFCError` gives its own
(ENOENT, EACCES, EEXIST, ENOTEMPTY, ...), read and storage failures give EIO,
and writes to a read-only mount give EROFS.
"""

from __future__ import annotations

import errno
import functools
import itertools
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

from dfc import lfn as lfnmod
from dfc.errors import DFCError, LFNNotFound, NotADirectory
from dfc.fuse.attrs import AttrCache, IdMap, entry_attrs
from dfc.fuse.cache import file_key
from dfc.fuse.local import LocalHandle, open_replica
from dfc.fuse.prefetch import Prefetcher
from dfc.fuse.zerocopy import FUSE_CAP_SPLICE_WRITE, reply_bytes, reply_fd, splice_max_request

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Future
    from pathlib import Path

    from dfc import DFC, Entry
    from dfc._sync import LoopThread
    from dfc.api._read import ReplicaReader, WholeFileVerifier
    from dfc.fuse.cache import BlockCache
    from dfc.fuse.mount import MountOptions
    from dfc.fuse.spool import Spool, SpoolFile

__all__ = ["DFCOperations", "fs_errno"]

log = logging.getLogger("dfc.fuse")

P = ParamSpec("P")
T = TypeVar("T")

#: Errnos a filesystem caller understands; any other error class becomes EIO.
_FS_ERRNOS = frozenset(
    {
        errno.ENOENT,
        errno.EACCES,
        errno.EPERM,
        errno.EEXIST,
        errno.ENOTEMPTY,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EINVAL,
        errno.ENOSPC,
        errno.EROFS,
        errno.ENAMETOOLONG,
    }
)
_XATTR = "user.dfc."
_COPY_CHUNK = 8 << 20


def fs_errno(exc: DFCError) -> int:
    """The errno a filesystem caller gets for ``exc``: its own if meaningful, else EIO."""
    return exc.errno if exc.errno in _FS_ERRNOS else errno.EIO


def _fail(code: int, what: str = "") -> OSError:
    return OSError(code, what or os.strerror(code))


def _errors(fn: Callable[P, T]) -> Callable[P, T]:
    """Turn dfc errors into OSError(errno) for mfusepy, logging the unexpected ones."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except DFCError as exc:
            code = fs_errno(exc)
            if code == errno.EIO:
                log.error("%s: %s", fn.__name__, exc)
            else:
                log.debug("%s: %s", fn.__name__, exc)
            raise _fail(code, str(exc)) from None

    return wrapper


class _ReadHandle:
    __slots__ = ("entry", "ident", "prefetch", "verifier")

    def __init__(self, entry: Entry, verifier: WholeFileVerifier, prefetch: Prefetcher) -> None:
        self.entry = entry
        self.ident = (entry.lfn, file_key(entry))
        self.verifier = verifier
        self.prefetch = prefetch


class _WriteHandle:
    __slots__ = ("spooled", "writable")

    def __init__(self, spooled: SpoolFile, writable: bool) -> None:
        self.spooled = spooled
        self.writable = writable


_Handle = _ReadHandle | LocalHandle | _WriteHandle


class DFCOperations:
    """mfusepy operations serving the catalogue below ``options.root``.

    Args:
        api: the dfc API (used from many threads at once).
        options: mount options.
        mountpoint: where it is mounted (for tuning read-ahead once mounted).
        loop: the event-loop thread that runs every storage read.
        reader: the replica reader living on ``loop``.
        cache: the local block cache, if any.
        spool: where files being written live (writable mounts only).
    """

    use_ns = True

    def __init__(
        self,
        api: DFC,
        options: MountOptions,
        mountpoint: Path,
        loop: LoopThread,
        reader: ReplicaReader,
        cache: BlockCache | None = None,
        spool: Spool | None = None,
    ) -> None:
        self.api = api
        self.options = options
        self.mountpoint = mountpoint
        self._loop = loop
        self._reader = reader
        self._cache = cache
        self._spool = spool
        self._attrs = AttrCache(options.attr_ttl)
        self._xattrs: dict[str, tuple[float, dict[str, bytes]]] = {}
        self._ids = IdMap()
        self._handles: dict[int, _Handle] = {}
        self._next_fh = itertools.count(1)
        self._bad: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._request_kb = 0  # the kernel's largest read request, once capped
        self._uid = os.getuid()
        self._gid = os.getgid()
        # Cache reads block on local disk and storage: they run on their own threads.
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dfc-fuse-cache")
        # Hashing local replicas served zero-copy, alongside the readers.
        self._hashers = ThreadPoolExecutor(
            max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="dfc-fuse-verify"
        )

    def close(self) -> None:
        """Stop the cache and hashing threads (after unmounting)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._hashers.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------ helpers
    def _lfn(self, path: str) -> str:
        root = self.options.root
        if path in ("", "/"):
            return root
        return lfnmod.validate(root.rstrip("/") + path)

    def _entry(self, lfn: str) -> Entry:
        found, entry = self._attrs.get(lfn)
        if not found:
            result = self.api.stat([lfn])
            entry = result.succeeded.get(lfn)
            if entry is None:
                err = result.failed.get(lfn)
                if err is not None and not isinstance(err, LFNNotFound):
                    raise err
            self._attrs.put(lfn, entry)
        if entry is None:
            raise LFNNotFound(f"{lfn}: no such file or directory")
        return entry

    def _exists(self, lfn: str) -> Entry | None:
        try:
            return self._entry(lfn)
        except LFNNotFound:
            return None

    def _fresh(self, lfn: str) -> Entry:
        """The entry with its replicas, from the catalogue now."""
        result = self.api.stat([lfn])
        result.raise_first()
        entry = result.succeeded[lfn]
        self._attrs.put(lfn, entry)
        return entry

    def _add_handle(self, handle: _Handle) -> int:
        fh = next(self._next_fh)
        with self._lock:
            self._handles[fh] = handle
        return fh

    def _handle(self, fh: int) -> _Handle:
        with self._lock:
            handle = self._handles.get(fh)
        if handle is None:
            raise _fail(errno.EBADF)
        return handle

    def _writable(self) -> Spool:
        if self._spool is None or not self.options.writable:
            raise _fail(errno.EROFS)
        return self._spool

    def _pending(self, lfn: str) -> SpoolFile | None:
        return self._spool.get(lfn) if self._spool is not None else None

    def _changed(self, *lfns: str) -> None:
        self._attrs.forget(*lfns)
        with self._lock:
            for lfn in lfns:
                self._xattrs.pop(lfn, None)

    # ------------------------------------------------------------ lifecycle
    def init_with_config(self, conn: Any, config: Any) -> None:
        """Negotiate with the kernel: spliced read replies, sized so that they splice.

        Then raise the kernel read-ahead (:meth:`init`).
        """
        # Only replies by reference gain from splicing: bytes from Python would
        # be vmspliced, which costs more than libfuse's plain writev.
        local = self._cache is None and self._reader.has_local_storage()
        if local and conn is not None and conn.capable & FUSE_CAP_SPLICE_WRITE:
            conn.want |= FUSE_CAP_SPLICE_WRITE
            limit = splice_max_request()
            if limit is not None and conn.max_write > limit:
                # The kernel's largest request follows max_write (max_pages).
                conn.max_write = limit
                self._request_kb = limit >> 10
        self.init("/")

    def init(self, path: str) -> None:
        """Once mounted: raise the kernel read-ahead (in the background)."""
        kb = self.options.read_ahead_kb
        if kb > 0:
            from dfc.fuse.mount import tune_read_ahead

            if self._request_kb:
                # Whole requests: 1024 KiB in 1008 KiB requests would add a 16 KiB one.
                kb = -(-kb // self._request_kb) * self._request_kb
            threading.Thread(
                target=tune_read_ahead,
                args=(self.mountpoint, kb),
                name="dfc-fuse-readahead",
                daemon=True,
            ).start()

    # ------------------------------------------------------------ attributes
    @_errors
    def getattr(self, path: str, fh: int | None = None) -> dict[str, int]:
        """``stat``: catalogue attributes, or a file being written."""
        lfn = self._lfn(path)
        spooled = self._pending(lfn)
        if spooled is not None:
            return spooled.attrs(self._uid, self._gid)
        return entry_attrs(self._entry(lfn), self._ids)

    @_errors
    def readdir(self, path: str, fh: int) -> list[str]:
        """List a directory: one bulk catalogue query, which also fills the attribute cache."""
        lfn = self._lfn(path)
        names = self._attrs.listing(lfn)
        if names is None:
            # With replicas: opening the files next (cp -r, grep -r) needs no query each.
            names = self._attrs.put_listing(lfn, list(self.api.ls(lfn, with_replicas=True)))
            entry = self._exists(lfn)
            if entry is not None and not entry.is_dir:
                raise NotADirectory(f"{lfn}: not a directory")
        extra: list[str] = []
        if self._spool is not None:
            known = set(names)
            extra = [n for n in self._spool.names_in(lfn) if n not in known]
        return [".", "..", *names, *extra]

    @_errors
    def statfs(self, path: str) -> dict[str, int]:
        """A large, mostly free filesystem (the catalogue has no fixed capacity)."""
        big = 1 << 40
        return {
            "f_bsize": 1 << 20,
            "f_frsize": 4096,
            "f_blocks": big,
            "f_bfree": big,
            "f_bavail": big,
            "f_files": big,
            "f_ffree": big,
            "f_favail": big,
            "f_namemax": lfnmod.MAX_COMPONENT,
        }

    # ------------------------------------------------------------ extended attributes
    def _xattr_map(self, lfn: str) -> dict[str, bytes]:
        now = time.monotonic()
        with self._lock:
            item = self._xattrs.get(lfn)
        if item is not None and item[0] > now:
            return item[1]
        values = self.api.xattrs(lfn)
        if self.options.attr_ttl > 0:
            with self._lock:
                if len(self._xattrs) > 10_000:
                    self._xattrs.clear()
                self._xattrs[lfn] = (now + self.options.attr_ttl, values)
        return values

    @_errors
    def listxattr(self, path: str) -> list[str]:
        """Names of the ``user.dfc.*`` attributes."""
        lfn = self._lfn(path)
        if self._pending(lfn) is not None:
            return []
        return sorted(self._xattr_map(lfn))

    @_errors
    def getxattr(self, path: str, name: str, position: int = 0) -> bytes:
        """One ``user.dfc.*`` attribute; other ``user.`` names are absent (ENODATA).

        Other namespaces (``security.selinux``, ``system.posix_acl_access``) are
        not supported (ENOTSUP): ``ls -l`` then stops asking for every file.
        """
        if not name.startswith("user."):
            raise _fail(errno.ENOTSUP)
        if not name.startswith(_XATTR):
            raise _fail(errno.ENODATA)
        lfn = self._lfn(path)
        if self._pending(lfn) is not None:
            raise _fail(errno.ENODATA)
        value = self._xattr_map(lfn).get(name)
        if value is None:
            raise _fail(errno.ENODATA)
        return value

    def setxattr(self, path: str, name: str, value: bytes, options: int, position: int = 0) -> int:
        """Attributes are the catalogue's: not settable here."""
        raise _fail(errno.ENOTSUP if self.options.writable else errno.EROFS)

    def removexattr(self, path: str, name: str) -> int:
        """Attributes are the catalogue's: not removable here."""
        raise _fail(errno.ENOTSUP if self.options.writable else errno.EROFS)

    # ------------------------------------------------------------ reading
    @_errors
    def open(self, path: str, flags: int) -> int:
        """Open a file: for reading, with its replicas; for writing, through the spool."""
        lfn = self._lfn(path)
        spooled = self._pending(lfn)
        accmode = flags & os.O_ACCMODE
        if spooled is not None:
            spool = self._spool
            assert spool is not None
            spool.open(lfn, replacing=spooled.replacing)
            if flags & os.O_TRUNC and accmode != os.O_RDONLY:
                spooled.truncate(0)
            return self._add_handle(_WriteHandle(spooled, accmode != os.O_RDONLY))
        if accmode == os.O_RDONLY:
            found, cached = self._attrs.get(lfn)
            entry = cached if found and cached is not None and cached.replicas else self._fresh(lfn)
            if entry.is_dir:
                raise _fail(errno.EISDIR)
            local = self._open_local(entry)
            if local is not None:
                return self._add_handle(local)
            prefetch = Prefetcher(
                entry.size, functools.partial(self._start, entry), timeout=self._limit(entry)
            )
            return self._add_handle(_ReadHandle(entry, self.api.verifier(entry), prefetch))
        return self._open_existing_for_write(lfn, flags)

    def _open_local(self, entry: Entry) -> LocalHandle | None:
        """Open the replica to read first if it is a file on this machine (zero-copy reads).

        None sends reads the usual way (storage reads through the loop, the
        block cache when there is one).
        """
        if self._cache is not None or entry.size == 0:
            return None
        try:
            candidates = self._loop.submit(self._reader.local_paths(entry), self._limit(entry))
        except DFCError as exc:
            log.debug("%s: no local replica: %s", entry.lfn, exc)
            return None
        fd = open_replica(entry, candidates)
        if fd is None:
            return None
        return LocalHandle(entry, fd, self.api.local_verifier(entry, fd, self._hashers))

    def _open_existing_for_write(self, lfn: str, flags: int) -> int:
        spool = self._writable()
        entry = self._fresh(lfn)
        if entry.is_dir:
            raise _fail(errno.EISDIR)
        if not self.options.overwrite:
            raise _fail(errno.EPERM, f"{lfn} exists; files are not changed in place")
        spooled = spool.open(lfn, replacing=True, mode=entry.mode)
        try:
            if not flags & os.O_TRUNC:
                self._copy_into(entry, spooled)
        except BaseException:
            spool.release(spooled)
            raise
        return self._add_handle(_WriteHandle(spooled, True))

    def _copy_into(self, entry: Entry, spooled: SpoolFile) -> None:
        """Fill the spool with the current content, to be changed in place (``--overwrite``)."""
        verifier = self.api.verifier(entry)
        offset = 0
        while offset < entry.size:
            data = self._remote(entry, offset, min(_COPY_CHUNK, entry.size - offset))
            verifier.feed(offset, data)
            spooled.write(data, offset)
            offset += len(data)
        spooled.dirty = False

    def _limit(self, entry: Entry) -> float:
        # The reader times out each replica; this outer limit only guards the bridge.
        return self._reader.timeout * max(1, len(entry.replicas)) + 5.0

    def _remote(self, entry: Entry, offset: int, length: int) -> bytes:
        return self._loop.submit(self._reader.read_range(entry, offset, length), self._limit(entry))

    def _start(self, entry: Entry, offset: int, length: int) -> Future[bytes]:
        """Start reading a range: from storage on the loop, or through the local cache."""
        if self._cache is None:
            return self._loop.schedule(self._reader.read_range(entry, offset, length))
        fetch = functools.partial(self._remote, entry)
        return self._pool.submit(self._cache.read, entry, offset, length, fetch)

    def read_buf(self, path: str, bufpp: Any, size: int, offset: int, fh: int) -> int:
        """Answer a read: a local replica by reference (libfuse splices it), else bytes.

        Errors as :meth:`read`; ENOMEM when no reply buffer can be allocated.
        """
        handle = self._handle(fh)
        try:
            if isinstance(handle, LocalHandle):
                length = self._local_range(handle, size, offset)
                if length > 0:
                    reply_fd(bufpp, handle.fd, offset, length)
                    return 0
                reply_bytes(bufpp, b"")
            else:
                reply_bytes(bufpp, self.read(path, size, offset, fh))
        except MemoryError:
            raise _fail(errno.ENOMEM) from None
        return 0

    def _local_range(self, handle: LocalHandle, size: int, offset: int) -> int:
        """The length of the range to serve from a local replica, verified if it completes it."""
        entry = handle.entry
        length = max(0, min(size, entry.size - offset))
        if length == 0:
            return 0
        if handle.ident in self._bad:
            raise _fail(errno.EIO)
        try:
            handle.verifier.served(offset, length)
        except DFCError as exc:
            self._failed_whole(entry, handle.ident, exc)
        if handle.verifier.state == "verified":
            log.debug("%s: read whole, size and checksums verified", entry.lfn)
        return length

    def _failed_whole(self, entry: Entry, ident: tuple[str, str], exc: DFCError) -> NoReturn:
        log.error("%s: read whole but does not match the catalogue: %s", entry.lfn, exc)
        self._bad.add(ident)
        if self._cache is not None:
            self._cache.drop(entry)
        raise _fail(errno.EIO) from None

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        """Read a range from the best replica; verify a file read whole (EIO on mismatch)."""
        handle = self._handle(fh)
        if isinstance(handle, _WriteHandle):
            return handle.spooled.read(size, offset)
        if isinstance(handle, LocalHandle):
            length = self._local_range(handle, size, offset)
            try:
                return os.pread(handle.fd, length, offset) if length else b""
            except OSError as exc:
                log.error("%s: read at %d failed: %s", handle.entry.lfn, offset, exc)
                raise _fail(errno.EIO) from None
        entry = handle.entry
        if size <= 0 or offset >= entry.size:
            return b""
        if handle.ident in self._bad:
            raise _fail(errno.EIO)
        try:
            data = handle.prefetch.read(offset, min(size, entry.size - offset))
        except DFCError as exc:
            log.error("%s: read of %d bytes at %d failed: %s", entry.lfn, size, offset, exc)
            raise _fail(errno.EIO) from None
        try:
            handle.verifier.feed(offset, data)
        except DFCError as exc:
            self._failed_whole(entry, handle.ident, exc)
        if handle.verifier.state == "verified":
            log.debug("%s: read whole, size and checksums verified", entry.lfn)
        return data

    @_errors
    def release(self, path: str, fh: int) -> int:
        """Close a handle; a file still not uploaded is uploaded now (errors only logged)."""
        with self._lock:
            handle = self._handles.pop(fh, None)
        if isinstance(handle, _ReadHandle):
            handle.prefetch.close()
        if isinstance(handle, LocalHandle):
            handle.close()
        if isinstance(handle, _WriteHandle):
            spooled = handle.spooled
            try:
                if handle.writable and spooled.dirty and not spooled.failed:
                    self._upload(spooled)
            except DFCError as exc:
                log.error("release: %s", exc)  # close() has returned: only the log tells
            finally:
                assert self._spool is not None
                self._spool.release(spooled)
        return 0

    # ------------------------------------------------------------ writing
    @_errors
    def create(self, path: str, mode: int, flags: int = 0) -> int:
        """Create a new file in the spool; an existing LFN is EPERM unless ``--overwrite``."""
        spool = self._writable()
        lfn = self._lfn(path)
        spooled = self._pending(lfn)
        if spooled is None:
            self._attrs.forget(lfn)
            existing = self._exists(lfn)
            if existing is not None and existing.is_dir:
                raise _fail(errno.EISDIR)
            if existing is not None and not self.options.overwrite:
                raise _fail(errno.EPERM, f"{lfn} exists; files are not changed in place")
            spooled = spool.open(lfn, replacing=existing is not None, mode=mode)
        else:
            spool.open(lfn, replacing=spooled.replacing)
            spooled.truncate(0)
        self._changed(lfn)
        return self._add_handle(_WriteHandle(spooled, True))

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        """Write into the spool."""
        handle = self._handle(fh)
        if not isinstance(handle, _WriteHandle) or not handle.writable:
            raise _fail(errno.EBADF)
        return handle.spooled.write(data, offset)

    @_errors
    def truncate(self, path: str | None, length: int, fh: int | None = None) -> int:
        """Truncate a file being written (an existing LFN only with ``--overwrite``)."""
        spool = self._writable()
        spooled: SpoolFile | None = None
        if fh is not None:
            handle = self._handle(fh)
            if isinstance(handle, _WriteHandle):
                spooled = handle.spooled
        lfn = self._lfn(path) if path is not None else None
        if spooled is None and lfn is not None:
            spooled = self._pending(lfn)
        if spooled is not None:
            spooled.truncate(length)
            return 0
        if lfn is None:
            raise _fail(errno.EBADF)
        handle_fh = self._open_existing_for_write(lfn, 0 if length else os.O_TRUNC)
        replacement = self._handle(handle_fh)
        assert isinstance(replacement, _WriteHandle)
        try:
            replacement.spooled.truncate(length)
            self._upload(replacement.spooled)
        finally:
            with self._lock:
                self._handles.pop(handle_fh, None)
            spool.release(replacement.spooled)
        return 0

    @_errors
    def flush(self, path: str, fh: int) -> int:
        """On close: upload what was written, verified and registered like ``dfc put``."""
        handle = self._handle(fh)
        if isinstance(handle, _WriteHandle) and handle.writable:
            with handle.spooled.lock:
                if handle.spooled.dirty and not handle.spooled.deleted:
                    self._upload(handle.spooled)
        return 0

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        """Nothing to do: files are uploaded when closed."""
        return 0

    def _upload(self, spooled: SpoolFile) -> None:
        with spooled.lock:
            if spooled.deleted:
                return
            lfn = spooled.lfn
            replace = spooled.replacing or spooled.uploaded
            try:
                self.api.put(
                    [spooled.path], lfn, se=self.options.se, overwrite=replace
                ).raise_first()
            except DFCError as exc:
                spooled.failed = True
                self._changed(lfn)
                raise type(exc)(f"{lfn}: upload failed: {exc}") from None
            spooled.dirty = False
            spooled.failed = False
            spooled.uploaded = True
            self._changed(lfn)
            log.info("%s: uploaded %d bytes", lfn, spooled.size)

    # ------------------------------------------------------------ namespace changes
    @_errors
    def mkdir(self, path: str, mode: int) -> int:
        """Create a directory in the catalogue."""
        self._writable()
        lfn = self._lfn(path)
        self._attrs.forget(lfn)
        if self._exists(lfn) is not None or self._pending(lfn) is not None:
            raise _fail(errno.EEXIST)
        self.api.mkdir([lfn]).raise_first()
        self._changed(lfn)
        return 0

    @_errors
    def rmdir(self, path: str) -> int:
        """Remove an empty directory."""
        self._writable()
        lfn = self._lfn(path)
        try:
            self.api.rmdir(lfn)
        finally:
            self._changed(lfn)
        return 0

    @_errors
    def unlink(self, path: str) -> int:
        """Remove a file and its replicas."""
        spool = self._writable()
        lfn = self._lfn(path)
        spooled = self._pending(lfn)
        if spooled is not None:
            with spooled.lock:
                spool.forget(spooled)
                uploaded = spooled.uploaded
            if not uploaded:
                self._changed(lfn)
                return 0
        try:
            self.api.rm([lfn]).raise_first()
        finally:
            self._changed(lfn)
        return 0

    @_errors
    def rename(self, old: str, new: str) -> int:
        """Rename in the catalogue; an existing target file is EPERM unless ``--overwrite``."""
        spool = self._writable()
        src, dst = self._lfn(old), self._lfn(new)
        if src == dst:
            return 0
        self._attrs.forget(src, dst)
        spooled = self._pending(src)
        src_entry = self._exists(src)
        if spooled is None and src_entry is None:
            raise _fail(errno.ENOENT)
        self._clear_target(dst, src_is_dir=src_entry is not None and src_entry.is_dir)
        try:
            if spooled is not None:
                with spooled.lock:
                    if spooled.uploaded:
                        self.api.mv(src, dst)
                    spool.rename(spooled, dst)
            else:
                self.api.mv(src, dst)
        finally:
            self._attrs.forget_tree(src)
            self._changed(src, dst)
        return 0

    def _clear_target(self, dst: str, *, src_is_dir: bool) -> None:
        """Make way for a rename onto ``dst`` the way POSIX does, within the overwrite rule."""
        if self._pending(dst) is not None:
            raise _fail(errno.EBUSY)
        target = self._exists(dst)
        if target is None:
            return
        if target.is_dir:
            if not src_is_dir:
                raise _fail(errno.EISDIR)
            self.api.rmdir(dst)  # DirectoryNotEmpty -> ENOTEMPTY
        elif src_is_dir:
            raise _fail(errno.ENOTDIR)
        elif not self.options.overwrite:
            raise _fail(errno.EPERM, f"{dst} exists; files are not replaced")
        else:
            self.api.rm([dst]).raise_first()

    @_errors
    def chmod(self, path: str, mode: int) -> int:
        """Modes are the catalogue's: accepted for files being written, else EPERM."""
        self._writable()
        if self._pending(self._lfn(path)) is None:
            raise _fail(errno.EPERM)
        return 0

    @_errors
    def chown(self, path: str, uid: int, gid: int) -> int:
        """Owners are the catalogue's: accepted for files being written, else EPERM."""
        return self.chmod(path, 0)

    @_errors
    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        """Times are the catalogue's: accepted and ignored in a writable mount."""
        self._writable()
        lfn = self._lfn(path)
        if self._pending(lfn) is None:
            self._entry(lfn)
        return 0
