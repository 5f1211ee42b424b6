"""The XRootD client's callbacks as asyncio futures, and its process-wide settings.

The XRootD Python bindings run every request asynchronously when given a
``callback``; the callback fires on one of the client's own threads. :func:`call`
submits a request and returns an awaitable resolved on the caller's event loop,
so no thread of ours waits on the network.

dfc drives the bindings' extension objects (``pyxrootd.client.File`` and
``FileSystem``) directly: statuses and answers are the plain dicts (or bytes)
they build. The documented classes of ``XRootD.client`` wrap each of them in
Python objects at every call and every answer (a callback wrapper, a status
object, a host list with one object per host), about an eighth of the client
thread's CPU time for small files.

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

Each answer runs Python code on one of the client's threads, which the
interpreter did not create. The bindings wrap every callback in
``PyGILState_Ensure``/``PyGILState_Release``, and on such a thread the release
deletes the thread state the ensure created: every answer built and tore down
a thread state, and in CPython 3.11 that maps and unmaps its frame stack (an
``munmap`` that interrupts every core to flush its TLB). That was about a
third of the client thread's CPU time for small files. The first callback on
each client thread therefore takes one more ``PyGILState_Ensure`` that is
never released (:func:`_keep_thread_state`), the C API's own way to keep a
thread state: later callbacks reuse it. It costs one thread state per client
thread for the life of the process (the client restarts its threads around a
``fork()``: one more each time); the bindings' exit handler stops those
threads before the interpreter finalizes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import threading
from typing import TYPE_CHECKING, Any, NamedTuple

from pyxrootd import client as _client
from XRootD.client import env as _env  # importing XRootD.client also sets up its exit handler

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
_CLIENT: Any = _client

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


_ENSURE = ctypes.pythonapi.PyGILState_Ensure
_ENSURE.argtypes = []
_ENSURE.restype = ctypes.c_int
_thread_kept = threading.local()


def _keep_thread_state() -> None:
    """Keep the calling thread's Python thread state for good (see the module doc).

    Cheap after the first call on a thread: its flag lives in that thread state.
    """
    if not getattr(_thread_kept, "done", False):
        _thread_kept.done = True
        _ENSURE()


def configure_client() -> None:
    """Apply :data:`CLIENT_DEFAULTS` (a ``XRD_<NAME>`` environment variable wins).

    The settings are process-wide and read when the client first connects, so
    this runs before any XRootD request of dfc; it is idempotent.
    """
    for key, value in CLIENT_DEFAULTS.items():
        # Returns False, changing nothing, when XRD_<KEY> was set in the environment.
        _ENV.EnvPutInt(key, value)


def new_file() -> Any:
    """Return a new, unopened ``pyxrootd.client.File``."""
    return _CLIENT.File()


def new_filesystem(url: str) -> Any:
    """Return a ``pyxrootd.client.FileSystem`` for ``root://HOST[:PORT]`` (no I/O yet)."""
    return _CLIENT.FileSystem(url)


def failure(status: Any) -> XRootDFailure:
    """Return the exception for an unsuccessful status (the bindings' dict)."""
    return XRootDFailure(int(status["code"]), int(status["errno"] or 0), str(status["message"]))


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
        if not status["ok"]:
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
        _keep_thread_state()
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
    if not status["ok"]:
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
        _keep_thread_state()
        done.set_result(None)

    try:
        status = handle.close(timeout=timeout, callback=callback)
    except ValueError:  # already closed (its connection broke)
        return None
    return done if status["ok"] else None


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

    The caller awaits :meth:`wait`, not :attr:`done`: a cancelled caller
    cancels only its waiter, and :attr:`done` still tells when the chain
    really ended (what ``asyncio.shield(chain.done)`` gave, for two fewer
    loop callbacks per chain).
    """

    __slots__ = (
        "_index",
        "_loop",
        "_on_end",
        "_response",
        "_steps",
        "_timeout",
        "_waiter",
        "done",
        "stop",
    )

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
        self._waiter: asyncio.Future[ChainEnd] | None = None

    def start(self) -> Chain:
        """Start the first step; return ``self``."""
        self._next()
        return self

    def wait(self) -> asyncio.Future[ChainEnd]:
        """A future of the chain's end for one caller to await (once, on the loop).

        Cancelling it (the caller was cancelled) leaves :attr:`done` and the
        chain alone.
        """
        if self.done.done():
            return self.done  # a finished future cannot be cancelled
        self._waiter = self._loop.create_future()
        return self._waiter

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
        if not status["ok"]:
            self._end(failure(status))

    def _callback(self, status: Any, response: Any, hostlist: Any) -> None:
        _keep_thread_state()
        # Runs on an XRootD thread; it must never raise. The step's arguments
        # (a write's buffer, the file object) stay referenced by ``_steps``.
        step = self._steps[self._index]
        error = None if status["ok"] else failure(status)
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
            self._loop.call_soon_threadsafe(self._resolve, end)

    def _resolve(self, end: ChainEnd) -> None:
        # On the loop: ``done`` first, so that its callbacks run before the waiter's task.
        if not self.done.done():
            self.done.set_result(end)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(end)
