"""The portal application: routes, the error pages and the single-user secret."""

from __future__ import annotations

import asyncio
import hmac
import itertools
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from aiohttp import web

from dfc.errors import AlreadyExists, DFCError, InvalidArgument, NotFound, PermissionDenied
from dfc.portal._render import render

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable

    from dfc.api import DFC

__all__ = ["API_FOR", "ApiFor", "call", "create_portal", "serve", "status_of", "take"]

T = TypeVar("T")

#: Gives the API object acting for the request's caller.
ApiFor = Callable[[web.Request], "DFC"]
API_FOR = web.AppKey[ApiFor]("portal_api_for")
_EXECUTOR = web.AppKey("portal_executor", ThreadPoolExecutor)
_SECRET = web.AppKey("portal_secret", str)
_COOKIE = "dfc_portal"
_STATIC = Path(__file__).parent / "static"
_TITLES = {401: "Not authenticated", 403: "Forbidden", 404: "Not found", 400: "Bad request"}


def status_of(exc: DFCError) -> int:
    """The HTTP status of an API error (as the catalogue server maps them)."""
    from dfc.auth.errors import AuthenticationFailed

    if isinstance(exc, AuthenticationFailed):
        return 401
    for kind, status in (
        (PermissionDenied, 403),
        (NotFound, 404),
        (InvalidArgument, 400),
        (AlreadyExists, 409),
    ):
        if isinstance(exc, kind):
            return status
    return 500


def take(items: Iterator[T], start: int, stop: int) -> list[T]:
    """Items ``start`` to ``stop`` of a stream, which is then closed (ending its transaction)."""
    try:
        return list(itertools.islice(items, start, stop))
    finally:
        if isinstance(items, Generator):
            items.close()


async def call(request: web.Request, fn: Callable[[DFC], T]) -> T:
    """Run ``fn(api)`` on the portal's threads, ``api`` acting for the caller.

    Raises:
        DFCError: whatever ``fn`` raises.
    """
    app = request.config_dict
    api = app[API_FOR](request)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(app[_EXECUTOR], fn, api)


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except DFCError as exc:
        status = status_of(exc)
        title = _TITLES.get(status, "Error")
        return render(
            request,
            "error.html",
            {"title": title, "status": status, "message": str(exc)},
            status=status,
        )


@web.middleware
async def _secret(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """With a secret (``dfc web``), only a browser that presented it gets pages."""
    secret = request.app[_SECRET]
    if not secret or request.match_info.route.name == "static":
        return await handler(request)
    given = request.query.get("token")
    if given is not None and hmac.compare_digest(given.encode(), secret.encode()):
        query = {k: v for k, v in request.query.items() if k != "token"}
        response = web.HTTPFound(str(request.rel_url.with_query(query)))
        response.set_cookie(_COOKIE, secret, httponly=True, samesite="Strict")
        raise response
    cookie = request.cookies.get(_COOKIE, "")
    if hmac.compare_digest(cookie.encode(), secret.encode()):
        return await handler(request)
    return render(
        request,
        "error.html",
        {
            "title": "Not authenticated",
            "status": 401,
            "message": "open the address printed by `dfc web` (it carries the access token)",
        },
        status=401,
    )


async def _index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(str(request.app.router["browse"].url_for()))


def create_portal(api_for: ApiFor, *, secret: str = "", threads: int = 2) -> web.Application:
    """Build the portal application.

    Args:
        api_for: gives the :class:`dfc.DFC` acting for a request's caller (a fixed one
            for ``dfc web``; per credential behind the catalogue server).
        secret: when set, a browser must first open a page with ``?token=<secret>``
            (it then gets a cookie): other local users cannot use ``dfc web``.
        threads: threads running the API calls.

    Returns:
        The application, to run or to mount with ``add_subapp``.
    """
    from dfc.portal import catalog, jobs, ses, transfers

    app = web.Application(middlewares=[_secret, _errors])
    app[API_FOR] = api_for
    app[_SECRET] = secret
    app[_EXECUTOR] = ThreadPoolExecutor(threads, thread_name_prefix="dfc-portal")
    app.cleanup_ctx.append(_lifetime)
    app.router.add_get("/", _index, name="index")
    app.router.add_static("/static/", _STATIC, name="static")
    catalog.add_routes(app)
    ses.add_routes(app)
    transfers.add_routes(app)
    jobs.add_routes(app)
    return app


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    yield
    app[_EXECUTOR].shutdown(wait=True)


def serve(
    api_for: ApiFor,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    secret: str = "",
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the portal over plain HTTP until SIGINT or SIGTERM (``dfc web``).

    Args:
        api_for: gives the API object acting for a request's caller.
        host: the listen address.
        port: the port (0: any free one).
        secret: the access token a browser must present first (see :func:`create_portal`).
        ready: called with the base URL once listening.

    Raises:
        OSError: the address cannot be bound.
    """
    import signal

    async def run() -> None:
        runner = web.AppRunner(create_portal(api_for, secret=secret), access_log=None)
        await runner.setup()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound = runner.addresses[0]
            if ready is not None:
                name = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
                ready(f"http://{name}:{bound[1]}")
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(run())
