"""Sequential read-ahead for one open file: large blocks fetched in parallel, ahead.

The kernel asks for at most 1 MiB at a time. Fetching each request separately
from a storage element pays one round trip per MiB; instead, once a file is read
sequentially (two reads in a row), :class:`Prefetcher` keeps the next few large
blocks in flight and serves the kernel's requests from them. A reader that seeks
elsewhere (ROOT reading baskets) gets exactly the bytes it asked for.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from dfc._sync import wait

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Future

__all__ = ["Prefetcher"]


class Prefetcher:
    """Serves reads of one file, reading ahead while access is sequential.

    Args:
        size: the file size.
        start: starts fetching ``(offset, length)``; returns its future.
        timeout: seconds to wait for one block.
        block: read-ahead block size.
        depth: blocks kept in flight ahead of the reader.
    """

    def __init__(
        self,
        size: int,
        start: Callable[[int, int], Future[bytes]],
        *,
        timeout: float,
        block: int = 4 << 20,
        depth: int = 4,
    ) -> None:
        self._size = size
        self._start = start
        self._timeout = timeout
        self._block = block
        self._depth = depth
        self._blocks: dict[int, Future[bytes]] = {}
        self._expect: int | None = None
        self._lock = threading.Lock()

    def read(self, offset: int, length: int) -> bytes:
        """Return ``length`` bytes at ``offset`` (fewer only at the end of the file).

        Raises:
            SETimeout: a block did not arrive in time.
            DFCError: fetching failed (the failed block is fetched again next time).
        """
        end = min(self._size, offset + length)
        if offset >= end:
            return b""
        first, last = offset // self._block, (end - 1) // self._block
        with self._lock:
            # Read ahead only from the second read in a row on: a program that
            # reads a header and seeks away (ROOT) gets exactly what it asked for.
            sequential = first in self._blocks or (
                self._expect is not None and abs(offset - self._expect) <= 2 * self._block
            )
            self._expect = end
            if not sequential:
                self._drop_all()
                direct = self._start(offset, end - offset)
            else:
                self._drop_before(first - 1)
                for index in range(first, min(last + self._depth, self._nblocks() - 1) + 1):
                    if index not in self._blocks:
                        self._blocks[index] = self._fetch_block(index)
                wanted = [(i, self._blocks[i]) for i in range(first, last + 1)]
        if not sequential:
            return wait(direct, self._timeout)
        parts: list[bytes] = []
        for index, future in wanted:
            try:
                data = wait(future, self._timeout)
            except BaseException:
                with self._lock:
                    if self._blocks.get(index) is future:
                        del self._blocks[index]
                raise
            base = index * self._block
            lo = max(offset, base) - base
            hi = min(end, base + len(data)) - base
            parts.append(data[lo:hi])
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _nblocks(self) -> int:
        return (self._size + self._block - 1) // self._block

    def _fetch_block(self, index: int) -> Future[bytes]:
        base = index * self._block
        return self._start(base, min(self._block, self._size - base))

    def _drop_before(self, index: int) -> None:
        # Called with the lock held; keeps one block behind the reader, since
        # the kernel's concurrent read-ahead requests arrive slightly out of order.
        for old in [i for i in self._blocks if i < index]:
            self._blocks.pop(old).cancel()

    def _drop_all(self) -> None:
        for future in self._blocks.values():
            future.cancel()
        self._blocks.clear()

    def close(self) -> None:
        """Cancel the blocks still in flight."""
        with self._lock:
            self._drop_all()
