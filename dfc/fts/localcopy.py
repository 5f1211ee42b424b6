"""The same-host fast path: a file copy between two ``file://`` SEs in one thread.

The generic path (:mod:`dfc.fts.copy`) streams through the event loop with a
handful of thread hops per file and per chunk (open, read, hash, write,
commit, rename): right for remote SEs, but for local files the hops dominate
small files and the chunk-by-chunk hand-offs cost large ones a third of their
speed. Between two :class:`~dfc.se.local.LocalSE` the engine instead runs the
whole try - read, hash (adler32 + xxh3), write the temporary file, fsync as the
destination SE is configured, verify, rename without replacing - as one
blocking call on a worker thread; a large file gets a second thread that
writes while the first reads and hashes. The semantics are the generic path's.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from typing import TYPE_CHECKING

from dfc.checksum import Hasher
from dfc.errors import DFCError, StorageError
from dfc.se.local import LocalSE

if TYPE_CHECKING:
    from collections.abc import Callable

    from dfc.se import StorageElement

__all__ = [
    "PIPELINE_MIN",
    "Cancelled",
    "Control",
    "LocalFault",
    "copy_local",
    "discard_local",
    "local_path",
]

#: From this size on, a writer thread overlaps writing with reading and hashing.
PIPELINE_MIN = 32 << 20
_CHUNK = 8 << 20


class LocalFault(Exception):
    """A failure of the fast path, with the side at fault (``source`` or ``dest``)."""

    def __init__(self, side: str, error: DFCError) -> None:
        super().__init__(str(error))
        self.side = side
        self.error = error


def local_path(se: StorageElement, path: str) -> str | None:
    """The host path of ``path`` on ``se`` if it is a local SE (LFN-style ``path``)."""
    if type(se) is not LocalSE:
        return None
    return se.root.rstrip("/") + path


def _translate(side: str, exc: OSError, where: str, op: str) -> LocalFault:
    from dfc.se._errors import translate_exception

    error = translate_exception(exc, where, op) or StorageError(f"{op} {where}: {exc}")
    return LocalFault(side, error)


class Control:
    """How the event loop steers a copy running in a thread: cancel it, hear its progress."""

    def __init__(self, progress: Callable[[int], None] | None = None) -> None:
        self.cancelled = threading.Event()
        self.progress = progress


def copy_local(
    src: str,
    tmp: str,
    final: str,
    *,
    check: Callable[[Hasher], None],
    fsync: bool,
    src_url: str,
    dst_url: str,
    control: Control | None = None,
) -> int:
    """Copy host file ``src`` to ``tmp`` hashing it, ``check`` the hashes, rename to ``final``.

    Runs in a worker thread. Files above :data:`PIPELINE_MIN` are read and
    hashed on this thread while a second one writes, so that both cores work.
    The temporary file is removed on any failure (or cancellation).

    Returns:
        The bytes written.

    Raises:
        LocalFault: reading or ``check`` failed (``source``), or writing or
            the rename failed (``dest``; :class:`~dfc.errors.AlreadyExists`
            when ``final`` exists).
        Cancelled: ``control`` asked to stop.
    """
    from dfc.se._localio import fsync_dir, move_no_clobber, open_for_read

    ctl = control or Control()
    hasher = Hasher()
    try:
        fdin, size = open_for_read(src, True)
    except OSError as exc:
        raise _translate("source", exc, src_url, "read") from None
    try:
        written = _pump(fdin, size, tmp, hasher, fsync, (src_url, dst_url), ctl)
    finally:
        os.close(fdin)
    try:
        check(hasher)
    except DFCError as exc:
        discard_local(tmp)
        raise LocalFault("source", exc) from None
    try:
        move_no_clobber(tmp, final)
        if fsync:
            fsync_dir(os.path.dirname(final))
    except OSError as exc:
        discard_local(tmp)
        raise _translate("dest", exc, dst_url, "rename") from None
    return written


class Cancelled(Exception):
    """The copy was stopped through its :class:`Control`."""


def _pump(
    fdin: int,
    size: int,
    tmp: str,
    hasher: Hasher,
    fsync: bool,
    urls: tuple[str, str],
    ctl: Control,
) -> int:
    try:
        os.makedirs(os.path.dirname(tmp), exist_ok=True)
        fdout = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise _translate("dest", exc, urls[1], "put") from None
    try:
        try:
            if size >= PIPELINE_MIN:
                written = _piped(fdin, fdout, hasher, urls, ctl)
            else:
                written = _serial(fdin, fdout, hasher, urls, ctl)
            if fsync:
                try:
                    os.fsync(fdout)
                except OSError as exc:
                    raise _translate("dest", exc, urls[1], "put") from None
        finally:
            os.close(fdout)
    except BaseException:
        discard_local(tmp)
        raise
    return written


def _read(fdin: int, urls: tuple[str, str], ctl: Control) -> bytes:
    if ctl.cancelled.is_set():
        raise Cancelled
    try:
        return os.read(fdin, _CHUNK)
    except OSError as exc:
        raise _translate("source", exc, urls[0], "read") from None


def _write_all(fdout: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fdout, view) :]


def _serial(fdin: int, fdout: int, hasher: Hasher, urls: tuple[str, str], ctl: Control) -> int:
    written = 0
    while data := _read(fdin, urls, ctl):
        hasher.update(data)
        try:
            _write_all(fdout, data)
        except OSError as exc:
            raise _translate("dest", exc, urls[1], "put") from None
        written += len(data)
        if ctl.progress is not None:
            ctl.progress(len(data))
    return written


def _piped(fdin: int, fdout: int, hasher: Hasher, urls: tuple[str, str], ctl: Control) -> int:
    """Read and hash here while a writer thread writes (a few chunks in between)."""
    chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=3)
    failure: list[OSError] = []

    def writer() -> None:
        while (data := chunks.get()) is not None:
            if failure:
                continue  # drain, so that the reader never blocks
            try:
                _write_all(fdout, data)
            except OSError as exc:
                failure.append(exc)

    thread = threading.Thread(target=writer, name="dfc-fts-write", daemon=True)
    thread.start()
    written = 0
    try:
        while not failure and (data := _read(fdin, urls, ctl)):
            hasher.update(data)
            chunks.put(data)
            written += len(data)
            if ctl.progress is not None:
                ctl.progress(len(data))
    finally:
        chunks.put(None)
        thread.join()
    if failure:
        raise _translate("dest", failure[0], urls[1], "put")
    return written


def discard_local(tmp: str) -> None:
    """Remove a temporary file (already gone is fine)."""
    with contextlib.suppress(OSError):
        os.unlink(tmp)
