"""How many copies run at once: a few large files, many small ones.

A large file's copy is bound by bandwidth: more of them at once only split it
(and multiply buffers). A small file's copy is bound by round trips (open,
write, close, rename, each waiting for the storage's answer): running more of
them at once keeps the storage busy, the way FTS3's optimizer raises the
active transfers of a link while its throughput grows.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from dfc.config import Settings

__all__ = ["SMALL_FILE", "CopySlots"]

#: Files smaller than this (bytes) count as small: their copy is mostly waiting.
SMALL_FILE = 1 << 20


class CopySlots:
    """Limits the copies in flight by the size of their files.

    At most ``large`` copies of files of :data:`SMALL_FILE` bytes or more run
    at once, and at most ``max(large, small)`` copies in all. Create it on the
    event loop that uses it.
    """

    __slots__ = ("_all", "_large")

    def __init__(self, large: int, small: int) -> None:
        """Set the two limits.

        Raises:
            ValueError: a limit is below 1.
        """
        if large < 1 or small < 1:
            raise ValueError(f"copy limits must be positive, got {large} and {small}")
        self._large = asyncio.Semaphore(large)
        self._all = asyncio.Semaphore(max(large, small))

    @classmethod
    def from_settings(cls, settings: Settings) -> CopySlots:
        """The limits of ``settings`` (``[transfers]`` of the configuration)."""
        return cls(settings.transfer_concurrency, settings.small_file_concurrency)

    @asynccontextmanager
    async def hold(self, size: int) -> AsyncIterator[None]:
        """Wait for a slot for the copy of a file of ``size`` bytes; free it on exit."""
        if size < SMALL_FILE:
            async with self._all:
                yield
            return
        async with self._large, self._all:
            yield
