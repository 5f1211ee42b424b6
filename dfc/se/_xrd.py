"""The XRootD client's callbacks as asyncio futures, and its process-wide settings.

The XRootD Python bindings run every request asynchronously when given a
``callback``; the callback fires on one of the client's own threads. :func:`call`
submits a request and returns an awaitable resolved on the caller's event loop,
so no thread of ours waits on the network.

An awaited request can be cancelled; the XRootD request itself cannot. Its
future is shielded: the caller sees the cancellation at once, and whoever must
wait for the request to really end (before closing a file, say) awaits
:attr:`Request.done`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from XRootD.client import env as _env
from XRootD.client import file as _file
from XRootD.client import filesystem as _filesystem

from dfc.se._errors import XRootDFailure

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Request", "call", "configure_client", "failure", "new_file", "new_filesystem", "submit"]

_STREAM_DISCONNECT = 107  # XrdCl errStreamDisconnect

# The bindings carry no type information.
_ENV: Any = _env
_FILE: Any = _file
_FILESYSTEM: Any = _filesystem

#: XRootD client settings dfc wants unless the user set ``XRD_*`` variables.
#: The client's own defaults retry a lost connection for 5 x 120 s and remember
#: a failed stream for 30 min, so a restarted server would stay unreachable; dfc
#: retries at the transfer level instead and wants errors to surface at once.
CLIENT_DEFAULTS: dict[str, int] = {
    "ConnectionRetry": 1,
    "ConnectionWindow": 10,
    "StreamErrorWindow": 0,
    "TimeoutResolution": 1,
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
