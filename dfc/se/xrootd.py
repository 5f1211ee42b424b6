"""``root://`` storage elements: XRootD servers (xrootd, EOS, dCache) via the XRootD client.

Everything goes through the XRootD client's own asynchronous API (PyPI
``xrootd``), its callbacks turned into asyncio futures (:mod:`dfc.se._xrd`): no
thread waits on the network, and no directory listing is cached (fsspec-xrootd
keeps stale listings after removals, so it is not used).

- Writes open a temporary name next to the target (``New | MakePath``), write,
  close, and ``mv`` the file into place: four requests for a small file. A
  stream that ends within ``chunk_size`` bytes is sent as one chain of requests
  started from each other's callbacks on the client's thread (:class:`~dfc.se._xrd.Chain`):
  the event loop wakes once per file, not once per request. A larger one writes
  ``chunk_size`` blocks at increasing offsets with up to ``parallel`` requests in
  flight. Only a put without ``overwrite`` looks at the target first (a large
  one before the upload, a small one just before the ``mv``, which would replace
  a file); a directory in the way makes the ``mv`` itself fail. A cancelled put
  leaves nothing: not the temporary file, nor the target if the ``mv`` had
  already gone through. Persist-on-successful-close (``kXR_posc``) would save
  the ``mv``, but the file is visible and readable under its final name while
  it is written and after a crash until the server's hold time has passed
  (xrootd/xrootd#115), so dfc keeps the temporary name.
- Reads open the file and ask for the first block in one chain, before knowing
  the size (a small file is one wakeup), then keep ``parallel`` range requests
  in flight; the close of a read file is not waited for (:meth:`XRootDSE.close`
  waits for the ones still in flight).
- ``checksum(path, "adler32")`` asks the server (``query checksum``; the server
  needs ``xrootd.chksum adler32``), so uploads are verified by the server.

URLs look like ``root://HOST[:PORT]//BASE/PATH`` (a single slash after the host
means the same absolute path). Grid credentials are the XRootD client's own
business: it reads ``X509_USER_PROXY`` and ``X509_CERT_DIR`` (and ``XRD_*``
settings) from the environment. Paths containing ``?`` are refused: XRootD would
take the rest for CGI parameters.

The XRootD client is configured process-wide (see :data:`dfc.se._xrd.CLIENT_DEFAULTS`)
to fail at once when a server is unreachable and to reconnect as soon as it is
back, instead of its defaults (retrying for ten minutes, then remembering the
failure for half an hour); ``XRD_CONNECTIONRETRY`` and friends still win.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import weakref
from typing import TYPE_CHECKING, Any

from fsspec.callbacks import DEFAULT_CALLBACK
from XRootD.client.flags import DirListFlags, MkDirFlags, OpenFlags, QueryCode, StatInfoFlags

from dfc.checksum import normalize_adler32
from dfc.errors import (
    AlreadyExists,
    ConfigError,
    DFCError,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
)
from dfc.models import FileInfo
from dfc.se import _xrd
from dfc.se._errors import XRootDFailure, redact, translate_errors
from dfc.se._paths import normalize, parent, temp_path
from dfc.se._pump import pump, read_head
from dfc.se._walk import walk_tree

if TYPE_CHECKING:
    import concurrent.futures
    from collections.abc import AsyncIterable, AsyncIterator, Mapping

    from fsspec.callbacks import Callback

    from dfc.models import SEInfo

__all__ = ["CHECKSUMS_IN_FLIGHT", "XRootDSE", "parse_root_url"]

log = logging.getLogger(__name__)

MiB = 1024 * 1024
_FILE_MODE = 0o644
_DIR_MODE = 0o755
_FS_ERROR = 3005  # kXR_FSError
_UNSUPPORTED = (3013, 3000)  # kXR_Unsupported, kXR_ArgInvalid
_QUERY_NOT_SUPPORTED = 205  # errQueryNotSupported (client side)
#: Checksum queries in flight per server. An xrootd runs 4 checksum jobs at a time
#: by default (``xrootd.chksum max``) and keeps a table of 3 times as many; a query
#: beyond that is told to come back in 30 s (kXR_wait), again and again while the
#: others keep the table full, until the request expires. More in flight than the
#: server runs would only wait there.
CHECKSUMS_IN_FLIGHT = 4
#: Per event loop (asyncio semaphores belong to one loop): server -> its slots.
_checksum_slots: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]
] = weakref.WeakKeyDictionary()


def _checksum_slot(host: str) -> asyncio.Semaphore:
    """The semaphore bounding this loop's checksum queries to ``host``."""
    per_host = _checksum_slots.setdefault(asyncio.get_running_loop(), {})
    slot = per_host.get(host)
    if slot is None:
        slot = per_host[host] = asyncio.Semaphore(CHECKSUMS_IN_FLIGHT)
    return slot


