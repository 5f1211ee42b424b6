"""The one bridge between synchronous callers and dfc's asyncio storage layer.

Synchronous code (the CLI, job scripts) runs async work through :func:`run`;
long-lived multithreaded code (the FUSE filesystem) submits coroutines to the one
event loop of a :class:`LoopThread`; async code reaches the synchronous catalogue
through :class:`CatalogExecutor`. Nothing else in dfc crosses the boundary, so
event loops are never nested.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any, NamedTuple, ParamSpec, TypeVar

from dfc.errors import SETimeout

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine, Iterator

__all__ = ["BatchedWorkers", "CatalogExecutor", "LoopThread", "iterate", "run", "wait"]

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


class _Job(NamedTuple):
    call: Callable[[], Any]
    future: asyncio.Future[Any]
    release: Callable[[Any], None] | None


class BatchedWorkers:
    """A few threads for short blocking calls (small local files); the loop hears in batches.

    ``loop.run_in_executor`` wakes the event loop once per finished call. For
    many small files that wake-up, with its future and thread hand-over, costs
    more than the file's own work: here a thread that finishes a call while
    earlier results still wait for the loop adds to them, and the loop resolves
    them together. Calls start in submission order, several at once; a call
    cannot be cancelled once submitted (a cancelled caller's call still runs:
    :meth:`settle` waits for it, so the caller need not shield the future; a
    call that returns something to clean up is submitted with
    :meth:`submit_releasing`). Use it from one event loop, then :meth:`shutdown` it.
    """

    def __init__(self, threads: int = 4, name: str = "dfc-local") -> None:
        """Prepare ``threads`` threads (started on first use)."""
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._done: list[tuple[_Job, Any, BaseException | None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        # On the loop only: futures of calls not yet reported, and who waits for them to run.
        self._running: set[asyncio.Future[Any]] = set()
        self._settling: dict[asyncio.Future[Any], asyncio.Future[None]] = {}
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True)
            for i in range(threads)
        ]

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[T]:
        """Queue ``fn(*args, **kwargs)``; return a future of the running loop for its result."""
        return self._queue(asyncio.get_running_loop(), functools.partial(fn, *args, **kwargs), None)

    def submit_releasing(
        self, fn: Callable[[], T], release: Callable[[T], None]
    ) -> asyncio.Future[T]:
        """:meth:`submit` ``fn()``, whose result needs cleaning up if nobody takes it.

        If the future was cancelled (its caller went away) by the time ``fn``
        returned, ``release(result)`` runs on the loop instead, before
        :meth:`settle` returns; its exceptions go to the loop's exception handler.
        """
        return self._queue(asyncio.get_running_loop(), fn, release)

    def _queue(
        self,
        loop: asyncio.AbstractEventLoop,
        call: Callable[[], T],
        release: Callable[[T], None] | None,
    ) -> asyncio.Future[T]:
        if self._loop is None:
            self._loop = loop
            for thread in self._threads:
                thread.start()
        future: asyncio.Future[T] = loop.create_future()
        self._running.add(future)
        self._jobs.put(_Job(call, future, release))
        return future

    async def settle(self, future: asyncio.Future[Any]) -> None:
        """Wait until the call behind ``future`` (from :meth:`submit`) has run.

        For a caller cancelled while it awaited ``future``: the call still
        runs, and whatever it touches is only safe to clean up afterwards.
        """
        if future not in self._running:
            return
        waiter = self._settling.get(future)
        if waiter is None or waiter.done():
            waiter = self._settling[future] = asyncio.get_running_loop().create_future()
        await waiter

    def _work(self) -> None:
        assert self._loop is not None
        while (job := self._jobs.get()) is not None:
            result: Any = None
            error: BaseException | None = None
            try:
                result = job.call()
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                error = exc
            with self._lock:
                first = not self._done
                self._done.append((job, result, error))
            if first:
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                    self._loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            done, self._done = self._done, []
        for (_call, future, release), result, error in done:
            self._running.discard(future)
            if not future.cancelled():
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)
            elif release is not None and error is None:
                try:
                    release(result)
                except Exception as exc:  # noqa: BLE001 - reported like a failed loop callback
                    assert self._loop is not None
                    self._loop.call_exception_handler(
                        {"message": "releasing an abandoned result failed", "exception": exc}
                    )
            if self._settling:
                waiter = self._settling.pop(future, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)

    def shutdown(self) -> None:
        """Stop the threads once the queued calls ran."""
        if self._loop is None:
            return
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()


class LoopThread:
    """One event loop running in its own thread, serving coroutines from any thread.

    Storage clients are bound to the loop they were opened on, so a long-lived
    multithreaded caller (the FUSE filesystem) keeps one loop for its lifetime
    and submits every storage call to it from its worker threads::

        with LoopThread() as loop:
            data = loop.submit(reader.read_range(entry, 0, 4096), timeout=30)

    Never call :meth:`submit` from a coroutine running on this loop: it would
    wait for itself.
    """

    def __init__(self, name: str = "dfc-loop") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> LoopThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        """Whether the loop thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the loop thread; a started loop is left alone."""
        with self._lock:
            if self._thread is not None:
                return
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def main() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            thread = threading.Thread(target=main, name=self._name, daemon=True)
            thread.start()
            ready.wait()
            self._loop, self._thread = loop, thread

    def schedule(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Start ``coro`` on the loop and return its future at once (for read-ahead).

        Cancelling the future cancels the coroutine.

        Raises:
            RuntimeError: the loop is not running, or this is the loop's own thread.
        """
        loop = self._loop
        if loop is None or not self.running:
            coro.close()
            raise RuntimeError("the dfc event-loop thread is not running")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("LoopThread called from its own loop (use await)")
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def submit(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait at most ``timeout`` seconds for its result.

        On timeout the coroutine is cancelled, so nothing keeps running behind
        the caller's back.

        Raises:
            RuntimeError: the loop is not running, or this is the loop's own thread.
            SETimeout: no result within ``timeout`` seconds.
            Exception: whatever ``coro`` raises.
        """
        return wait(self.schedule(coro), timeout)

    def close(
        self, final: Coroutine[Any, Any, object] | None = None, timeout: float = 10.0
    ) -> None:
        """Run ``final`` (e.g. closing storage clients) on the loop, then stop the thread.

        Tasks still pending are cancelled. Idempotent.

        Raises:
            Exception: whatever ``final`` raises (the loop is stopped anyway).
        """
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            if final is not None:
                final.close()
            return

        async def shutdown() -> None:
            try:
                if final is not None:
                    await final
            finally:
                current = asyncio.current_task()
                pending = [t for t in asyncio.all_tasks() if t is not current]
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                await loop.shutdown_asyncgens()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            if not thread.is_alive():
                loop.close()


def wait(future: Future[T], timeout: float | None) -> T:
    """Wait at most ``timeout`` seconds for ``future`` (from :meth:`LoopThread.schedule`).

    On timeout the future (and so its coroutine) is cancelled.

    Raises:
        SETimeout: no result within ``timeout`` seconds.
        Exception: whatever the coroutine raised.
    """
    try:
        return future.result(timeout)
    except FutureTimeout:
        future.cancel()
        raise SETimeout(f"no answer within {timeout:g} s") from None
