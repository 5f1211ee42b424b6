"""Blocking helpers of :class:`~dfc.se.local.LocalSE`, run in worker threads.

Everything here raises plain ``OSError``; the caller translates.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import stat
import threading
from typing import TYPE_CHECKING, cast

from dfc.checksum import Hasher

if TYPE_CHECKING:
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
#: both hashes and the write find the piece still in the CPU caches (1 MiB
#: costs ~15 % less CPU per GiB than 8 MiB here), large enough that system
#: calls and the hand-over between threads do not matter.
COPY_BUFFER = 1 << 20
#: Buffers of :func:`copy_hashed` going round between its reading and writing
#: threads (256 KiB x 8 to 2 MiB x 4 measured alike; 4 MiB in flight in all).
_WRITE_BEHIND = 4
#: Progress is reported every this many bytes (a wake-up of the event loop each).
_PROGRESS_STEP = 8 << 20
#: Copy buffers kept between copies, in all (16 MiB).
_KEPT_BUFFERS = 16


class _BufferPool:
    """:data:`COPY_BUFFER`-sized buffers kept for the next copies.

    A new buffer is zeroed by the allocator (and its pages faulted in), which
    costs more than copying a small file: a put or get of thousands of small
    files would spend a tenth of its CPU on it. A buffer is given back only
    when nothing uses it any more.
    """

    __slots__ = ("_free", "_keep", "_lock")

    def __init__(self, keep: int) -> None:
        self._free: list[bytearray] = []
        self._keep = keep
        self._lock = threading.Lock()

    def take(self) -> memoryview:
        """A buffer of :data:`COPY_BUFFER` bytes (of unspecified content)."""
        with self._lock:
            if self._free:
                return memoryview(self._free.pop())
        return memoryview(bytearray(COPY_BUFFER))

    def give(self, bufs: list[memoryview]) -> None:
        """Keep the buffers of ``bufs`` for later (as many as there is room for)."""
        kept = [cast("bytearray", view.obj) for view in bufs]
        with self._lock:
            self._free.extend(kept[: self._keep - len(self._free)])


_buffers = _BufferPool(_KEPT_BUFFERS)


class Stopped(Exception):
    """A :func:`copy_hashed` was asked to stop (its caller was cancelled)."""


class _WriteBehind:
    """Writes the pieces :func:`copy_hashed` read and hashed, in a second thread, in order.

    Buffers go round: the reading thread takes a free one, fills and hashes it
    and queues it; this thread writes it and frees it again. A buffer is never
    refilled before its write returned, so what was hashed is what was written.
    """

    __slots__ = (
        "_free",
        "_full",
        "_halt",
        "_progress",
        "_skipped",
        "_stop",
        "_thread",
        "_write",
        "error",
    )

    def __init__(
        self,
        write: Callable[[memoryview], None],
        stop: threading.Event,
        progress: Callable[[int], None] | None,
    ) -> None:
        self._write = write
        self._stop = stop
        self._progress = progress
        self._full: queue.SimpleQueue[tuple[memoryview, int] | None] = queue.SimpleQueue()
        self._free: queue.SimpleQueue[memoryview | None] = queue.SimpleQueue()
        self._halt = False
        self._skipped = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="dfc-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        unreported = 0
        try:
            while (item := self._full.get()) is not None:
                buf, n = item
                if self._halt or self._stop.is_set():
                    self._skipped = True
                else:
                    self._write(buf[:n])
                    unreported += n
                    if self._progress is not None and unreported >= _PROGRESS_STEP:
                        self._progress(unreported)
                        unreported = 0
                self._free.put(buf)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread, raised there
            self.error = exc
            self._free.put(None)
        finally:
            if self._progress is not None and unreported and self.error is None:
                self._progress(unreported)

    def put(self, buf: memoryview, n: int) -> None:
        """Queue the first ``n`` bytes of ``buf`` for writing."""
        self._full.put((buf, n))

    def give(self, buf: memoryview) -> None:
        """Add a free buffer to the round."""
        self._free.put(buf)

    def take(self) -> memoryview:
        """Return a free buffer, waiting for one; raise the writer's error if it failed."""
        buf = self._free.get()
        if buf is None:
            assert self.error is not None
            raise self.error
        return buf

    def finish(self) -> None:
        """Wait until everything queued is written; raise the writer's error if it failed.

        Raises:
            Stopped: the copy was stopped before everything was written.
        """
        self._full.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error
        if self._skipped:
            raise Stopped

    def close(self) -> None:
        """Drop what is not written yet and wait for the thread (no write after this)."""
        if self._thread.is_alive():
            self._halt = True
            self._full.put(None)
            self._thread.join()


