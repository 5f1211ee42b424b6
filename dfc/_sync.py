"""The one bridge between synchronous callers and dfc's asyncio storage layer.

Synchronous code (the CLI, job scripts) runs async work through :func:`run`;
async code reaches the synchronous catalogue through :class:`CatalogExecutor`.
Nothing else in dfc crosses the boundary, so event loops are never nested.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, ParamSpec, TypeVar

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
    from typing import Any

__all__ = ["CatalogExecutor", "iterate", "run"]

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


_DONE = object()


def iterate(make: Callable[[], AsyncIterator[T]], *, buffer: int = 1000) -> Iterator[T]:
    """Yield the items of an async generator to synchronous code, as they come.

    The generator runs on its own event loop in a worker thread; at most
    ``buffer`` items wait between the two, so memory stays bounded. Closing
    the returned iterator early cancels the generator.

    Raises:
        Exception: whatever the generator raises, re-raised here.
    """
    items: queue.Queue[object] = queue.Queue(maxsize=buffer)
    stop = threading.Event()
    failure: list[BaseException] = []

    async def pump() -> None:
        loop = asyncio.get_running_loop()
        gen = make()
        try:
            async for item in gen:
                while not stop.is_set():
                    try:
                        items.put_nowait(item)
                        break
                    except queue.Full:
                        await loop.run_in_executor(None, stop.wait, 0.05)
                if stop.is_set():
                    break
        finally:
            aclose = getattr(gen, "aclose", None)
            if aclose is not None:
                await aclose()

    def main() -> None:
        try:
            asyncio.run(pump())
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            failure.append(exc)
        finally:
            while True:
                try:
                    items.put(_DONE, timeout=0.05)
                    break
                except queue.Full:
                    if stop.is_set():
                        break

    worker = threading.Thread(target=main, name="dfc-iterate", daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                break
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():
            try:
                items.get_nowait()
            except queue.Empty:
                worker.join(0.05)
    if failure:
        raise failure[0]


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
