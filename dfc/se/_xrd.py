"""The XRootD client's callbacks as asyncio futures, and its process-wide settings.

The XRootD Python bindings run every request asynchronously when given a
``callback``; the callback fires on one of the client's own threads. :func:`call`
submits a request and returns an awaitable resolved on the caller's event loop,
so no thread of ours waits on the network.

An awaited request can be cancelled; the XRootD request itself cannot. Its
future is shielded: the caller sees the cancellation at once, and whoever must
wait for the request to really end (before closing a file, say) awaits
:attr:`Request.done`.

Many small files are cheaper another way. Waking the event loop for every
answer costs a thread switch, a self-pipe write and a loop iteration, four
times for a small put. A :class:`Chain` starts each request of a fixed sequence
from the callback of the one before (on the client's thread) and wakes the loop
once, when the sequence ends; it beat running the sequence with the synchronous
API in worker threads too (that adds a thread switch per request).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from typing import TYPE_CHECKING, Any, NamedTuple

from XRootD.client import env as _env
from XRootD.client import file as _file
from XRootD.client import filesystem as _filesystem

from dfc.errors import NotFound
from dfc.se._errors import XRootDFailure, translate_exception

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "Chain",
    "ChainEnd",
    "Request",
    "Step",
    "call",
    "configure_client",
    "failure",
    "is_missing",
    "new_file",
    "new_filesystem",
    "start_close",
    "submit",
]

_STREAM_DISCONNECT = 107  # XrdCl errStreamDisconnect

# The bindings carry no type information.
_ENV: Any = _env
_FILE: Any = _file
_FILESYSTEM: Any = _filesystem

#: XRootD client settings dfc wants unless the user set ``XRD_*`` variables.
#: The client's own defaults retry a lost connection for 5 x 120 s and remember
#: a failed stream for 30 min, so a restarted server would stay unreachable; dfc
#: retries at the transfer level instead and wants errors to surface at once.
#: Every answer runs a Python callback, which holds the GIL: more than one
#: thread running them only makes them take the GIL from each other (3, the
#: client's default, cost ~25 % more CPU per small file and 12-28 % fewer files/s).
CLIENT_DEFAULTS: dict[str, int] = {
    "ConnectionRetry": 1,
    "ConnectionWindow": 10,
    "StreamErrorWindow": 0,
    "TimeoutResolution": 1,
    "WorkerThreads": 1,
}


def configure_client() -> None:
    """Apply :data:`CLIENT_DEFAULTS` (a ``XRD_<NAME>`` environment variable wins).

    The settings are process-wide and read when the client first connects, so
    this runs before any XRootD request of dfc; it is idempotent.
    """
    for key, value in CLIENT_DEFAULTS.items():
        # Returns False, changing nothing, when XRD_<KEY> was set in the environment.
        _ENV.EnvPutInt(key, value)


def new_file() -> Any:
    """Return a new, unopened ``XRootD.client.File``."""
    return _FILE.File()


def new_filesystem(url: str) -> Any:
    """Return an ``XRootD.client.FileSystem`` for ``root://HOST[:PORT]`` (no I/O yet)."""
    return _FILESYSTEM.FileSystem(url)


def failure(status: Any) -> XRootDFailure:
    """Return the exception for an unsuccessful ``XRootDStatus``."""
    return XRootDFailure(int(status.code), int(status.errno or 0), str(status.message))


def is_missing(exc: XRootDFailure) -> bool:
    """True when ``exc`` says the path does not exist."""
    return isinstance(translate_exception(exc, ""), NotFound)


class Request:
    """One submitted XRootD request.

    Attributes:
        done: resolves with ``(status, response)`` when the client reports back.
    """

    __slots__ = ("done",)

    def __init__(self, done: asyncio.Future[tuple[Any, Any]]) -> None:
        self.done = done

    async def result(self) -> Any:
        """Wait for the response (shielded: cancelling the waiter leaves ``done`` alone).

        Raises:
            XRootDFailure: the request failed.
        """
        status, response = await asyncio.shield(self.done)
        if not status.ok:
            raise failure(status)
        return response

    async def settle(self) -> None:
        """Wait until the request ended, whatever its outcome."""
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(self.done)


def _resolve(future: asyncio.Future[tuple[Any, Any]], status: Any, response: Any) -> None:
    if not future.done():
        future.set_result((status, response))


