"""Streaming local files in and out, hashing in the same pass.

Reading, hashing and writing overlap: the next chunk is read (and hashed) on a
worker thread while the current one is being written elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import os
from typing import TYPE_CHECKING, TypeVar, cast

from dfc.errors import (
    DFCError,
    IsADirectory,
    NoSpace,
    NotFound,
    PermissionDenied,
    StorageError,
)

if TYPE_CHECKING:
    import io
    from collections.abc import AsyncIterable, AsyncIterator, Callable
    from pathlib import Path

    from dfc._sync import BatchedWorkers
    from dfc.callbacks import Callback
    from dfc.checksum import Hasher

__all__ = ["CHUNK", "local_error", "open_local", "read_local", "write_local"]

CHUNK = 8 << 20

T = TypeVar("T")


def local_error(path: Path | str, exc: OSError) -> DFCError:
    """Translate an OSError about a local path into a one-line DFCError."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, FileNotFoundError):
        return NotFound(f"local file {str(path)!r}: no such file or directory")
    if isinstance(exc, PermissionError):
        return PermissionDenied(f"local file {str(path)!r}: permission denied")
    if isinstance(exc, IsADirectoryError):
        return IsADirectory(f"local path {str(path)!r} is a directory")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return NoSpace(f"local file {str(path)!r}: {reason}")
    if exc.errno == errno.EROFS:
        return PermissionDenied(f"local file {str(path)!r}: {reason}")
    return StorageError(f"local file {str(path)!r}: {reason}")


async def read_local(
    path: Path,
    hasher: Hasher,
    callback: Callback | None = None,
    chunk: int = CHUNK,
    *,
    workers: BatchedWorkers | None = None,
) -> AsyncIterator[bytes]:
    """Yield the bytes of ``path`` in large chunks, feeding ``hasher`` on the way.

    A worker thread opens the file and reads its first chunk in one call; a file
    that ends within that chunk is closed there too (a small file costs one
    hand-over, on ``workers`` if given: many small files at once). Later chunks
    are read ahead while the current one is consumed.

    Raises:
        NotFound, PermissionDenied, StorageError: the file cannot be read.
    """
    loop = asyncio.get_running_loop()

    def read(fh: io.FileIO) -> bytes:
        data = fh.read(chunk) or b""
        if data:
            hasher.update(data)
        return data

    def open_and_read() -> tuple[io.FileIO, bytes, bool]:
        fh = open(path, "rb", buffering=0)  # noqa: SIM115 - the caller's stream closes it
        try:
            data = read(fh)
            ended = len(data) < chunk and not (more := read(fh))
            if not ended and len(data) < chunk:
                data += more  # a short read that was not the end (rare)
            if ended:
                fh.close()
        except BaseException:
            fh.close()
            raise
        return fh, data, ended

    try:
        fh, data, ended = await _run_to_end(loop, open_and_read, workers, _close_opened)
    except OSError as exc:
        raise local_error(path, exc) from None
    pending: asyncio.Future[bytes] | None = None
    try:
        while data:
            if not ended:
                pending = loop.run_in_executor(None, read, fh)
            if callback is not None:
                callback.relative_update(len(data))
            yield data
            if pending is None:
                break
            try:
                data = await pending
            except OSError as exc:
                raise local_error(path, exc) from None
            finally:
                pending = None
    finally:
        if pending is not None:
            # Let the read in flight finish before closing its file.
            await asyncio.wait([pending])
        fh.close()