def parse_root_url(url: str) -> tuple[str, str]:
    """Split ``root://HOST[:PORT]//BASE`` into ``(HOST[:PORT], "/BASE")`` (``""`` for ``/``).

    Raises:
        InvalidArgument: not a ``root://`` URL with a host, or it has CGI (``?``).
    """
    if not url.startswith("root://"):
        raise InvalidArgument(f"not a root:// URL: {redact(url)}")
    host, _, path = url[len("root://") :].partition("/")
    if not host or "?" in url or "#" in host:
        raise InvalidArgument(
            f"invalid XRootD SE URL {redact(url)}: expected root://HOST[:PORT]//PATH"
        )
    base = normalize(path)
    return host, "" if base == "/" else base


def _is_dir(stat: Any) -> bool:
    """Whether a stat answer (the bindings' dict) describes a directory."""
    return bool(stat["flags"] & StatInfoFlags.IS_DIR)


def _positive_int(name: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"SE {name}: option {key!r} must be a positive integer")
    return value


class XRootDSE:
    """A storage element on an XRootD server.

    Args:
        name: the SE name.
        url: ``root://HOST[:PORT]//BASE``.
        chunk_size: bytes per read and write request.
        timeout: seconds one request may take before it fails with ``SETimeout``.
        parallel: read or write requests in flight per file.

    Raises:
        InvalidArgument: ``url`` is not a usable ``root://`` URL.
    """

    remote_checksum = True

    def __init__(
        self,
        name: str,
        url: str,
        *,
        chunk_size: int = 8 * MiB,
        timeout: int = 120,
        parallel: int = 4,
    ) -> None:
        self.host, self.base = parse_root_url(url)
        self.name = name
        self.url = f"root://{self.host}/{self.base}"
        self.chunk_size = chunk_size
        self.timeout = timeout
        self.parallel = parallel
        _xrd.configure_client()
        self._fs = _xrd.new_filesystem(f"root://{self.host}")
        self._closing: set[asyncio.Future[tuple[Any, Any]]] = set()
        self._closing_sync: set[concurrent.futures.Future[None]] = set()

    @classmethod
    def from_info(cls, info: SEInfo, options: Mapping[str, Any] | None = None) -> XRootDSE:
        """Build from a catalogue SE record and local options.

        Options: ``chunk_size`` (bytes), ``timeout`` (seconds per request),
        ``parallel`` (requests in flight per file); all positive integers.

        Raises:
            ConfigError: an option is unknown or has the wrong type.
            InvalidArgument: the URL is not a usable ``root://`` URL.
        """
        opts = dict(options or {})
        kwargs = {
            key: _positive_int(info.name, key, opts.pop(key))
            for key in ("chunk_size", "timeout", "parallel")
            if key in opts
        }
        if opts:
            raise ConfigError(f"SE {info.name}: unknown option(s) {', '.join(sorted(opts))}")
        return cls(info.name, info.url, **kwargs)

    def __repr__(self) -> str:
        return f"XRootDSE({self.name!r}, {self.url!r})"

    # ------------------------------------------------------------ helpers

    def pfn(self, path: str) -> str:
        """Return ``root://HOST//BASE/PATH``.

        Raises:
            InvalidArgument: ``path`` escapes the SE root.
        """
        return f"root://{self.host}/{self.base}{normalize(path)}"

    def _norm(self, path: str) -> str:
        norm = normalize(path)
        if "?" in norm:
            raise InvalidArgument(f"XRootD path {norm!r}: '?' is not allowed in names")
        return norm

    def _fspath(self, norm: str) -> str:
        return self.base + norm if norm != "/" else self.base or "/"

    def _file_url(self, norm: str) -> str:
        return f"root://{self.host}/{self._fspath(norm)}"

    def _pfn(self, norm: str) -> str:
        """The PFN of an already normalized path."""
        return f"root://{self.host}/{self.base}{norm}"

    def _errors(self, norm: str, op: str) -> translate_errors:
        return translate_errors(self._pfn(norm), op)

    def _info(self, norm: str, stat: Any) -> FileInfo:
        is_dir = _is_dir(stat)
        return FileInfo(
            path=norm,
            size=0 if is_dir else int(stat["size"]),
            type="directory" if is_dir else "file",
            mtime=float(stat["modtime"]),
        )

    async def _stat(self, norm: str) -> Any:
        return await _xrd.call(self._fs.stat, self._fspath(norm), timeout=self.timeout)

    async def _exists(self, norm: str) -> Any | None:
        try:
            return await self._stat(norm)
        except XRootDFailure as exc:
            if _xrd.is_missing(exc):
                return None
            raise

    # ------------------------------------------------------------ reading

    async def stat(self, path: str) -> FileInfo:
        """Return size, type and mtime of ``path``.

        Raises:
            PFNNotFound: nothing exists at ``path``.
            SEUnavailable: the server cannot be reached.
        """
        norm = self._norm(path)
        async with self._errors(norm, "stat"):
            return self._info(norm, await self._stat(norm))

    async def ls(self, path: str) -> list[FileInfo]:
        """List directory ``path``, sorted by path.

        Raises:
            PFNNotFound: the directory does not exist.
            NotADirectory: ``path`` is a file.
        """
        norm = self._norm(path)
        async with self._errors(norm, "ls"):
            listing = await _xrd.call(
                self._fs.dirlist, self._fspath(norm), DirListFlags.STAT, timeout=self.timeout
            )
        infos = []
        for entry in (listing or {}).get("dirlist", ()):
            child = posixpath.join(norm, entry["name"])
            if entry["statinfo"] is None:  # the server could not stat it: report a bare file
                infos.append(FileInfo(path=child, size=0))
            else:
                infos.append(self._info(child, entry["statinfo"]))
        return sorted(infos, key=lambda i: i.path)

    def walk(self, path: str) -> AsyncIterator[FileInfo]:
        """Yield every file below ``path``; a missing path yields nothing, a file itself.

        Raises:
            PermissionDenied: a directory cannot be listed.
        """
        return walk_tree(self.ls, self.stat, self._norm(path))

    async def _close(self, handle: Any, pending: list[_xrd.Request]) -> None:
        for request in pending:
            await request.settle()
        if handle.is_open():
            try:
                await _xrd.call(handle.close, timeout=self.timeout)
            except XRootDFailure as exc:
                # Closing a file opened for reading changes nothing on the server.
                log.debug("%s: close after read failed: %s", self.name, exc)

    async def _release(self, handle: Any, pending: list[_xrd.Request]) -> None:
        """Close a file that was read; without requests in flight, without waiting.

        Closing a file opened for reading changes nothing on the server, so a
        reader need not wait for the answer: :meth:`close` waits for the
        closes still in flight.
        """
        if pending or not handle.is_open():
            await asyncio.shield(self._close(handle, pending))
            return
        try:
            request = _xrd.submit(handle.close, timeout=self.timeout)
        except XRootDFailure as exc:
            log.debug("%s: close after read failed: %s", self.name, exc)
            return
        self._closing.add(request.done)
        request.done.add_done_callback(self._closing.discard)

    async def open_read(
        self, path: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream ``path`` with up to ``parallel`` range requests in flight.

        The file is opened and its first block asked for in one chain, before
        the size is known: a file smaller than ``chunk_size`` wakes the event
        loop once.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a directory.
            InvalidArgument: ``offset`` or ``length`` is negative.
        """
        if offset < 0 or (length is not None and length < 0):
            raise InvalidArgument(f"invalid range offset={offset} length={length}")
        norm = self._norm(path)
        stop = None if length is None else offset + length
        want = self.chunk_size if stop is None else min(self.chunk_size, stop - offset)
        handle = _xrd.new_file()
        with self._errors(norm, "read"):  # no await in the exit: a plain ``with`` is cheaper
            data, end = await self._read_head(handle, norm, offset, want, stop)
        if end <= offset + len(data):
            if handle.is_open():  # a full block that was the whole file
                self._close_soon(handle)
            if data:
                yield data
            return
        pos = offset + len(data)
        pending: list[_xrd.Request] = []
        try:
            async with self._errors(norm, "read"):
                yield data
                while pos < end or pending:
                    while pos < end and len(pending) < self.parallel:
                        n = min(self.chunk_size, end - pos)
                        pending.append(_xrd.submit(handle.read, pos, n, timeout=self.timeout))
                        pos += n
                    data = await pending[0].result()
                    pending.pop(0)
                    if data:
                        yield data
        finally:
            await self._release(handle, pending)

    async def _read_head(
        self, handle: Any, norm: str, offset: int, want: int, stop: int | None
    ) -> tuple[bytes, int]:
        """Open ``handle`` and read its first block: ``(data, end)``.

        ``end`` is where the reading ends. Unless a full block was read that
        may not be the end, the client's thread starts closing ``handle``
        (without waiting, see :meth:`close`) as soon as the answer arrives.
        """
        steps = [_xrd.Step(handle.open, (self._file_url(norm), OpenFlags.READ))]
        if want:
            steps.append(_xrd.Step(handle.read, (offset, want)))
        # A short read is the end of the file; a full one may not be.
        final = not want or (stop is not None and offset + want >= stop)

        def close_unless_more(end: _xrd.ChainEnd) -> None:
            if end.completed < len(steps) or final or len(end.response) < want:
                self._close_soon(handle)

        chain = _xrd.Chain(steps, self.timeout, close_unless_more).start()
        try:
            end = await chain.wait()
        except asyncio.CancelledError:
            chain.stop = True
            chain.done.add_done_callback(lambda _: self._close_soon(handle))
            raise
        if end.error is not None:
            raise end.error
        data: bytes = end.response if want else b""
        pos = offset + len(data)
        if not final and len(data) == want:
            try:
                size = await self._size(handle)
            except BaseException:
                self._close_soon(handle)
                raise
            pos = max(pos, size if stop is None else min(size, stop))
        return data, pos

    def _close_soon(self, handle: Any) -> None:
        """Close a file that was read, without waiting (:meth:`close` waits); any thread."""
        done = _xrd.start_close(handle, self.timeout)
        if done is not None:
            self._closing_sync.add(done)
            done.add_done_callback(self._closing_sync.discard)

    async def read_range(self, path: str, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes of ``path`` from ``offset``.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a directory.
            InvalidArgument: ``offset`` or ``length`` is negative.
        """
        if offset < 0 or length < 0:
            raise InvalidArgument(f"invalid range offset={offset} length={length}")
        norm = self._norm(path)
        handle = _xrd.new_file()
        try:
            async with self._errors(norm, "read"):
                await _xrd.call(
                    handle.open, self._file_url(norm), OpenFlags.READ, timeout=self.timeout
                )
                if length == 0:
                    return b""
                size = await self._size(handle)
                n = max(0, min(length, size - offset))
                if n == 0:
                    return b""
                data: bytes = await _xrd.call(handle.read, offset, n, timeout=self.timeout)
                return data
        finally:
            self._close_soon(handle)

    async def _size(self, handle: Any) -> int:
        # Answered from the open's own reply (kXR_retstat): no round trip.
        stat = await _xrd.call(handle.stat, timeout=self.timeout)
        return int(stat["size"])

    # ------------------------------------------------------------ writing

    async def put(
        self,
        src: AsyncIterable[bytes],
        path: str,
        *,
        size: int | None = None,
        overwrite: bool = False,
        callback: Callback | None = None,
    ) -> FileInfo:
        """Write ``src`` to a temporary name next to ``path``, then move it into place.

        A stream that ends within ``chunk_size`` bytes is sent as one chain of
        requests (open, write, close, mv); a longer one is streamed.

        Raises:
            AlreadyExists: ``path`` exists and ``overwrite`` is false.
            IsADirectory: ``path`` is a directory.
            SizeMismatch: ``size`` was given and the stream had another length.
            SEUnavailable, SETimeout: the server failed (the put left nothing).
        """
        norm = self._norm(path)
        cb = callback or DEFAULT_CALLBACK
        if size is not None:
            cb.set_size(size)
        with self._errors(norm, "put"):
            if norm == "/":
                raise IsADirectory(f"put {self.pfn(norm)}: is the SE root")
            if not overwrite and size is not None and size > self.chunk_size:
                # Fail before sending a large file; small ones are only checked
                # at the commit, which must look anyway (mv replaces).
                await self._check_target(norm)
        stream = aiter(src)
        head, total, ended = await read_head(
            stream, self.chunk_size, size=size, pfn=self._pfn(norm), callback=cb
        )
        if ended:
            with self._errors(norm, "put"):
                await self._put_small(b"".join(head), norm, overwrite)
            return FileInfo(path=norm, size=total)
        if not overwrite and size is None:
            async with self._errors(norm, "put"):
                await self._check_target(norm)
        return await self._put_stream(stream, head, norm, size, overwrite, cb)

    async def _put_stream(
        self,
        stream: AsyncIterator[bytes],
        head: list[bytes],
        norm: str,
        size: int | None,
        overwrite: bool,
        cb: Callback,
    ) -> FileInfo:
        """Stream a large file: open the temporary name, write in parallel, close, mv."""
        tmp = temp_path(norm)
        writer = _Writer(_xrd.new_file(), self.chunk_size, self.parallel, self.timeout)
        async with self._errors(norm, "put"):
            await _xrd.call(
                writer.handle.open,
                self._file_url(tmp),
                OpenFlags.NEW | OpenFlags.MAKEPATH,
                _FILE_MODE,
                timeout=self.timeout,
            )
        try:
            total = await self._pump(stream, head, writer, size, norm, cb)
            async with self._errors(norm, "put"):
                await writer.close()
                await self._commit(tmp, norm, overwrite)
        except BaseException:
            await asyncio.shield(self._abort(writer, tmp))
            raise
        return FileInfo(path=norm, size=total)

    async def _put_small(self, data: bytes, norm: str, overwrite: bool) -> None:
        """Send a whole small file as one :class:`~dfc.se._xrd.Chain`: one loop wakeup.

        Open a temporary name, write, close, (without ``overwrite``, stat the
        target, which must be missing), mv. A cancelled caller stops the chain
        before its next request, and what was done is undone.
        """
        tmp = temp_path(norm)
        handle = _xrd.new_file()
        steps = [
            _xrd.Step(
                handle.open, (self._file_url(tmp), OpenFlags.NEW | OpenFlags.MAKEPATH, _FILE_MODE)
            )
        ]
        if data:
            steps.append(_xrd.Step(handle.write, (data, 0, len(data))))
        steps.append(_xrd.Step(handle.close))
        if not overwrite:
            # XRootD's mv replaces an existing file: check first (a narrow race).
            steps.append(_xrd.Step(self._fs.stat, (self._fspath(norm),), until_missing=True))
        steps.append(_xrd.Step(self._fs.mv, (self._fspath(tmp), self._fspath(norm))))
        chain = _xrd.Chain(steps, self.timeout).start()
        try:
            end = await chain.wait()
        except asyncio.CancelledError:
            chain.stop = True
            await asyncio.shield(self._settle_small(chain, len(steps), handle, tmp, norm))
            raise
        if end.completed == len(steps):
            return
        await asyncio.shield(self._abort_small(handle, tmp, end.completed))
        if end.error is not None:
            raise end.error
        raise self._target_error(norm, end.response)

    async def _settle_small(
        self, chain: _xrd.Chain, steps: int, handle: Any, tmp: str, norm: str
    ) -> None:
        """After a cancellation: wait for the chain, then leave nothing behind."""
        end = await chain.done
        if end.completed < steps:
            await self._abort_small(handle, tmp, end.completed)
            return
        # The move went through before the chain saw the stop: undo the put.
        try:
            await _xrd.call(self._fs.rm, self._fspath(norm), timeout=self.timeout)
        except XRootDFailure as exc:
            log.warning(
                "%s: could not remove the cancelled put %s: %s", self.name, self.pfn(norm), exc
            )

    async def _abort_small(self, handle: Any, tmp: str, completed: int) -> None:
        """Drop a small upload whose chain ended after ``completed`` steps."""
        if completed == 0:  # the open failed: nothing was created
            return
        writer = _Writer(handle, self.chunk_size, self.parallel, self.timeout)
        await self._abort(writer, tmp)

    def _target_error(self, norm: str, stat: Any) -> DFCError:
        if _is_dir(stat):
            return IsADirectory(f"put {self.pfn(norm)}: is a directory")
        return AlreadyExists(f"put {self.pfn(norm)}: file exists")

    async def _check_target(self, norm: str) -> None:
        """Refuse to put onto an existing file or directory (the no-overwrite case)."""
        stat = await self._exists(norm)
        if stat is not None:
            raise self._target_error(norm, stat)

    async def _pump(
        self,
        src: AsyncIterator[bytes],
        head: list[bytes],
        writer: _Writer,
        size: int | None,
        norm: str,
        cb: Callback,
    ) -> int:
        async def write(data: bytes) -> None:
            async with self._errors(norm, "put"):
                await writer.write(data)

        return await pump(
            src,
            write,
            size=size,
            chunk_size=self.chunk_size,
            pfn=self.pfn(norm),
            callback=cb,
            head=head,
        )

    async def _commit(self, tmp: str, norm: str, overwrite: bool) -> None:
        # XRootD's mv replaces an existing file: check first (a narrow race). A
        # directory in the way makes mv itself fail (kXR_isDirectory).
        if not overwrite:
            await self._check_target(norm)
        await self._mv(tmp, norm)

    async def _abort(self, writer: _Writer, tmp: str) -> None:
        """Drop a failed upload; its own failures must not hide the first error."""
        await writer.abort()
        try:
            await _xrd.call(self._fs.rm, self._fspath(tmp), timeout=self.timeout)
        except XRootDFailure as exc:
            if not _xrd.is_missing(exc):
                log.warning(
                    "%s: could not remove the partial upload %s: %s",
                    self.name,
                    self.pfn(tmp),
                    exc,
                )

    # ------------------------------------------------------------ namespace

    async def rename(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        """Move ``src`` to ``dst`` (creating ``dst``'s parents).

        Raises:
            PFNNotFound: ``src`` does not exist.
            AlreadyExists: ``dst`` exists and ``overwrite`` is false.
            InvalidArgument: ``src`` or ``dst`` is the SE root.
        """
        snorm, dnorm = self._norm(src), self._norm(dst)
        if "/" in (snorm, dnorm):
            raise InvalidArgument(f"rename {self.pfn(snorm)}: cannot move the SE root")
        async with self._errors(snorm, "rename"):
            if not overwrite and await self._exists(dnorm) is not None:
                raise AlreadyExists(f"rename {self.pfn(dnorm)}: file exists")
            try:
                await self._mv(snorm, dnorm)
            except XRootDFailure as exc:
                # Missing source or missing destination directory? xrootd makes
                # the parents itself, other servers (dCache, EOS) may not.
                if not _xrd.is_missing(exc):
                    raise
                await self._stat(snorm)
                await self._mkdir(parent(dnorm))
                await self._mv(snorm, dnorm)

    async def _mv(self, snorm: str, dnorm: str) -> None:
        await _xrd.call(self._fs.mv, self._fspath(snorm), self._fspath(dnorm), timeout=self.timeout)

    async def rm(self, path: str) -> None:
        """Remove the file ``path``.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a directory.
        """
        norm = self._norm(path)
        async with self._errors(norm, "rm"):
            try:
                await _xrd.call(self._fs.rm, self._fspath(norm), timeout=self.timeout)
            except XRootDFailure as exc:
                if exc.server_errno == _FS_ERROR:
                    stat = await self._exists(norm)
                    if stat is not None and _is_dir(stat):
                        raise IsADirectory(f"rm {self.pfn(norm)}: is a directory") from exc
                raise

    async def _mkdir(self, norm: str) -> None:
        await _xrd.call(
            self._fs.mkdir,
            self._fspath(norm),
            MkDirFlags.MAKEPATH,
            _DIR_MODE,
            timeout=self.timeout,
        )

    async def mkdir(self, path: str) -> None:
        """Create directory ``path`` and its parents; an existing one is fine.

        Raises:
            AlreadyExists: a file is in the way.
        """
        norm = self._norm(path)
        async with self._errors(norm, "mkdir"):
            await self._mkdir(norm)

    async def rmdir(self, path: str) -> None:
        """Remove the empty directory ``path``.

        Raises:
            PFNNotFound: the directory does not exist.
            DirectoryNotEmpty: it still holds entries.
            NotADirectory: ``path`` is a file.
            InvalidArgument: ``path`` is the SE root.
        """
        norm = self._norm(path)
        if norm == "/":
            raise InvalidArgument(f"rmdir {self.pfn(norm)}: cannot remove the SE root")
        async with self._errors(norm, "rmdir"):
            # xrootd 5.5 reports success for a missing directory: look first.
            if not _is_dir(await self._stat(norm)):
                raise NotADirectory(f"rmdir {self.pfn(norm)}: not a directory")
            await _xrd.call(self._fs.rmdir, self._fspath(norm), timeout=self.timeout)

    # ------------------------------------------------------------ capabilities

    async def checksum(self, path: str, algo: str) -> str | None:
        """Ask the server for the ``algo`` checksum of ``path`` (``query checksum``).

        At most :data:`CHECKSUMS_IN_FLIGHT` such queries per server are in
        flight from one event loop; the others wait their turn here. Returns
        ``None`` when the server does not compute ``algo``.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a directory.
        """
        norm = self._norm(path)
        algo = algo.lower()
        async with self._errors(norm, "checksum"):
            # xrootd 5.5 often never answers a checksum query on a directory
            # (the request then expires): look before asking.
            if _is_dir(await self._stat(norm)):
                raise IsADirectory(f"checksum {self.pfn(norm)}: is a directory")
            try:
                async with _checksum_slot(self.host):
                    answer = await _xrd.call(
                        self._fs.query,
                        QueryCode.CHECKSUM,
                        f"{self._fspath(norm)}?cks.type={algo}",
                        timeout=self.timeout,
                    )
            except XRootDFailure as exc:
                if exc.server_errno in _UNSUPPORTED or exc.code == _QUERY_NOT_SUPPORTED:
                    return None
                raise
        name, _, value = bytes(answer).rstrip(b"\x00").decode("ascii", "replace").partition(" ")
        if name.strip().lower() != algo or not value.strip():
            return None
        value = value.strip().lower()
        return normalize_adler32(value) if algo == "adler32" else value

    async def close(self) -> None:
        """Wait for the closes of read files still in flight (the client owns the connections)."""
        loop = asyncio.get_running_loop()
        # Requests started on another (maybe finished) event loop cannot be awaited here.
        mine: list[asyncio.Future[Any]] = [f for f in self._closing if f.get_loop() is loop]
        self._closing.clear()
        mine += [asyncio.wrap_future(f) for f in list(self._closing_sync)]
        self._closing_sync.clear()
        if mine:
            await asyncio.wait(mine)


class _Writer:
    """Writes one XRootD file at increasing offsets, ``parallel`` requests in flight."""

    def __init__(self, handle: Any, block: int, parallel: int, timeout: int) -> None:
        self.handle = handle
        self._block = block
        self._parallel = parallel
        self._timeout = timeout
        self._offset = 0
        self._pending: list[_xrd.Request] = []

    async def write(self, data: bytes) -> None:
        for start in range(0, len(data), self._block):
            piece = data[start : start + self._block] if len(data) > self._block else data
            self._pending.append(
                _xrd.submit(
                    self.handle.write, piece, self._offset, len(piece), timeout=self._timeout
                )
            )
            self._offset += len(piece)
            while len(self._pending) >= self._parallel:
                await self._pending[0].result()
                self._pending.pop(0)

    async def close(self) -> None:
        while self._pending:
            await self._pending[0].result()
            self._pending.pop(0)
        await _xrd.call(self.handle.close, timeout=self._timeout)

    async def abort(self) -> None:
        pending, self._pending = self._pending, []
        for request in pending:
            await request.settle()
        if self.handle.is_open():
            try:
                await _xrd.call(self.handle.close, timeout=self._timeout)
            except XRootDFailure as exc:
                log.debug("closing an aborted upload failed: %s", exc)
