"""File attributes for the kernel, and a short-lived cache of catalogue entries.

Listing a directory fills the cache with all its entries in one catalogue query,
so ``ls -l`` of a large directory costs one query instead of one per file.
"""

from __future__ import annotations

import grp
import pwd
import stat
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from dfc import Entry

__all__ = ["AttrCache", "IdMap", "entry_attrs"]

#: The kernel's "nobody", for owners and groups unknown on this machine.
NOBODY = 65534


class IdMap:
    """Maps catalogue owner and group names to local ids (``nobody`` when unknown)."""

    def __init__(self) -> None:
        self._users: dict[str, int] = {}
        self._groups: dict[str, int] = {}

    def uid(self, name: str) -> int:
        """The local uid of user ``name``."""
        uid = self._users.get(name)
        if uid is None:
            try:
                uid = pwd.getpwnam(name).pw_uid
            except KeyError:
                uid = int(name) if name.isdigit() else NOBODY
            self._users[name] = uid
        return uid

    def gid(self, name: str) -> int:
        """The local gid of group ``name``."""
        gid = self._groups.get(name)
        if gid is None:
            try:
                gid = grp.getgrnam(name).gr_gid
            except KeyError:
                gid = int(name) if name.isdigit() else NOBODY
            self._groups[name] = gid
        return gid


def _ns(entry_time: float) -> int:
    return round(entry_time * 1_000_000) * 1000


def entry_attrs(entry: Entry, ids: IdMap) -> dict[str, int]:
    """The ``stat`` fields of a catalogue entry (times in nanoseconds).

    Directories report one link: ``find`` then makes no assumption about how
    many subdirectories they hold.
    """
    kind = stat.S_IFDIR if entry.is_dir else stat.S_IFREG
    mtime = _ns(entry.mtime.timestamp())
    size = 0 if entry.is_dir else entry.size
    return {
        "st_mode": kind | (entry.mode & 0o7777),
        "st_nlink": 1,
        "st_size": size,
        "st_blocks": (size + 511) // 512,
        "st_uid": ids.uid(entry.owner),
        "st_gid": ids.gid(entry.group),
        "st_mtime": mtime,
        "st_atime": mtime,
        "st_ctime": _ns(entry.ctime.timestamp()),
    }


class AttrCache:
    """Catalogue entries and directory listings, each kept for ``ttl`` seconds.

    ``None`` entries record names known not to exist (negative caching).
    Thread-safe.
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, Entry | None]] = {}
        self._listings: dict[str, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def get(self, lfn: str) -> tuple[bool, Entry | None]:
        """Return ``(found, entry)``; ``found`` is false when nothing fresh is cached."""
        with self._lock:
            item = self._entries.get(lfn)
        if item is None or item[0] < self._clock():
            return False, None
        return True, item[1]

    def put(self, lfn: str, entry: Entry | None) -> None:
        """Remember ``entry`` (or that ``lfn`` does not exist)."""
        if self.ttl <= 0:
            return
        expires = self._clock() + self.ttl
        with self._lock:
            self._entries[lfn] = (expires, entry)

    def listing(self, directory: str) -> list[str] | None:
        """The names in ``directory`` if a fresh listing is cached."""
        with self._lock:
            item = self._listings.get(directory)
        if item is None or item[0] < self._clock():
            return None
        return item[1]

    def put_listing(self, directory: str, entries: Iterable[Entry]) -> list[str]:
        """Remember a directory's entries (and each entry's attributes); return the names."""
        expires = self._clock() + self.ttl
        names: list[str] = []
        items: dict[str, tuple[float, Entry | None]] = {}
        for entry in entries:
            names.append(entry.lfn.rsplit("/", 1)[-1])
            items[entry.lfn] = (expires, entry)
        if self.ttl > 0:
            with self._lock:
                self._entries.update(items)
                self._listings[directory] = (expires, names)
                self._prune()
        return names

    def forget(self, *lfns: str) -> None:
        """Drop what is cached about ``lfns`` and the listings of their directories."""
        with self._lock:
            for lfn in lfns:
                self._entries.pop(lfn, None)
                self._listings.pop(lfn, None)
                parent = lfn.rsplit("/", 1)[0] or "/"
                self._listings.pop(parent, None)

    def forget_tree(self, root: str) -> None:
        """Drop everything cached at or below ``root`` (after a directory rename)."""
        prefix = root.rstrip("/") + "/"
        with self._lock:
            for table in (self._entries, self._listings):
                for key in [k for k in table if k == root or k.startswith(prefix)]:
                    del table[key]
        self.forget(root)

    def _prune(self) -> None:
        # Called with the lock held, after a listing: drop expired items so
        # that browsing a large tree does not grow the cache without bound.
        if len(self._entries) < 200_000:
            return
        now = self._clock()
        for table in (self._entries, self._listings):
            for key in [k for k, v in table.items() if v[0] < now]:
                del table[key]
