"""Files being written through a writable mount: local bytes until uploaded on close.

A :class:`SpoolFile` holds the bytes of one new (or replaced) file in a local
directory while programs write it; every open handle of the name shares it. On
close (FUSE ``flush``) the mount uploads it with :meth:`dfc.DFC.put`, which
verifies and registers it atomically, and the spool file goes away when the last
handle is released.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path

from dfc.errors import StorageError

__all__ = ["Spool", "SpoolFile"]


class SpoolFile:
    """The local bytes of one file being written.

    Attributes:
        lfn: the LFN it will be uploaded to (changes if renamed while open).
        path: the local spool file.
        replacing: it replaces an existing catalogue file (``--overwrite``).
        dirty: written since the last upload (a new file starts dirty, so that
            an empty file is created too).
        uploaded: uploaded at least once (later uploads replace that one).
        failed: the last upload failed and was reported; it is not retried.
        deleted: unlinked while open: never uploaded again.
    """

    def __init__(self, lfn: str, path: Path, *, replacing: bool, mode: int = 0o644) -> None:
        self.lfn = lfn
        self.path = path
        self.replacing = replacing
        self.dirty = True
        self.uploaded = False
        self.failed = False
        self.deleted = False
        self.refs = 0
        self.created = time.time()
        self.lock = threading.RLock()
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            # The upload takes the mode of the local file.
            os.fchmod(self._fd, mode & 0o777)
        except OSError as exc:
            raise StorageError(f"cannot create spool file {path}: {exc.strerror}") from None

    def write(self, data: bytes, offset: int) -> int:
        """Write ``data`` at ``offset``; return the bytes written.

        Raises:
            OSError: the spool disk failed (ENOSPC, EIO).
        """
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += os.pwrite(self._fd, view[done:], offset + done)
        self.dirty = True
        self.failed = False
        return done

    def read(self, size: int, offset: int) -> bytes:
        """Read up to ``size`` bytes at ``offset``.

        Raises:
            OSError: the spool disk failed.
        """
        return os.pread(self._fd, size, offset)

    def truncate(self, length: int) -> None:
        """Cut or extend the file to ``length`` bytes.

        Raises:
            OSError: the spool disk failed.
        """
        os.ftruncate(self._fd, length)
        self.dirty = True
        self.failed = False

    @property
    def size(self) -> int:
        """Current size in bytes."""
        return os.fstat(self._fd).st_size

    def attrs(self, uid: int, gid: int) -> dict[str, int]:
        """``stat`` fields for the kernel (times in nanoseconds)."""
        st = os.fstat(self._fd)
        return {
            "st_mode": stat.S_IFREG | (st.st_mode & 0o777),
            "st_nlink": 1,
            "st_size": st.st_size,
            "st_blocks": (st.st_size + 511) // 512,
            "st_uid": uid,
            "st_gid": gid,
            "st_mtime": st.st_mtime_ns,
            "st_atime": st.st_mtime_ns,
            "st_ctime": int(self.created * 1e9),
        }

    def close(self) -> None:
        """Close and remove the local file."""
        with contextlib.suppress(OSError):
            os.close(self._fd)
        with contextlib.suppress(OSError):
            self.path.unlink()


class Spool:
    """The files being written, by LFN, in a private local directory.

    Args:
        parent: where to create the spool directory (default: the system temp dir).

    Raises:
        StorageError: the directory cannot be created.
    """

    def __init__(self, parent: Path | None = None) -> None:
        try:
            self.directory = Path(tempfile.mkdtemp(prefix="dfc-spool-", dir=parent))
        except OSError as exc:
            raise StorageError(f"cannot create a spool directory: {exc.strerror}") from None
        self._files: dict[str, SpoolFile] = {}
        self._lock = threading.Lock()

    def get(self, lfn: str) -> SpoolFile | None:
        """The file being written at ``lfn``, if any."""
        with self._lock:
            return self._files.get(lfn)

    def names_in(self, directory: str) -> list[str]:
        """Names of files being written directly inside ``directory``."""
        prefix = "/" if directory == "/" else directory + "/"
        with self._lock:
            return [
                lfn[len(prefix) :]
                for lfn, f in self._files.items()
                if lfn.startswith(prefix) and "/" not in lfn[len(prefix) :] and not f.deleted
            ]

    def open(self, lfn: str, *, replacing: bool, mode: int = 0o644) -> SpoolFile:
        """Return the spool file of ``lfn`` (created with ``mode`` if new), one more reference.

        Raises:
            StorageError: the spool file cannot be created.
        """
        with self._lock:
            spooled = self._files.get(lfn)
            if spooled is None or spooled.deleted:
                path = self.directory / secrets.token_hex(8)
                spooled = SpoolFile(lfn, path, replacing=replacing, mode=mode)
                self._files[lfn] = spooled
            spooled.refs += 1
            return spooled

    def release(self, spooled: SpoolFile) -> bool:
        """Drop one reference; return True when it was the last (the file is gone)."""
        with self._lock:
            spooled.refs -= 1
            if spooled.refs > 0:
                return False
            if self._files.get(spooled.lfn) is spooled:
                del self._files[spooled.lfn]
        spooled.close()
        return True

    def rename(self, spooled: SpoolFile, lfn: str) -> None:
        """Record that ``spooled`` is to be uploaded as ``lfn`` now."""
        with self._lock:
            if self._files.get(spooled.lfn) is spooled:
                del self._files[spooled.lfn]
            spooled.lfn = lfn
            self._files[lfn] = spooled

    def forget(self, spooled: SpoolFile) -> None:
        """Take ``spooled`` out of the namespace (unlinked while open)."""
        with self._lock:
            spooled.deleted = True
            if self._files.get(spooled.lfn) is spooled:
                del self._files[spooled.lfn]

    def close(self) -> None:
        """Remove every spool file and the directory."""
        with self._lock:
            files, self._files = list(self._files.values()), {}
        for spooled in files:
            spooled.close()
        shutil.rmtree(self.directory, ignore_errors=True)
