"""Reading a replica while hashing it, and checking the result against the catalogue."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from dfc.errors import DFCError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from dfc.callbacks import Callback
    from dfc.checksum import Hasher
    from dfc.se import StorageElement

__all__ = ["SourceStream"]

# Below this size hashing on the event loop costs less than a thread hop.
_INLINE_HASH = 1 << 20


class SourceStream:
    """Streams one replica, feeding a hasher if given; remembers whether the *source* failed.

    A copy can fail at either end: ``source_error`` tells the caller that it was
    this replica's fault, so another replica may be tried.
    """

    def __init__(
        self,
        se: StorageElement,
        path: str,
        hasher: Hasher | None,
        callback: Callback | None = None,
    ) -> None:
        self._se = se
        self._path = path
        self._hasher = hasher
        self._callback = callback
        self.source_error: DFCError | None = None
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        stream = self._se.open_read(self._path)
        try:
            async for data in self._checked(stream):
                yield data
        finally:
            # Close the SE's generator (and its file or connection) now, not at GC.
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _checked(self, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        while True:
            try:
                data = await anext(stream)
            except StopAsyncIteration:
                return
            except DFCError as exc:
                self.source_error = exc
                raise
            if self._hasher is not None:
                if len(data) < _INLINE_HASH:
                    self._hasher.update(data)
                else:
                    await asyncio.to_thread(self._hasher.update, data)
            self.sent += len(data)
            if self._callback is not None:
                self._callback.relative_update(len(data))
            yield data

    def rewind_progress(self) -> None:
        """Take the bytes of a failed attempt back out of the progress bar."""
        if self._callback is not None and self.sent:
            self._callback.relative_update(-self.sent)
        self.sent = 0
