"""Where the server's event loop meets the synchronous catalogue API.

:meth:`Bridge.run` runs one blocking call on a worker thread; :meth:`Bridge.stream`
runs a blocking generator on a thread of its own (a streamed listing holds one database
transaction from start to end, so all its steps run on that thread) and hands its items
to the event loop with bounded buffering: a slow client slows the database cursor, it
does not fill the memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Generator

__all__ = ["Bridge"]

T = TypeVar("T")
P = ParamSpec("P")
_BUFFER = 8
_DONE = object()


class _Calls:
    """Worker threads for single blocking calls, lighter than ``run_in_executor``.

    A call costs one queue put and one ``call_soon_threadsafe``: no
    ``concurrent.futures.Future``, condition variables or future chaining, which took
    about a fifth of the event loop's time per request.
    """

    def __init__(self, threads: int) -> None:
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"dfc-call-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((fn, loop, future))
        return future

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            fn, loop, future = job
            if future.cancelled():  # abandoned before it started (time limit)
                continue
            try:
                outcome: tuple[bool, Any] = (True, fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                outcome = (False, exc)
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, outcome)
            del job, fn, future, outcome  # do not keep the last result alive

    def shutdown(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()


_Job = tuple["Callable[[], Any]", asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.done():  # cancelled meanwhile
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    elif isinstance(value, StopIteration):  # a future cannot carry it
        future.set_exception(RuntimeError(f"StopIteration from a worker call: {value}"))
    else:
        future.set_exception(value)


class Bridge:
    """Worker threads for blocking calls and streams.

    Args:
        threads: threads for single calls (the database pool should allow as many).
        streams: threads for concurrent streams.
    """

    def __init__(self, threads: int = 8, streams: int = 16) -> None:
        self._calls = _Calls(threads)
        self._streams = ThreadPoolExecutor(max_workers=streams, thread_name_prefix="dfc-stream")

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on a worker thread and return its result.

        Raises:
            Exception: whatever ``fn`` raises.
        """
        result: T = await self._calls.submit(functools.partial(fn, *args, **kwargs))
        return result

    async def stream(self, make: Callable[[], Generator[T, None, None]]) -> AsyncGenerator[T, None]:
        """Yield the items of the generator ``make()``, run on a stream thread.

        Closing the returned iterator early closes the generator (on its thread).

        Raises:
            Exception: whatever the generator raises.
        """
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue()
        slots = threading.Semaphore(_BUFFER)
        stop = threading.Event()

        def send(ok: bool, value: Any) -> bool:
            while not slots.acquire(timeout=0.2):
                if stop.is_set():
                    return False
            if stop.is_set():
                return False
            try:
                loop.call_soon_threadsafe(items.put_nowait, (ok, value))
            except RuntimeError:  # the loop is closed: nobody listens any more
                return False
            return True

        def work() -> None:
            try:
                with closing(make()) as gen:
                    for item in gen:
                        if not send(True, item):
                            return
            except Exception as exc:  # noqa: BLE001 - handed to the event loop, re-raised there
                send(False, exc)
                return
            send(True, _DONE)

        task = loop.run_in_executor(self._streams, work)
        try:
            while True:
                ok, value = await items.get()
                slots.release()
                if not ok:
                    raise value
                if value is _DONE:
                    break
                yield value
        finally:
            stop.set()
            for _ in range(_BUFFER):
                slots.release()
            await asyncio.shield(task)

    def shutdown(self) -> None:
        """Finish queued calls and stop the threads."""
        self._calls.shutdown()
        self._streams.shutdown(wait=True)