def submit(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Request:
    """Start ``method(*args, callback=..., **kwargs)`` and return the pending request.

    Raises:
        XRootDFailure: the client refused to start the request.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[tuple[Any, Any]] = loop.create_future()

    def callback(status: Any, response: Any, hostlist: Any, _keep: Any = (method, args)) -> None:
        # Runs on an XRootD thread. The loop may be gone if the program ended
        # with the request in flight: nobody waits for the answer then.
        # ``_keep``: the bindings read a write's buffer while the request runs
        # without holding a reference to it, and a request nobody awaits (a
        # read file's close) must keep its file object alive; the client holds
        # this callback.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, future, status, response)

    try:
        status = method(*args, callback=callback, **kwargs)
    except ValueError as exc:
        future.cancel()
        if "closed file" not in str(exc):
            raise
        # The client closes a file whose connection broke; the request that
        # saw the break may still be pending, but this one cannot start.
        raise XRootDFailure(_STREAM_DISCONNECT, 0, "file closed: connection lost") from exc
    if not status.ok:
        future.cancel()
        raise failure(status)
    return Request(future)


async def call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one XRootD request and return its response.

    Raises:
        XRootDFailure: the request failed.
    """
    return await submit(method, *args, **kwargs).result()


def start_close(handle: Any, timeout: int) -> concurrent.futures.Future[None] | None:
    """Close ``handle`` without waiting; the future (if any) resolves when it is closed.

    Callable from any thread; nothing wakes the event loop. Returns ``None``
    when no close was started (the file is not open, or the client refused).
    """
    done: concurrent.futures.Future[None] = concurrent.futures.Future()

    def callback(status: Any, response: Any, hostlist: Any, _keep: Any = handle) -> None:
        # ``_keep``: the file object must live until its close has ended.
        done.set_result(None)

    try:
        status = handle.close(timeout=timeout, callback=callback)
    except ValueError:  # already closed (its connection broke)
        return None
    return done if status.ok else None


class Step(NamedTuple):
    """One request of a :class:`Chain`: ``method(*args, timeout=..., callback=...)``.

    ``until_missing``: the chain goes on only if the answer is "not found"
    (a stat of a path that must not exist); a successful answer ends it.
    """

    method: Callable[..., Any]
    args: tuple[Any, ...] = ()
    until_missing: bool = False


class ChainEnd(NamedTuple):
    """How a :class:`Chain` ended.

    Attributes:
        completed: how many steps went through (all of them: success).
        error: the failure of step ``completed``, if it failed.
        response: the answer of the last step answered (a successful
            ``until_missing`` step's answer when it ended the chain).
    """

    completed: int
    error: XRootDFailure | None
    response: Any


class Chain:
    """Run :class:`Step` requests one after another without the event loop.

    Each step starts from the callback of the one before, on the XRootD
    client's own thread; :attr:`done` resolves on the loop once, with a
    :class:`ChainEnd`. Setting :attr:`stop` (from the loop) starts no further
    step. ``on_end(end)``, if given, runs where the chain ends (usually the
    client's thread) before the loop hears of it, and must not raise. Must be
    created on the event loop.
    """

    __slots__ = ("_index", "_loop", "_on_end", "_response", "_steps", "_timeout", "done", "stop")

    def __init__(
        self,
        steps: Sequence[Step],
        timeout: int,
        on_end: Callable[[ChainEnd], None] | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._steps = steps
        self._timeout = timeout
        self._on_end = on_end
        self._index = 0
        self._response: Any = None
        self.stop = False
        self.done: asyncio.Future[ChainEnd] = self._loop.create_future()

    def start(self) -> Chain:
        """Start the first step; return ``self``."""
        self._next()
        return self

    def _next(self) -> None:
        step = self._steps[self._index]
        try:
            status = step.method(*step.args, timeout=self._timeout, callback=self._callback)
        except ValueError as exc:
            if "closed file" not in str(exc):
                raise
            # The client closes a file whose connection broke.
            self._end(XRootDFailure(_STREAM_DISCONNECT, 0, "file closed: connection lost"))
            return
        if not status.ok:
            self._end(failure(status))

    def _callback(self, status: Any, response: Any, hostlist: Any) -> None:
        # Runs on an XRootD thread; it must never raise. The step's arguments
        # (a write's buffer, the file object) stay referenced by ``_steps``.
        step = self._steps[self._index]
        error = None if status.ok else failure(status)
        if step.until_missing:
            if error is None:
                self._response = response
                self._end(None)
                return
            if not is_missing(error):
                self._end(error)
                return
        elif error is not None:
            self._end(error)
            return
        else:
            self._response = response
        self._index += 1
        if self._index == len(self._steps) or self.stop:
            self._end(None)
            return
        try:
            self._next()
        except Exception as exc:  # noqa: BLE001 - handed to the waiting coroutine
            self._end(XRootDFailure(0, 0, f"could not start the next request: {exc}"))

    def _end(self, error: XRootDFailure | None) -> None:
        end = ChainEnd(self._index, error, self._response)
        if self._on_end is not None:
            self._on_end(end)
        # The loop may be gone if the program ended with the chain running.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(_resolve_end, self.done, end)


def _resolve_end(future: asyncio.Future[ChainEnd], end: ChainEnd) -> None:
    if not future.done():
        future.set_result(end)
