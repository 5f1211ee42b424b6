"""A test-only storage element wrapper that injects faults.

Each path gets a fate from a seeded hash, so a run is reproducible:

- ``transient``: the first ``transient_times`` operations on it fail with
  :class:`SEUnavailable` (retryable), then it works;
- ``permanent``: reading it always fails with :class:`PermissionDenied`;
- ``corrupt``: the first read of it returns one flipped byte (in flight);
- ``rotten``: every read returns a flipped byte (the stored copy is bad).

A wrapper on a destination can fail writes transiently (``put_transient``).
It records what it did in :attr:`FaultLog` for the assertions.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dfc.errors import PermissionDenied, SEUnavailable

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator

    from dfc.models import FileInfo
    from dfc.se import StorageElement


@dataclass
class FaultLog:
    """What the wrappers did, per path."""

    transient: Counter[str] = field(default_factory=Counter)
    permanent: Counter[str] = field(default_factory=Counter)
    corrupted: Counter[str] = field(default_factory=Counter)
    put_failures: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Fates:
    """Fractions of paths given each fate (the rest behave)."""

    transient: float = 0.0
    permanent: float = 0.0
    corrupt: float = 0.0
    rotten: float = 0.0
    put_transient: float = 0.0
    transient_times: int = 1
    seed: int = 0

    def fate(self, path: str, salt: str = "") -> str:
        digest = hashlib.sha256(f"{self.seed}:{salt}:{path}".encode()).digest()
        x = int.from_bytes(digest[:8], "big") / 2**64
        for name in ("transient", "permanent", "corrupt", "rotten"):
            share = getattr(self, name)
            if x < share:
                return name
            x -= share
        return "ok"

    def put_fails(self, path: str) -> bool:
        digest = hashlib.sha256(f"{self.seed}:put:{path}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.put_transient


def _base(path: str) -> str:
    # The engine writes temporary names next to the final one: key puts by the final name.
    head, _, name = path.rpartition("/")
    if name.startswith(".") and ".dfc-part-" in name:
        name = name[1:].split(".dfc-part-")[0]
    return f"{head}/{name}"


class FaultySE:
    """Wraps a storage element and injects the faults of :class:`Fates`."""

    remote_checksum = False

    def __init__(self, inner: StorageElement, fates: Fates, log: FaultLog) -> None:
        self.inner = inner
        self.fates = fates
        self.log = log
        self.name = inner.name
        self.url = inner.url
        self._seen: Counter[str] = Counter()

    def pfn(self, path: str) -> str:
        return self.inner.pfn(path)

    async def stat(self, path: str) -> FileInfo:
        return await self.inner.stat(path)

    async def ls(self, path: str) -> list[FileInfo]:
        return await self.inner.ls(path)

    def walk(self, path: str) -> AsyncIterator[FileInfo]:
        return self.inner.walk(path)

    async def open_read(
        self, path: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        fate = self.fates.fate(path)
        self._seen[path] += 1
        if fate == "transient" and self._seen[path] <= self.fates.transient_times:
            self.log.transient[path] += 1
            raise SEUnavailable(f"{self.name}: {path}: connection refused (injected)")
        if fate == "permanent":
            self.log.permanent[path] += 1
            raise PermissionDenied(f"{self.name}: {path}: permission denied (injected)")
        flip = fate == "rotten" or (fate == "corrupt" and self._seen[path] == 1)
        async for chunk in self.inner.open_read(path, offset, length):
            if flip and chunk:
                data = bytearray(chunk)
                data[len(data) // 2] ^= 0x5A
                chunk = bytes(data)
                flip = False
                self.log.corrupted[path] += 1
            yield chunk

    async def read_range(self, path: str, offset: int, length: int) -> bytes:
        return await self.inner.read_range(path, offset, length)

    async def put(
        self,
        src: AsyncIterable[bytes],
        path: str,
        *,
        size: int | None = None,
        overwrite: bool = False,
        callback: Any = None,
    ) -> FileInfo:
        final = _base(path)
        if self.fates.put_fails(final) and self.log.put_failures[final] < 1:
            self.log.put_failures[final] += 1
            raise SEUnavailable(f"{self.name}: put {path}: server busy (injected)")
        return await self.inner.put(src, path, size=size, overwrite=overwrite, callback=callback)

    async def rename(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        await self.inner.rename(src, dst, overwrite=overwrite)

    async def rm(self, path: str) -> None:
        await self.inner.rm(path)

    async def mkdir(self, path: str) -> None:
        await self.inner.mkdir(path)

    async def rmdir(self, path: str) -> None:
        await self.inner.rmdir(path)

    async def close(self) -> None:
        await self.inner.close()