def copy_hashed(
    readinto: Callable[[memoryview], int],
    write: Callable[[memoryview], None],
    hasher: Hasher,
    stop: threading.Event,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Copy until ``readinto`` returns 0, hashing each piece; return the byte count.

    This thread reads each piece into a buffer and feeds it to ``hasher``;
    a second thread (:class:`_WriteBehind`) hands it to ``write`` meanwhile,
    so reading and writing overlap on two cores. The same buffer is hashed
    and written, so the checksums are those of the very bytes written. A
    source of one piece is copied without a second thread. ``write`` is not
    called any more once this returns or raises, and must be done with the
    view it is given when it returns (buffers are reused). Exceptions of
    ``readinto`` and ``write`` propagate unchanged.

    Raises:
        Stopped: ``stop`` was set.
    """
    bufs = [_buffers.take(), _buffers.take()]
    try:
        return _copy(bufs, readinto, write, hasher, stop, progress)
    finally:
        # Every thread that used them is over (the write-behind one was joined).
        _buffers.give(bufs)


def _copy(
    bufs: list[memoryview],
    readinto: Callable[[memoryview], int],
    write: Callable[[memoryview], None],
    hasher: Hasher,
    stop: threading.Event,
    progress: Callable[[int], None] | None,
) -> int:
    """:func:`copy_hashed` with its first two buffers; more are appended to ``bufs``."""
    first, second = bufs
    if stop.is_set():
        raise Stopped
    n = readinto(first)
    if not n:
        return 0
    hasher.update(first[:n])
    if stop.is_set():
        raise Stopped
    m = readinto(second)
    if not m:
        write(first[:n])
        if progress is not None:
            progress(n)
        return n
    hasher.update(second[:m])
    total = n + m
    behind = _WriteBehind(write, stop, progress)
    try:
        behind.put(first, n)
        behind.put(second, m)
        for _ in range(_WRITE_BEHIND - 2):
            bufs.append(_buffers.take())
            behind.give(bufs[-1])
        while True:
            buf = behind.take()
            if stop.is_set():
                raise Stopped
            n = readinto(buf)
            if not n:
                break
            hasher.update(buf[:n])
            behind.put(buf, n)
            total += n
        behind.finish()
    finally:
        behind.close()
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

    __slots__ = ("fd", "root", "target", "tmp")

    def __init__(self, root: str, target: str, tmp: str) -> None:
        self.root = root
        self.target = target
        self.tmp: str | None = tmp
        self.fd: int | None = None

    def open(self, overwrite: bool) -> None:
        """Create the temporary file (and the target's missing parents, never the root).

        Raises:
            FileExistsError: the target exists and ``overwrite`` is false.
            IsADirectoryError: the target is a directory.
            FileNotFoundError: the SE root directory is missing (a vanished
                mount point is not created again).
        """
        try:
            st = os.lstat(self.target)
        except FileNotFoundError:
            st = None
        if st is not None:
            if stat.S_ISDIR(st.st_mode) or (
                stat.S_ISLNK(st.st_mode) and os.path.isdir(self.target)
            ):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), self.target)
            if not overwrite:
                raise _exists_error(self.target)
        assert self.tmp is not None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        try:
            self.fd = os.open(self.tmp, flags, 0o666)
        except FileNotFoundError:
            # The parent is missing (the usual case has it: one call, not three).
            if not os.path.isdir(self.root):
                raise
            os.makedirs(os.path.dirname(self.target), exist_ok=True)
            self.fd = os.open(self.tmp, flags, 0o666)

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
            # Never created: gone, or a file stood where a parent directory should be.
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
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
