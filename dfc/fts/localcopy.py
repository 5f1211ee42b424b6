"""The same-host fast path: a file copy between two ``file://`` SEs in one thread.

The generic path (:mod:`dfc.fts.copy`) streams through the event loop with a
handful of thread hops per file (open, read, write, commit, rename): right for
remote SEs and large files, where reading, hashing and writing overlap, but
the hops dominate for small local files. Between two
:class:`~dfc.se.local.LocalSE` the engine instead runs the whole try of a
small file - read, hash (adler32 + xxh3), write the temporary file, fsync as
the destination SE is configured, verify, rename without replacing - as one
blocking call on a worker thread. The semantics are the generic path's.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

from dfc.checksum import Hasher
from dfc.errors import DFCError, StorageError
from dfc.se.local import LocalSE

if TYPE_CHECKING:
    from collections.abc import Callable

    from dfc.se import StorageElement

__all__ = ["LOCAL_MAX", "LocalFault", "copy_local", "discard_local", "local_path"]

#: Larger files take the streaming path, which overlaps reading and writing.
LOCAL_MAX = 16 << 20
_CHUNK = 4 << 20


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


def copy_local(
    src: str,
    tmp: str,
    final: str,
    *,
    check: Callable[[Hasher], None],
    fsync: bool,
    src_url: str,
    dst_url: str,
) -> int:
    """Copy host file ``src`` to ``tmp`` hashing it, ``check`` the hashes, rename to ``final``.

    Runs in a worker thread. The temporary file is removed on any failure.

    Returns:
        The bytes written.

    Raises:
        LocalFault: reading or ``check`` failed (``source``), or writing or
            the rename failed (``dest``; :class:`~dfc.errors.AlreadyExists`
            when ``final`` exists).
    """
    from dfc.se._localio import fsync_dir, move_no_clobber, open_for_read

    hasher = Hasher()
    try:
        fdin, _size = open_for_read(src, True)
    except OSError as exc:
        raise _translate("source", exc, src_url, "read") from None
    try:
        written = _pump(fdin, tmp, hasher, fsync, src_url, dst_url)
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


def _pump(fdin: int, tmp: str, hasher: Hasher, fsync: bool, src_url: str, dst_url: str) -> int:
    try:
        os.makedirs(os.path.dirname(tmp), exist_ok=True)
        fdout = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise _translate("dest", exc, dst_url, "put") from None
    written = 0
    try:
        try:
            while True:
                try:
                    data = os.read(fdin, _CHUNK)
                except OSError as exc:
                    raise _translate("source", exc, src_url, "read") from None
                if not data:
                    break
                hasher.update(data)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fdout, view) :]
                except OSError as exc:
                    raise _translate("dest", exc, dst_url, "put") from None
                written += len(data)
            if fsync:
                try:
                    os.fsync(fdout)
                except OSError as exc:
                    raise _translate("dest", exc, dst_url, "put") from None
        finally:
            os.close(fdout)
    except BaseException:
        discard_local(tmp)
        raise
    return written


def discard_local(tmp: str) -> None:
    """Remove a temporary file (already gone is fine)."""
    with contextlib.suppress(OSError):
        os.unlink(tmp)
