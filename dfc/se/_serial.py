"""Run blocking calls in order on a thread pool, surviving cancellation.

A put or a read keeps one file descriptor busy in a worker thread while the
event loop produces or consumes the next chunk. Calls submitted through one
:class:`SerialRunner` run strictly one after another (each waits, in its worker
thread, for the previous one), so a cleanup submitted after a cancelled write
never closes a descriptor that a thread still uses.

No deadlock is possible: the pool's queue is FIFO, so when a call starts, every
call submitted before it has started too and will finish.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["SerialRunner"]

T = TypeVar("T")


class SerialRunner:
    """Submit blocking calls that run in submission order on ``executor``."""

    __slots__ = ("_executor", "_last")

    def __init__(self, executor: concurrent.futures.Executor) -> None:
        self._executor = executor
        self._last: concurrent.futures.Future[Any] | None = None

    def submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Queue ``fn(*args)`` after every earlier call; return an awaitable future."""
        previous = self._last

        def job() -> T:
            if previous is not None:
                concurrent.futures.wait([previous])
            return fn(*args)

        future = self._executor.submit(job)
        self._last = future
        return asyncio.wrap_future(future)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` after every earlier call and return its result."""
        return await self.submit(fn, *args)

    async def final(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` last; it completes even if the caller is cancelled."""
        return await asyncio.shield(self.submit(fn, *args))