async def _run_to_end(
    loop: asyncio.AbstractEventLoop,
    fn: Callable[[], T],
    workers: BatchedWorkers | None,
    release: Callable[[T], None] | None = None,
) -> T:
    """Run ``fn`` on ``workers`` (else the loop's default executor) and return its result.

    A cancelled caller waits for the call to end before the cancellation goes
    on, so that what it touches (a file) is complete or absent when the caller
    cleans up; ``release`` then closes what it returned for nobody.

    Raises:
        Exception: what ``fn`` raised.
    """
    if workers is not None:
        job = workers.submit(fn) if release is None else workers.submit_releasing(fn, release)
        try:
            return await job
        except asyncio.CancelledError:
            await workers.settle(job)  # an abandoned result is released by then
            if release is not None and not job.cancelled() and job.exception() is None:
                release(job.result())  # it ended before the cancellation reached us
            raise
    running = loop.run_in_executor(None, fn)
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        await asyncio.wait([running])
        if release is not None and not running.cancelled() and running.exception() is None:
            release(running.result())
        raise


def _close_opened(opened: tuple[io.FileIO, bytes, bool]) -> None:
    opened[0].close()


def _close(fh: io.FileIO) -> None:
    fh.close()


async def open_local(path: Path, mode: str) -> io.FileIO:
    """Open ``path`` unbuffered in a worker thread (opening can block on a busy disk).

    If the caller is cancelled meanwhile, the open is waited for and the file
    closed before the cancellation goes on, so no descriptor leaks and a file
    created here exists by the time the caller cleans up.

    Raises:
        OSError: the file cannot be opened.
    """
    opening = cast("Callable[[], io.FileIO]", functools.partial(open, path, mode, buffering=0))
    return await _run_to_end(asyncio.get_running_loop(), opening, None, _close)


def temp_name(target: Path) -> Path:
    """A hidden temporary name next to ``target``."""
    return target.with_name(f".{target.name}.dfc-part-{os.urandom(4).hex()}")


async def write_local(
    src: AsyncIterable[bytes],
    tmp: Path,
    hasher: Hasher,
    callback: Callback | None = None,
    *,
    workers: BatchedWorkers | None = None,
) -> int:
    """Write the stream to ``tmp`` (a temporary file), hashing it; return its size.

    A stream of one chunk (a small file) is created, written and closed in one
    worker call, on ``workers`` if given (many small files at once), else on
    the loop's default executor; a longer one is written chunk by chunk on a
    worker thread. The caller renames ``tmp`` into place once it verified the
    checksums, and removes it on failure (by then, no worker touches it any more).

    Raises:
        PermissionDenied, StorageError: the file cannot be written.
    """
    loop = asyncio.get_running_loop()
    blocks = aiter(src)
    first = await _next_data(blocks) or b""
    second = await _next_data(blocks) if first else None

    def write(fh: io.FileIO, data: bytes) -> None:
        hasher.update(data)
        view = memoryview(data)
        while view:
            view = view[fh.write(view) :]

    if second is None:

        def write_whole() -> None:
            try:
                with open(tmp, "xb", buffering=0) as fh:
                    try:
                        write(fh, first)
                    except OSError as exc:
                        raise local_error(tmp, exc) from None
            except OSError as exc:  # creating (or closing) it failed
                raise local_error(tmp.parent, exc) from None

        await _run_to_end(loop, write_whole, workers)
        if callback is not None:
            callback.relative_update(len(first))
        return len(first)

    try:
        fh = await open_local(tmp, "xb")
    except OSError as exc:
        raise local_error(tmp.parent, exc) from None
    size = 0

    async def put(data: bytes) -> None:
        nonlocal size
        try:
            await loop.run_in_executor(None, write, fh, data)
        except OSError as exc:
            raise local_error(tmp, exc) from None
        size += len(data)
        if callback is not None:
            callback.relative_update(len(data))

    try:
        await put(first)
        await put(second)
        async for data in blocks:
            await put(data)
    finally:
        fh.close()
    return size


async def _next_data(blocks: AsyncIterator[bytes]) -> bytes | None:
    """The next non-empty block of ``blocks``, None at the end."""
    async for data in blocks:
        if data:
            return data
    return None


def remove_quietly(path: Path) -> None:
    """Remove ``path`` if it exists; a missing file is fine."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
