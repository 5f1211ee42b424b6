"""``file://`` storage elements: a directory of this machine, at ``cp`` speed.

:class:`LocalSE` talks to the operating system directly (no fsspec layer):
large buffers gathered into one ``writev`` per few MiB, blocking calls in a
dedicated thread pool so the event loop never waits on the disk, reads with one
chunk of read-ahead, one ``fsync`` per file (not per chunk), and an atomic
rename into place. A copy between a local file and the SE (:meth:`LocalSE.put_from`,
:meth:`LocalSE.get_into`) reads and hashes in one thread while a second one writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import stat as _stat
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from dfc.errors import (
    ConfigError,
    InvalidArgument,
    IsADirectory,
    NotFound,
    SEUnavailable,
    SizeMismatch,
)
from dfc.models import FileInfo
from dfc.se import _localio
from dfc.se._errors import redact, translate_errors
from dfc.se._paths import normalize, temp_path
from dfc.se._serial import SerialRunner

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Mapping

    from fsspec.callbacks import Callback

    from dfc.checksum import Hasher
    from dfc.models import SEInfo

__all__ = ["LocalSE"]

T = TypeVar("T")

MiB = 1024 * 1024
_CHECKSUM_ALGOS = ("adler32", "xxh3")


def _root_from_url(url: str) -> str:
    if url.startswith("file://"):
        rest = url[len("file://") :]
        if rest.startswith("localhost/"):
            rest = rest[len("localhost") :]
    elif "://" in url:
        raise InvalidArgument(f"not a file:// URL: {redact(url)}")
    else:
        rest = url
    if not rest.startswith("/"):
        raise InvalidArgument(f"file:// SE URL must name an absolute path: {redact(url)}")
    return os.path.normpath(rest)


async def _finish(job: asyncio.Future[T], stop: threading.Event) -> T:
    """Await a :func:`_localio.copy_hashed` job; if cancelled, stop it and wait until it ended.

    The job uses its caller's callables (a file of theirs): it must be over
    when this returns or raises, whatever happens, so a repeated cancellation
    while it winds down (within one buffer) is absorbed and re-raised at the end.
    """
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        stop.set()
        while not job.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([job])
        if not job.cancelled():
            job.exception()  # retrieved: the cancellation is what propagates
        raise


def _silence(future: asyncio.Future[Any] | None) -> None:
    """Drop a read-ahead/write-behind future whose result nobody will collect."""
    if future is not None:
        future.cancel()
        # Its error, if any, is secondary to the one being raised: fetch it so
        # asyncio does not log "exception was never retrieved".
        future.add_done_callback(lambda f: f.cancelled() or f.exception())


class LocalSE:
    """A storage element in a local (or locally mounted) directory.

    Args:
        name: the SE name.
        url: ``file:///absolute/root`` (or the absolute path itself).
        chunk_size: bytes per disk write and per read chunk.
        fsync: flush each file to disk before renaming it into place.
        max_workers: threads of the SE's I/O pool.

    Raises:
        InvalidArgument: ``url`` is not a ``file://`` URL of an absolute path.
    """

    remote_checksum = False

    def __init__(
        self,
        name: str,
        url: str,
        *,
        chunk_size: int = 8 * MiB,
        fsync: bool = True,
        max_workers: int = 8,
    ) -> None:
        self.name = name
        self.root = _root_from_url(url)
        self.url = "file://" + self.root
        self.chunk_size = chunk_size
        self.fsync = fsync
        self._max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None

    @classmethod
    def from_info(cls, info: SEInfo, options: Mapping[str, Any] | None = None) -> LocalSE:
        """Build from a catalogue SE record and local options.

        Options: ``chunk_size`` (bytes, int), ``fsync`` (bool), ``max_workers`` (int).

        Raises:
            ConfigError: an option is unknown or has the wrong type.
            InvalidArgument: the URL is not a ``file://`` URL of an absolute path.
        """
        opts = dict(options or {})
        kwargs: dict[str, Any] = {}
        for key, kind in (("chunk_size", int), ("fsync", bool), ("max_workers", int)):
            if key in opts:
                value = opts.pop(key)
                if not isinstance(value, kind) or (kind is int and value < 1):
                    raise ConfigError(f"SE {info.name}: option {key!r} must be a {kind.__name__}")
                kwargs[key] = value
        if opts:
            raise ConfigError(f"SE {info.name}: unknown option(s) {', '.join(sorted(opts))}")
        return cls(info.name, info.url, **kwargs)

    def __repr__(self) -> str:
        return f"LocalSE({self.name!r}, {self.url!r})"

    # ------------------------------------------------------------ helpers

    def pfn(self, path: str) -> str:
        """Return ``file://<root><path>``.

        Raises:
            InvalidArgument: ``path`` escapes the SE root.
        """
        return self.url.rstrip("/") + normalize(path)

    def _local(self, path: str) -> tuple[str, str]:
        norm = normalize(path)
        return norm, self.root if norm == "/" else self.root.rstrip("/") + norm

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._max_workers, thread_name_prefix=f"dfc-se-{self.name}"
            )
        return self._executor

    def _root_missing(self) -> SEUnavailable:
        return SEUnavailable(
            f"SE {self.name}: root directory {self.root} does not exist (not mounted?)"
        )

    @contextlib.contextmanager
    def _errors(self, norm: str, op: str) -> Iterator[None]:
        try:
            with translate_errors(self.url.rstrip("/") + norm, op):
                yield
        except NotFound as exc:
            if not os.path.isdir(self.root):
                raise self._root_missing() from exc
            raise

    def _require_root(self) -> None:
        if not os.path.isdir(self.root):
            raise self._root_missing()

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.wrap_future(self._pool().submit(fn, *args))

    # ------------------------------------------------------------ reading

    async def stat(self, path: str) -> FileInfo:
        """Return size, type and mtime of ``path``.

        Raises:
            PFNNotFound: nothing exists at ``path``.
            SEUnavailable: the SE root directory is missing.
        """
        norm, local = self._local(path)
        with self._errors(norm, "stat"):
            st: os.stat_result = await self._run(os.stat, local)
        is_dir = _stat.S_ISDIR(st.st_mode)
        return FileInfo(
            path=norm,
            size=0 if is_dir else st.st_size,
            type="directory" if is_dir else "file",
            mtime=st.st_mtime,
        )

    async def ls(self, path: str) -> list[FileInfo]:
        """List directory ``path``, sorted by name.

        Raises:
            PFNNotFound: the directory does not exist.
            NotADirectory: ``path`` is a file.
        """
        norm, local = self._local(path)
        with self._errors(norm, "ls"):
            rows: list[tuple[str, bool, int, float]] = await self._run(_localio.list_dir, local)
        base = norm.rstrip("/")
        return [
            FileInfo(
                path=f"{base}/{name}",
                size=size,
                type="directory" if is_dir else "file",
                mtime=mtime,
            )
            for name, is_dir, size, mtime in rows
        ]

    async def walk(self, path: str) -> AsyncIterator[FileInfo]:
        """Yield every file below ``path`` (depth first, sorted), one directory at a time.

        A missing ``path`` yields nothing; a file yields itself.

        Raises:
            PermissionDenied: a directory cannot be read.
        """
        norm, local = self._local(path)
        stack = [(norm, local)]
        while stack:
            dnorm, dlocal = stack.pop()
            try:
                with self._errors(dnorm, "walk"):
                    files, dirs = await self._run(_localio.scan_level, dlocal)
            except NotFound:
                continue
            except NotADirectoryError:
                if dnorm == norm:
                    yield await self.stat(norm)
                continue
            base = dnorm.rstrip("/")
            for name, size, mtime in files:
                yield FileInfo(path=f"{base}/{name}", size=size, mtime=mtime)
            stack.extend((f"{base}/{d}", os.path.join(dlocal, d)) for d in reversed(dirs))

    async def open_read(
        self, path: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream ``path`` in ``chunk_size`` pieces, reading the next one ahead.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a directory.
            InvalidArgument: ``offset`` or ``length`` is negative.
        """
        if offset < 0 or (length is not None and length < 0):
            raise InvalidArgument(f"invalid range offset={offset} length={length}")
        norm, local = self._local(path)
        runner = SerialRunner(self._pool())
        reader = _localio.Reader(local)
        ahead: asyncio.Future[bytes] | None = None
        try:
            with self._errors(norm, "read"):
                size = await runner.run(reader.open, length is None)
                end = size if length is None else min(size, offset + length)
                pos = offset
                if pos < end:
                    ahead = runner.submit(reader.pread, min(self.chunk_size, end - pos), pos)
                while ahead is not None:
                    data = await ahead
                    ahead = None
                    if not data:
                        break
                    pos += len(data)
                    if pos < end:
                        ahead = runner.submit(reader.pread, min(self.chunk_size, end - pos), pos)
                    yield data
        finally:
            _silence(ahead)
            # Runs after the open and any read-ahead, even if we are being cancelled.
            await runner.final(reader.close)

    async def read_range(self, path: str, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes of ``path`` from ``offset``.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a directory.
            InvalidArgument: ``offset`` or ``length`` is negative.
        """
        if offset < 0 or length < 0:
            raise InvalidArgument(f"invalid range offset={offset} length={length}")
        norm, local = self._local(path)
        with self._errors(norm, "read"):
            data: bytes = await self._run(_localio.read_range, local, offset, length)
        return data

    async def checksum(self, path: str, algo: str) -> str | None:
        """Compute ``adler32`` or ``xxh3`` of ``path`` by reading it once (None for others).

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a directory.
        """
        if algo not in _CHECKSUM_ALGOS:
            return None
        norm, local = self._local(path)
        with self._errors(norm, "checksum"):
            value: str = await self._run(_localio.checksum_file, local, algo, self.chunk_size)
        return value

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
        """Write ``src`` to ``path`` via a temporary file renamed into place.

        Raises:
            AlreadyExists: ``path`` exists and ``overwrite`` is false.
            IsADirectory: ``path`` is a directory.
            SizeMismatch: ``size`` was given and the stream had another length.
            NoSpace: the file system is full.
            PermissionDenied: the directory is not writable.
            SEUnavailable: the SE root directory is missing.
        """
        norm, target = self._local(path)
        if norm == "/":
            raise IsADirectory(f"put {self.pfn(norm)}: is the SE root")
        if callback is not None and size is not None:
            callback.set_size(size)
        runner = SerialRunner(self._pool())
        temp = _localio.TempFile(self.root, target, self.root + temp_path(norm))
        # Only storage calls are translated: an error raised by ``src`` (the
        # caller's stream, maybe another SE) propagates unchanged.
        try:
            with self._errors(norm, "put"):
                await runner.run(temp.open, overwrite)
            total = await self._pump(src, runner, temp, size, norm, callback)
            with self._errors(norm, "put"):
                mtime = await runner.run(temp.commit, overwrite, self.fsync)
        except BaseException:
            with self._errors(norm, "put (cleanup)"):
                await runner.final(temp.discard)
            raise
        return FileInfo(path=norm, size=total, mtime=mtime)

    async def _pump(
        self,
        src: AsyncIterable[bytes],
        runner: SerialRunner,
        temp: _localio.TempFile,
        size: int | None,
        norm: str,
        cb: Callback | None,
    ) -> int:
        """Gather chunks into batches and write each while the next one arrives."""
        batch: list[_localio.Chunk] = []
        batched = total = 0
        pending: asyncio.Future[None] | None = None
        try:
            async for chunk in src:
                if not chunk:
                    continue
                # Batches are written later: a mutable buffer must not change meanwhile.
                data = chunk if isinstance(chunk, bytes) else bytes(chunk)
                total += len(data)
                if size is not None and total > size:
                    raise SizeMismatch(
                        f"put {self.pfn(norm)}: stream longer than the expected {size} bytes"
                    )
                batch.append(data)
                batched += len(data)
                if cb is not None:
                    cb.relative_update(len(data))
                if batched >= self.chunk_size or len(batch) >= 256:
                    if pending is not None:
                        with self._errors(norm, "put"):
                            await pending
                    pending = runner.submit(temp.write, batch)
                    batch, batched = [], 0
            with self._errors(norm, "put"):
                if pending is not None:
                    await pending
                pending = None
                if batch:
                    await runner.run(temp.write, batch)
        except BaseException:
            _silence(pending)
            raise
        if size is not None and total != size:
            raise SizeMismatch(f"put {self.pfn(norm)}: stream had {total} bytes, expected {size}")
        return total

    @staticmethod
    def _reporter(progress: Callable[[int], None] | None) -> Callable[[int], None] | None:
        """A progress function for worker threads, calling ``progress`` on the loop."""
        if progress is None:
            return None
        loop = asyncio.get_running_loop()

        def report(n: int) -> None:
            loop.call_soon_threadsafe(progress, n)

        return report

    async def put_from(
        self,
        readinto: Callable[[memoryview], int],
        path: str,
        hasher: Hasher,
        *,
        overwrite: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> FileInfo:
        """Write what ``readinto`` reads to ``path``, feeding ``hasher`` the bytes written.

        :meth:`put` for a source on this machine (a local file): a worker
        thread reads each piece into a buffer and hashes it while a second
        thread writes the previous ones (:func:`~dfc.se._localio.copy_hashed`),
        with no event-loop round trip per chunk. The file is written under a
        temporary name, flushed (``fsync``) and renamed into place as in
        :meth:`put`. ``readinto(view)`` fills ``view`` and returns
        the byte count, 0 at the end; it is not called any more once this
        returns or raises, and its exceptions propagate unchanged.
        ``progress(n)`` is called on the event loop as bytes are copied.

        Raises:
            AlreadyExists: ``path`` exists and ``overwrite`` is false.
            IsADirectory: ``path`` is a directory.
            NoSpace: the file system is full.
            PermissionDenied: the directory is not writable.
            SEUnavailable: the SE root directory is missing.
        """
        norm, target = self._local(path)
        if norm == "/":
            raise IsADirectory(f"put {self.pfn(norm)}: is the SE root")
        runner = SerialRunner(self._pool())
        temp = _localio.TempFile(self.root, target, self.root + temp_path(norm))
        stop = threading.Event()
        report = self._reporter(progress)

        def write() -> tuple[int, float]:
            # One worker call per file (a small file costs its hand-overs, not its bytes).
            temp.open(overwrite)
            total = _localio.copy_hashed(readinto, temp.write_all, hasher, stop, report)
            if stop.is_set():
                raise _localio.Stopped
            return total, temp.commit(overwrite, self.fsync)

        try:
            with self._errors(norm, "put"):
                total, mtime = await _finish(runner.submit(write), stop)
        except BaseException:
            with self._errors(norm, "put (cleanup)"):
                await runner.final(temp.discard)
            raise
        return FileInfo(path=norm, size=total, mtime=mtime)

    async def get_into(
        self,
        path: str,
        write: Callable[[memoryview], None],
        hasher: Hasher,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Read ``path`` to ``write``, feeding ``hasher`` the bytes passed on; return the size.

        :meth:`open_read` for a destination on this machine: a worker thread
        reads and hashes each piece while a second thread calls ``write(view)``
        with the previous ones, in order. ``write`` is not called any more once
        this returns or raises, and its exceptions propagate unchanged.
        ``progress(n)`` is called on the event loop as bytes are copied.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a directory.
        """
        norm, local = self._local(path)
        reader = _localio.Reader(local)
        stop = threading.Event()
        report = self._reporter(progress)

        def read() -> int:
            # One worker call per file (a small file costs its hand-overs, not its bytes).
            try:
                reader.open(True)
                return _localio.copy_hashed(reader.readinto, write, hasher, stop, report)
            finally:
                reader.close()

        with self._errors(norm, "read"):
            return await _finish(asyncio.wrap_future(self._pool().submit(read)), stop)

    async def rename(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        """Move ``src`` to ``dst`` (creating ``dst``'s parents).

        Raises:
            PFNNotFound: ``src`` does not exist.
            AlreadyExists: ``dst`` exists and ``overwrite`` is false.
            InvalidArgument: ``src`` or ``dst`` is the SE root.
        """
        snorm, slocal = self._local(src)
        dnorm, dlocal = self._local(dst)
        if "/" in (snorm, dnorm):
            raise InvalidArgument(f"rename {self.pfn(snorm)}: cannot move the SE root")
        with self._errors(snorm, "rename"):
            await self._run(self._rename_sync, slocal, dlocal, overwrite)

    @staticmethod
    def _rename_sync(slocal: str, dlocal: str, overwrite: bool) -> None:
        os.lstat(slocal)  # a missing source is reported as such, not as a missing parent
        os.makedirs(os.path.dirname(dlocal), exist_ok=True)
        if overwrite:
            os.replace(slocal, dlocal)
        else:
            _localio.move_no_clobber(slocal, dlocal)

    async def rm(self, path: str) -> None:
        """Remove the file ``path``.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a directory.
        """
        norm, local = self._local(path)
        with self._errors(norm, "rm"):
            await self._run(os.unlink, local)

    async def mkdir(self, path: str) -> None:
        """Create directory ``path`` and its parents (``mkdir("/")`` creates the root).

        Raises:
            SEUnavailable: the SE root is missing (and ``path`` is not ``/``).
            AlreadyExists: a file is in the way.
        """
        norm, local = self._local(path)
        if norm != "/":
            self._require_root()
        with self._errors(norm, "mkdir"):
            await self._run(functools.partial(os.makedirs, local, exist_ok=True))

    async def rmdir(self, path: str) -> None:
        """Remove the empty directory ``path``.

        Raises:
            PFNNotFound: the directory does not exist.
            DirectoryNotEmpty: it still holds entries.
            NotADirectory: ``path`` is a file.
            InvalidArgument: ``path`` is the SE root.
        """
        norm, local = self._local(path)
        if norm == "/":
            raise InvalidArgument(f"rmdir {self.pfn(norm)}: cannot remove the SE root")
        with self._errors(norm, "rmdir"):
            await self._run(os.rmdir, local)

    async def close(self) -> None:
        """Stop the I/O threads (running calls finish in the background)."""
        if self._executor is not None:
            executor, self._executor = self._executor, None
            executor.shutdown(wait=False)
