"""The one bridge between synchronous callers and dfc's asyncio storage layer.

Synchronous code (the CLI, job scripts) runs async work through :func:`run`;
async code reaches the synchronous catalogue through :class:`CatalogExecutor`.
Nothing else in dfc crosses the boundary, so event loops are never nested.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, ParamSpec, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

__all__ = ["CatalogExecutor", "run"]

T = TypeVar("T")
P = ParamSpec("P")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a new event loop and return its result.

    Raises:
        RuntimeError: called from inside a running event loop (use ``await``).
        Exception: whatever ``coro`` raises.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise RuntimeError("dfc's synchronous API was called from a running event loop")


class CatalogExecutor:
    """Runs blocking catalogue calls from async code on one dedicated thread.

    One thread serialises catalogue access (what SQLite wants anyway) and keeps
    the event loop free while the database works.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dfc-catalog")

    async def __call__(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the catalogue thread and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        """Stop the thread once queued calls finished."""
        self._pool.shutdown(wait=True)
