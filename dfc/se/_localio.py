"""Blocking helpers of :class:`~dfc.se.local.LocalSE`, run in worker threads.

Everything here raises plain ``OSError``; the caller translates.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from typing import TYPE_CHECKING

from dfc.checksum import Hasher

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

__all__ = [
    "COPY_BUFFER",
    "Chunk",
    "Reader",
    "Stopped",
    "TempFile",
    "checksum_file",
    "copy_hashed",
    "list_dir",
    "move_no_clobber",
    "open_for_read",
    "read_range",
    "scan_level",
]

Chunk = bytes | bytearray | memoryview

_NO_HARDLINK = {
    errno.EPERM,
    errno.EOPNOTSUPP,
    errno.ENOTSUP,
    errno.EXDEV,
    errno.EMLINK,
    errno.ENOSYS,
}
_IOV_MAX = 512

#: Bytes per read-hash-write step of :func:`copy_hashed`: small enough that
#: both hashes and the write find the piece still in the CPU cache (1 MiB
#: costs ~15 % less CPU per GiB than 8 MiB here), large enough that system
#: calls do not matter.
COPY_BUFFER = 1 << 20
#: Progress is reported every this many bytes (a wake-up of the event loop each).
_PROGRESS_STEP = 8 << 20


class Stopped(Exception):
    """A :func:`copy_hashed` was asked to stop (its caller was cancelled)."""


def copy_hashed(
    readinto: Callable[[memoryview], int],
    write: Callable[[memoryview], None],
    hasher: Hasher,
    stop: threading.Event,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Copy until ``readinto`` returns 0, hashing each piece; return the byte count.

    One reused buffer: each piece is read into it, fed to ``hasher`` and then
    handed to ``write``, so the checksums are those of the very bytes written.
    Exceptions of ``readinto`` and ``write`` propagate unchanged.

    Raises:
        Stopped: ``stop`` was set.
    """
    view = memoryview(bytearray(COPY_BUFFER))
    total = unreported = 0
    while True:
        if stop.is_set():
            raise Stopped
        n = readinto(view)
        if not n:
            break
        piece = view[:n]
        hasher.update(piece)
        write(piece)
        total += n
        if progress is not None:
            unreported += n
            if unreported >= _PROGRESS_STEP:
                progress(unreported)
                unreported = 0
    if progress is not None and unreported:
        progress(unreported)
    return total


def _exists_error(path: str) -> FileExistsError:
    return FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)


