"""Files served from a replica on this machine, without copying through Python.

When the replica the reader would read first is a file here (a ``file://``
storage element, see :meth:`dfc.api._read.ReplicaReader.local_paths`), the
mount opens it once and answers each read with a reference to it
(:func:`dfc.fuse.zerocopy.reply_fd`); libfuse splices the bytes to the kernel.
A :class:`~dfc.api._read.LocalFileVerifier` hashes the same open file alongside,
so a file read whole is still verified against the catalogue.
"""

from __future__ import annotations

import logging
import os
import stat
from typing import TYPE_CHECKING

from dfc.fuse.cache import file_key

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dfc import Entry
    from dfc.api._read import LocalFileVerifier

__all__ = ["LocalHandle", "open_replica"]

log = logging.getLogger("dfc.fuse")


class LocalHandle:
    """An open file served from a local replica: libfuse reads ``fd`` itself."""

    __slots__ = ("entry", "fd", "ident", "verifier")

    def __init__(self, entry: Entry, fd: int, verifier: LocalFileVerifier) -> None:
        self.entry = entry
        self.ident = (entry.lfn, file_key(entry))
        self.fd = fd
        self.verifier = verifier

    def close(self) -> None:
        """Stop verifying, then close the replica."""
        try:
            self.verifier.close()
        finally:
            os.close(self.fd)


def _skip(entry: Entry, se: str, why: object) -> None:
    log.warning("%s: replica at %s failed, trying the next: %s", entry.lfn, se, why)


def open_replica(entry: Entry, candidates: Iterable[tuple[str, str]]) -> int | None:
    """Open the first of ``candidates`` (SE, local path) that is the catalogue's file.

    A replica that cannot be opened, is not a regular file or differs in size
    from the catalogue is logged and skipped for the next. Returns the open
    descriptor, or None when none would do.
    """
    for se, path in candidates:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            _skip(entry, se, exc.strerror or exc)
            continue
        try:
            st = os.fstat(fd)
        except OSError as exc:
            os.close(fd)
            _skip(entry, se, exc.strerror or exc)
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_size != entry.size:
            os.close(fd)
            _skip(entry, se, f"{st.st_size} bytes, the catalogue says {entry.size}")
            continue
        return fd
    return None
