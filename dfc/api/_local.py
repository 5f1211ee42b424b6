"""Streaming local files in and out, hashing in the same pass.

Reading, hashing and writing overlap: the next chunk is read (and hashed) on a
worker thread while the current one is being written elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from typing import TYPE_CHECKING, cast

from dfc.errors import DFCError, IsADirectory, NotFound, PermissionDenied, StorageError

if TYPE_CHECKING:
    import io
    from collections.abc import AsyncIterable, AsyncIterator
    from pathlib import Path

    from dfc.callbacks import Callback
    from dfc.checksum import Hasher

__all__ = ["CHUNK", "local_error", "open_local", "read_local", "write_local"]

CHUNK = 8 << 20


def local_error(path: Path | str, exc: OSError) -> DFCError:
    """Translate an OSError about a local path into a one-line DFCError."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, FileNotFoundError):
        return NotFound(f"local file {str(path)!r}: no such file or directory")
    if isinstance(exc, PermissionError):
        return PermissionDenied(f"local file {str(path)!r}: permission denied")
    if isinstance(exc, IsADirectoryError):
        return IsADirectory(f"local path {str(path)!r} is a directory")
    return StorageError(f"local file {str(path)!r}: {reason}")


async def read_local(
    path: Path, hasher: Hasher, callback: Callback | None = None, chunk: int = CHUNK
) -> AsyncIterator[bytes]:
    """Yield the bytes of ``path`` in large chunks, feeding ``hasher`` on the way.

    Raises:
        NotFound, PermissionDenied, StorageError: the file cannot be read.
    """
    loop = asyncio.get_running_loop()
    try:
        fh = await open_local(path, "rb")
    except OSError as exc:
        raise local_error(path, exc) from None

    def read() -> bytes:
        data = fh.read(chunk)
        if data:
            hasher.update(data)
        return data

    pending: asyncio.Future[bytes] | None = loop.run_in_executor(None, read)
    try:
        while pending is not None:
            try:
                data = await pending
            except OSError as exc:
                pending = None
                raise local_error(path, exc) from None
            if not data:
                pending = None
                break
            pending = loop.run_in_executor(None, read)
            if callback is not None:
                callback.relative_update(len(data))
            yield data
    finally:
        if pending is not None:
            # Let the read in flight finish before closing its file.
            await asyncio.wait([pending])
        fh.close()


async def open_local(path: Path, mode: str) -> io.FileIO:
    """Open ``path`` unbuffered in a worker thread (opening can block on a busy disk).

    If the caller is cancelled meanwhile, the open is waited for and the file
    closed before the cancellation goes on, so no descriptor leaks and a file
    created here exists by the time the caller cleans up.

    Raises:
        OSError: the file cannot be opened.
    """
    opening = asyncio.get_running_loop().run_in_executor(
        None, functools.partial(open, path, mode, buffering=0)
    )
    try:
        return cast("io.FileIO", await asyncio.shield(opening))
    except asyncio.CancelledError:
        await asyncio.wait([opening])
        if not opening.cancelled() and opening.exception() is None:
            opening.result().close()
        raise


def temp_name(target: Path) -> Path:
    """A hidden temporary name next to ``target``."""
    return target.with_name(f".{target.name}.dfc-part-{os.urandom(4).hex()}")


async def write_local(
    src: AsyncIterable[bytes], tmp: Path, hasher: Hasher, callback: Callback | None = None
) -> int:
    """Write the stream to ``tmp`` (a temporary file), hashing it; return its size.

    The caller renames ``tmp`` into place once it verified the checksums, and
    removes it on failure.

    Raises:
        PermissionDenied, StorageError: the file cannot be written.
    """
    loop = asyncio.get_running_loop()
    try:
        fh = await open_local(tmp, "xb")
    except OSError as exc:
        raise local_error(tmp.parent, exc) from None

    def write(data: bytes) -> None:
        hasher.update(data)
        view = memoryview(data)
        while view:
            view = view[fh.write(view) :]

    size = 0
    try:
        async for data in src:
            try:
                await loop.run_in_executor(None, write, data)
            except OSError as exc:
                raise local_error(tmp, exc) from None
            size += len(data)
            if callback is not None:
                callback.relative_update(len(data))
    finally:
        fh.close()
    return size


def remove_quietly(path: Path) -> None:
    """Remove ``path`` if it exists; a missing file is fine."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