def fsync_dir(path: str) -> None:
    """Flush a directory entry change (a rename) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def move_no_clobber(src: str, dst: str) -> None:
    """Rename ``src`` to ``dst``, failing with EEXIST if ``dst`` exists.

    A hard link is atomic and refuses an existing target; file systems without
    hard links (and directories) fall back to check-then-rename.
    """
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in _NO_HARDLINK:
            raise
        if os.path.lexists(dst):
            raise _exists_error(dst) from None
        os.rename(src, dst)
        return
    os.unlink(src)


class TempFile:
    """A file written under a temporary name and renamed into place on commit.

    Methods are called one at a time, in order, from worker threads.
    """

    __slots__ = ("fd", "target", "tmp")

    def __init__(self, target: str, tmp: str) -> None:
        self.target = target
        self.tmp: str | None = tmp
        self.fd: int | None = None

    def open(self, overwrite: bool) -> None:
        """Create the temporary file (and the target's parents).

        Raises:
            FileExistsError: the target exists and ``overwrite`` is false.
            IsADirectoryError: the target is a directory.
        """
        if os.path.isdir(self.target):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), self.target)
        if not overwrite and os.path.lexists(self.target):
            raise _exists_error(self.target)
        os.makedirs(os.path.dirname(self.target), exist_ok=True)
        assert self.tmp is not None
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)

    def write(self, bufs: list[Chunk]) -> None:
        """Write all of ``bufs`` (at most a few hundred buffers) with ``writev``."""
        assert self.fd is not None
        while bufs:
            n = os.writev(self.fd, bufs[:_IOV_MAX])
            while bufs and n >= len(memoryview(bufs[0])):
                n -= len(memoryview(bufs[0]))
                bufs.pop(0)
            if n:
                bufs[0] = memoryview(bufs[0])[n:]

    def write_all(self, data: memoryview) -> None:
        """Write all of ``data``."""
        assert self.fd is not None
        while data:
            data = data[os.write(self.fd, data) :]

    def commit(self, overwrite: bool, fsync: bool) -> float:
        """Flush, close and rename into place; return the file's mtime.

        Raises:
            FileExistsError: the target appeared meanwhile and ``overwrite`` is false.
        """
        assert self.fd is not None
        assert self.tmp is not None
        if fsync:
            os.fsync(self.fd)
        mtime = os.fstat(self.fd).st_mtime
        os.close(self.fd)
        self.fd = None
        if overwrite:
            os.replace(self.tmp, self.target)
        else:
            move_no_clobber(self.tmp, self.target)
        self.tmp = None
        if fsync:
            fsync_dir(os.path.dirname(self.target))
        return mtime

    def discard(self) -> None:
        """Close and remove the temporary file, whatever state it is in."""
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)
        if self.tmp is not None:
            tmp, self.tmp = self.tmp, None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def open_for_read(path: str, sequential: bool) -> tuple[int, int]:
    """Open a regular file for reading; return ``(fd, size)``.

    Raises:
        IsADirectoryError: ``path`` is a directory.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        if sequential and hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


class Reader:
    """A file opened for positional reads; methods run in order in worker threads."""

    __slots__ = ("fd", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None

    def open(self, sequential: bool) -> int:
        """Open the file and return its size.

        Raises:
            IsADirectoryError: the path is a directory.
        """
        self.fd, size = open_for_read(self.path, sequential)
        return size

    def readinto(self, view: memoryview) -> int:
        """Read the next bytes into ``view``; return how many (0 at the end)."""
        assert self.fd is not None
        return os.readv(self.fd, [view])

    def pread(self, length: int, offset: int) -> bytes:
        """Return up to ``length`` bytes from ``offset``."""
        assert self.fd is not None
        return os.pread(self.fd, length, offset)

    def close(self) -> None:
        """Close the file if it was opened."""
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)


def read_range(path: str, offset: int, length: int) -> bytes:
    """Return up to ``length`` bytes of ``path`` from ``offset``."""
    fd, _ = open_for_read(path, sequential=False)
    try:
        return os.pread(fd, length, offset)
    finally:
        os.close(fd)


def list_dir(path: str) -> list[tuple[str, bool, int, float]]:
    """Return ``(name, is_dir, size, mtime)`` of each entry of ``path``, sorted by name.

    Symbolic links are followed; a dangling one is reported by its own attributes.
    """
    out: list[tuple[str, bool, int, float]] = []
    with os.scandir(path) as entries:
        for entry in entries:
            try:
                st = entry.stat()
            except FileNotFoundError:
                st = entry.stat(follow_symlinks=False)
            is_dir = stat.S_ISDIR(st.st_mode)
            out.append((entry.name, is_dir, 0 if is_dir else st.st_size, st.st_mtime))
    out.sort()
    return out


def checksum_file(path: str, algo: str, chunk_size: int) -> str:
    """Read ``path`` once and return its ``adler32`` or ``xxh3`` (lower-case hex)."""
    hasher = Hasher()
    fd, _ = open_for_read(path, sequential=True)
    try:
        while data := os.read(fd, chunk_size):
            hasher.update(data)
    finally:
        os.close(fd)
    return hasher.xxh3 if algo == "xxh3" else hasher.adler32


def scan_level(path: str) -> tuple[list[tuple[str, int, float]], list[str]]:
    """Return the files ``(name, size, mtime)`` and subdirectory names of ``path``.

    Symbolic links to directories are not descended into (no loops).
    """
    files: list[tuple[str, int, float]] = []
    dirs: list[str] = []
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                dirs.append(entry.name)
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(st.st_mode):
                continue
            files.append((entry.name, st.st_size, st.st_mtime))
    files.sort()
    dirs.sort()
    return files, dirs
