"""A storage element over any fsspec filesystem, by composition.

:class:`FsspecSE` holds an fsspec filesystem instance and maps the
:class:`~dfc.se.base.StorageElement` protocol onto it:

- an async-native filesystem (``fs.async_impl``) is awaited directly through its
  ``_method`` coroutines; create it with ``asynchronous=True`` inside the running
  loop so its sessions belong to that loop;
- a synchronous one (``memory://``, ...) runs in the SE's own thread pool, so the
  event loop never blocks on it.

Writes go to ``.<name>.dfc-part-<hex>`` next to the target and are moved into
place once complete; backends with a better commit (S3 multipart, WebDAV
``MOVE``) override :meth:`FsspecSE._open_writer` and :meth:`FsspecSE._commit`.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from fsspec.callbacks import DEFAULT_CALLBACK

from dfc.errors import (
    AlreadyExists,
    DFCError,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    StorageError,
)
from dfc.models import FileInfo
from dfc.se._errors import translate_errors
from dfc.se._paths import normalize, parent, temp_path
from dfc.se._pump import pump
from dfc.se._serial import SerialRunner

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Callable

    from fsspec.callbacks import Callback

__all__ = ["FsspecSE", "Writer"]

MiB = 1024 * 1024


class Writer(Protocol):
    """A file being written: bytes in, then commit or abort."""

    async def write(self, data: bytes) -> None:
        """Append ``data``."""
        ...

    async def close(self) -> None:
        """Finish the file (all bytes durable at its temporary name)."""
        ...

    async def abort(self) -> None:
        """Give up: release the handle; the caller removes the temporary file."""
        ...


class _ThreadWriter:
    """Writes a synchronous fsspec file in order from worker threads."""

    def __init__(self, runner: SerialRunner, handle: Any) -> None:
        self._runner = runner
        self._handle = handle

    async def write(self, data: bytes) -> None:
        await self._runner.run(self._handle.write, data)

    async def close(self) -> None:
        await self._runner.run(self._handle.close)

    async def abort(self) -> None:
        await self._runner.final(self._discard)

    def _discard(self) -> None:
        discard = getattr(self._handle, "discard", None)
        if callable(discard):
            discard()
        elif not self._handle.closed:
            self._handle.close()


class _AsyncWriter:
    """Writes an fsspec async file (``fs.open_async``)."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    async def write(self, data: bytes) -> None:
        await self._handle.write(data)

    async def close(self) -> None:
        await self._handle.close()

    async def abort(self) -> None:
        if not self._handle.closed:
            await asyncio.shield(self._handle.close())


def _mtime(info: dict[str, Any]) -> float | None:
    for key in ("mtime", "LastModified", "last_modified", "modified", "created"):
        value = info.get(key)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, datetime):
            return value.timestamp()
    return None


