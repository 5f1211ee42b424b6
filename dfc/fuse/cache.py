"""A local disk cache of file blocks, least recently used out first.

Blocks are keyed by the file's identity (LFN, size and checksum: a file
overwritten in the catalogue gets new keys) and stored one file per block,
written under a temporary name and renamed, so a reader never sees half a
block. The index is rebuilt from the directory at start-up (oldest first), so
the cache survives remounts. Concurrent requests for one missing block fetch it
once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from dfc.errors import InvalidArgument, StorageError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from dfc import Entry

__all__ = ["BlockCache"]

BLOCK = 4 << 20


def file_key(entry: Entry) -> str:
    """A cache key that changes whenever the catalogue's file changes."""
    ident = f"{entry.lfn}\0{entry.size}\0{entry.adler32}\0{entry.xxh3}\0{entry.guid}"
    return hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class BlockCache:
    """Blocks of catalogue files in ``directory``, at most ``capacity`` bytes in all.

    Args:
        directory: where blocks live (created if missing).
        capacity: the most bytes kept; older blocks are removed first.
        block: block size in bytes.

    Raises:
        InvalidArgument: ``capacity`` or ``block`` is not positive.
        StorageError: ``directory`` cannot be created.
    """

    def __init__(self, directory: Path, capacity: int, block: int = BLOCK) -> None:
        if capacity <= 0 or block <= 0:
            raise InvalidArgument("cache size and block size must be positive")
        self.directory = directory
        self.capacity = capacity
        self.block = block
        self._lru: OrderedDict[tuple[str, int], int] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()
        self._inflight: dict[tuple[str, int], threading.Event] = {}
        self.hits = 0
        self.misses = 0
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create cache directory {directory}: {exc.strerror}"
            ) from None
        self._load()

    def _path(self, key: str, index: int) -> Path:
        return self.directory / key[:2] / key / str(index)

    def _load(self) -> None:
        found: list[tuple[float, str, int, int]] = []
        for path in self.directory.glob("??/*/*"):
            if not path.name.isdigit():
                # A temporary file of an interrupted write.
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            try:
                st = path.stat()
            except OSError:
                continue
            found.append((st.st_mtime, path.parent.name, int(path.name), st.st_size))
        found.sort()
        for _, key, index, size in found:
            self._lru[(key, index)] = size
            self._used += size
        with self._lock:
            self._evict()

    @property
    def used(self) -> int:
        """Bytes held now."""
        return self._used

    def read(
        self, entry: Entry, offset: int, length: int, fetch: Callable[[int, int], bytes]
    ) -> bytes:
        """Return ``length`` bytes of ``entry`` from ``offset``, fetching missing blocks.

        ``fetch(offset, length)`` reads a whole block from storage.

        Raises:
            DFCError: whatever ``fetch`` raises.
        """
        end = min(entry.size, offset + length)
        if offset >= end:
            return b""
        key = file_key(entry)
        parts: list[bytes] = []
        pos = offset
        while pos < end:
            index = pos // self.block
            data = self._block(entry, key, index, fetch)
            start = pos - index * self.block
            piece = data[start : start + (end - pos)]
            if not piece:
                raise StorageError(f"{entry.lfn}: cached block {index} is short")
            parts.append(piece)
            pos += len(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _block(
        self, entry: Entry, key: str, index: int, fetch: Callable[[int, int], bytes]
    ) -> bytes:
        ident = (key, index)
        while True:
            data = self._cached(ident)
            if data is not None:
                self.hits += 1
                return data
            with self._lock:
                waiter = self._inflight.get(ident)
                if waiter is None:
                    done = threading.Event()
                    self._inflight[ident] = done
            if waiter is not None:
                waiter.wait()
                continue
            try:
                self.misses += 1
                start = index * self.block
                data = fetch(start, min(self.block, entry.size - start))
                self._store(ident, data)
                return data
            finally:
                with self._lock:
                    del self._inflight[ident]
                done.set()

    def _cached(self, ident: tuple[str, int]) -> bytes | None:
        with self._lock:
            if ident not in self._lru:
                return None
            self._lru.move_to_end(ident)
        try:
            return self._path(*ident).read_bytes()
        except OSError:
            # Removed behind our back: forget it and fetch again.
            with self._lock:
                size = self._lru.pop(ident, None)
                if size is not None:
                    self._used -= size
            return None

    def _store(self, ident: tuple[str, int], data: bytes) -> None:
        path = self._path(*ident)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError:
            # A full or broken cache disk must not fail the read: serve uncached.
            with contextlib.suppress(OSError):
                tmp.unlink()
            return
        with self._lock:
            old = self._lru.pop(ident, None)
            if old is not None:
                self._used -= old
            self._lru[ident] = len(data)
            self._used += len(data)
            self._evict()

    def _evict(self) -> None:
        # Called with the lock held.
        while self._used > self.capacity and self._lru:
            (key, index), size = self._lru.popitem(last=False)
            self._used -= size
            path = self._path(key, index)
            with contextlib.suppress(OSError):
                path.unlink()
            with contextlib.suppress(OSError):
                path.parent.rmdir()

    def drop(self, entry: Entry) -> None:
        """Forget every block of ``entry`` (after it failed verification)."""
        key = file_key(entry)
        with self._lock:
            for ident in [i for i in self._lru if i[0] == key]:
                self._used -= self._lru.pop(ident)
                with contextlib.suppress(OSError):
                    self._path(*ident).unlink()