class FsspecSE:
    """A storage element over an fsspec filesystem instance.

    Args:
        name: the SE name.
        url: the SE base URL (without credentials), used in PFNs and messages.
        fs: the fsspec filesystem (never shared with other SEs; build it with
            ``skip_instance_cache=True``).
        root: the filesystem path that ``/`` on this SE maps to.
        chunk_size: bytes per read request and per write.
        max_workers: threads for a synchronous filesystem.
    """

    def __init__(
        self,
        name: str,
        url: str,
        fs: Any,
        root: str,
        *,
        chunk_size: int = 8 * MiB,
        max_workers: int = 8,
    ) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.fs = fs
        self.root = root.rstrip("/")
        self.chunk_size = chunk_size
        self._async = bool(getattr(fs, "async_impl", False))
        self._max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.url!r})"

    # ------------------------------------------------------------ helpers

    def pfn(self, path: str) -> str:
        """Return the full URL of ``path`` on this SE.

        Raises:
            InvalidArgument: ``path`` escapes the SE root.
        """
        return self.url + normalize(path)

    def _fspath(self, norm: str) -> str:
        return self.root + norm if norm != "/" else self.root or "/"

    def _se_path(self, fsname: str) -> str:
        name = "/" + fsname.lstrip("/")
        root = "/" + self.root.lstrip("/")
        if root != "/" and (name == root or name.startswith(root + "/")):
            name = name[len(root) :]
        return normalize(name)

    def _errors(self, norm: str, op: str) -> translate_errors:
        return translate_errors(self.url + norm, op)

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._max_workers, thread_name_prefix=f"dfc-se-{self.name}"
            )
        return self._executor

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call fsspec ``method``: its coroutine twin if async, else in a thread."""
        if self._async:
            return await getattr(self.fs, "_" + method)(*args, **kwargs)
        func: Callable[..., Any] = getattr(self.fs, method)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool(), lambda: func(*args, **kwargs))

    async def _info(self, norm: str) -> dict[str, Any]:
        info: dict[str, Any] = await self._call("info", self._fspath(norm))
        return info

    async def _exists(self, norm: str) -> bool:
        try:
            await self._info(norm)
        except FileNotFoundError:
            return False
        return True

    def _file_info(self, info: dict[str, Any], norm: str | None = None) -> FileInfo:
        is_dir = info.get("type") == "directory"
        return FileInfo(
            path=norm or self._se_path(str(info["name"])),
            size=0 if is_dir else int(info.get("size") or 0),
            type="directory" if is_dir else "file",
            mtime=_mtime(info),
        )

    # ------------------------------------------------------------ reading

    async def stat(self, path: str) -> FileInfo:
        """Return size and type of ``path``.

        Raises:
            PFNNotFound: nothing exists at ``path``.
        """
        norm = normalize(path)
        async with self._errors(norm, "stat"):
            return self._file_info(await self._info(norm), norm)

    async def ls(self, path: str) -> list[FileInfo]:
        """List directory ``path``, sorted by path.

        Raises:
            PFNNotFound: the directory does not exist.
            NotADirectory: ``path`` is a file.
        """
        norm = normalize(path)
        async with self._errors(norm, "ls"):
            entries: list[dict[str, Any]] = await self._call("ls", self._fspath(norm), detail=True)
            if (
                len(entries) == 1
                and entries[0].get("type") == "file"
                and self._se_path(str(entries[0]["name"])) == norm
            ):
                raise NotADirectory(f"ls {self.pfn(norm)}: not a directory")
        infos = [self._file_info(e) for e in entries]
        return sorted((i for i in infos if i.path != norm), key=lambda i: i.path)

    async def walk(self, path: str) -> AsyncIterator[FileInfo]:
        """Yield every file below ``path``, listing one directory at a time.

        A missing ``path`` yields nothing; a file yields itself.

        Raises:
            PermissionDenied: a directory cannot be listed.
        """
        norm = normalize(path)
        stack = [norm]
        while stack:
            current = stack.pop()
            try:
                entries = await self.ls(current)
            except NotFound:
                continue
            except NotADirectory:
                if current == norm:
                    yield await self.stat(norm)
                continue
            subdirs = []
            for entry in entries:
                if entry.type == "directory":
                    subdirs.append(entry.path)
                else:
                    yield entry
            stack.extend(reversed(subdirs))

    async def _cat(self, norm: str, start: int, end: int) -> bytes:
        data: bytes = await self._call("cat_file", self._fspath(norm), start=start, end=end)
        return data

    async def open_read(
        self, path: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream ``path`` in ``chunk_size`` range requests, one request ahead.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a directory.
            InvalidArgument: ``offset`` or ``length`` is negative.
        """
        if offset < 0 or (length is not None and length < 0):
            raise InvalidArgument(f"invalid range offset={offset} length={length}")
        norm = normalize(path)
        info = await self.stat(norm)
        if info.type == "directory":
            raise IsADirectory(f"read {self.pfn(norm)}: is a directory")
        end = info.size if length is None else min(info.size, offset + length)
        pos = offset
        ahead: asyncio.Task[bytes] | None = None
        try:
            async with self._errors(norm, "read"):
                if pos < end:
                    ahead = asyncio.ensure_future(
                        self._cat(norm, pos, min(end, pos + self.chunk_size))
                    )
                while ahead is not None:
                    data = await ahead
                    ahead = None
                    if not data:
                        break
                    pos += len(data)
                    if pos < end:
                        ahead = asyncio.ensure_future(
                            self._cat(norm, pos, min(end, pos + self.chunk_size))
                        )
                    yield data
        finally:
            if ahead is not None:
                ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    # The read-ahead's own failure is moot: the stream is closed.
                    await ahead

    async def read_range(self, path: str, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes of ``path`` from ``offset``.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a directory.
            InvalidArgument: ``offset`` or ``length`` is negative.
        """
        if offset < 0 or length < 0:
            raise InvalidArgument(f"invalid range offset={offset} length={length}")
        norm = normalize(path)
        if (await self.stat(norm)).type == "directory":
            raise IsADirectory(f"read {self.pfn(norm)}: is a directory")
        async with self._errors(norm, "read"):
            return await self._cat(norm, offset, offset + length)

    # ------------------------------------------------------------ writing

    async def _open_writer(self, fspath: str) -> Writer:
        """Open ``fspath`` for writing (override for a backend-specific upload)."""
        if not self._async:
            runner = SerialRunner(self._pool())
            handle = await runner.run(self.fs.open, fspath, "wb")
            return _ThreadWriter(runner, handle)
        try:
            handle = await self.fs.open_async(fspath, "wb")
        except NotImplementedError:
            raise StorageError(
                f"put {self.url}: {type(self.fs).__name__} cannot stream writes;"
                " this backend must override _open_writer"
            ) from None
        return _AsyncWriter(handle)

    async def _commit(self, tmp: str, norm: str, overwrite: bool) -> None:
        """Move the complete temporary file into place (override for atomic backends).

        Raises:
            AlreadyExists: the target exists and ``overwrite`` is false.
        """
        if not overwrite and await self._exists(norm):
            raise AlreadyExists(f"put {self.pfn(norm)}: file exists")
        await self._call("mv", self._fspath(tmp), self._fspath(norm))

    async def _discard(self, tmp: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await self._call("rm_file", self._fspath(tmp))

    async def put(
        self,
        src: AsyncIterable[bytes],
        path: str,
        *,
        size: int | None = None,
        overwrite: bool = False,
        callback: Callback | None = None,
    ) -> FileInfo:
        """Write ``src`` to ``path`` via a temporary name moved into place.

        Raises:
            AlreadyExists: ``path`` exists and ``overwrite`` is false.
            IsADirectory: ``path`` is a directory.
            SizeMismatch: ``size`` was given and the stream had another length.
        """
        norm = normalize(path)
        cb = callback or DEFAULT_CALLBACK
        if size is not None:
            cb.set_size(size)
        tmp = temp_path(norm)
        async with self._errors(norm, "put"):
            await self._check_target(norm, overwrite)
            await self._call("makedirs", self._fspath(parent(norm)), exist_ok=True)
            writer = await self._open_writer(self._fspath(tmp))
        # Only storage calls are translated: an error raised by ``src`` (the
        # caller's stream, maybe another SE) propagates unchanged.
        try:
            total = await self._pump(src, writer, size, norm, cb)
            async with self._errors(norm, "put"):
                await writer.close()
                await self._commit(tmp, norm, overwrite)
        except BaseException:
            # A failed clean-up must not hide why the put failed: the leftover
            # temporary file is dark data that `dfc check` reports.
            with contextlib.suppress(DFCError):
                async with self._errors(norm, "put (cleanup)"):
                    await writer.abort()
                    await asyncio.shield(self._discard(tmp))
            raise
        return FileInfo(path=norm, size=total)

    async def _check_target(self, norm: str, overwrite: bool) -> None:
        if norm == "/":
            raise IsADirectory(f"put {self.pfn(norm)}: is the SE root")
        try:
            info = await self._info(norm)
        except FileNotFoundError:
            return
        if info.get("type") == "directory":
            raise IsADirectory(f"put {self.pfn(norm)}: is a directory")
        if not overwrite:
            raise AlreadyExists(f"put {self.pfn(norm)}: file exists")

    async def _pump(
        self,
        src: AsyncIterable[bytes],
        writer: Writer,
        size: int | None,
        norm: str,
        cb: Callback,
    ) -> int:
        async def write(data: bytes) -> None:
            async with self._errors(norm, "put"):
                await writer.write(data)

        return await pump(
            src, write, size=size, chunk_size=self.chunk_size, pfn=self.pfn(norm), callback=cb
        )

    async def rename(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        """Move ``src`` to ``dst`` (creating ``dst``'s parents).

        Raises:
            PFNNotFound: ``src`` does not exist.
            AlreadyExists: ``dst`` exists and ``overwrite`` is false.
            InvalidArgument: ``src`` or ``dst`` is the SE root.
        """
        snorm, dnorm = normalize(src), normalize(dst)
        if "/" in (snorm, dnorm):
            raise InvalidArgument(f"rename {self.pfn(snorm)}: cannot move the SE root")
        async with self._errors(snorm, "rename"):
            await self._info(snorm)
            if not overwrite and await self._exists(dnorm):
                raise AlreadyExists(f"rename {self.pfn(dnorm)}: file exists")
            await self._call("makedirs", self._fspath(parent(dnorm)), exist_ok=True)
            await self._call("mv", self._fspath(snorm), self._fspath(dnorm))

    async def rm(self, path: str) -> None:
        """Remove the file ``path``.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a directory.
        """
        norm = normalize(path)
        async with self._errors(norm, "rm"):
            if (await self._info(norm)).get("type") == "directory":
                raise IsADirectory(f"rm {self.pfn(norm)}: is a directory")
            await self._call("rm_file", self._fspath(norm))

    async def mkdir(self, path: str) -> None:
        """Create directory ``path`` and its parents; an existing one is fine.

        Raises:
            AlreadyExists: a file is in the way.
        """
        norm = normalize(path)
        async with self._errors(norm, "mkdir"):
            await self._call("makedirs", self._fspath(norm), exist_ok=True)

    async def rmdir(self, path: str) -> None:
        """Remove the empty directory ``path``.

        Raises:
            PFNNotFound: the directory does not exist.
            DirectoryNotEmpty: it still holds entries.
            NotADirectory: ``path`` is a file.
            InvalidArgument: ``path`` is the SE root.
        """
        norm = normalize(path)
        if norm == "/":
            raise InvalidArgument(f"rmdir {self.pfn(norm)}: cannot remove the SE root")
        async with self._errors(norm, "rmdir"):
            if (await self._info(norm)).get("type") != "directory":
                raise NotADirectory(f"rmdir {self.pfn(norm)}: not a directory")
            await self._call("rmdir", self._fspath(norm))

    async def close(self) -> None:
        """Stop the SE's worker threads (running calls finish in the background)."""
        if self._executor is not None:
            executor, self._executor = self._executor, None
            executor.shutdown(wait=False)
