"""The aiohttp application of the catalogue server, and running it with mutual TLS.

:func:`create_app` builds the application from a :class:`ServerConfig` (for tests,
``aiohttp.test_utils``, or :func:`serve`); :func:`serve` runs it on HTTPS with the host
certificate, accepting RFC 3820 proxies (``ssl.VERIFY_ALLOW_PROXY_CERTS``) and checking
CRLs for whole chains. Client certificates are optional at the TLS layer so that bearer
tokens work, but every request other than ``/api/v1/health`` needs a credential.

The server is stateless: it keeps only caches of verified credentials and of the
registry's view of identities (``cache_seconds``), so any number of server processes
can share one PostgreSQL catalogue.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import multiprocessing
import queue
import signal
import sys
import threading
from typing import TYPE_CHECKING

from aiohttp import web

from dfc.api import CatalogService, Policy
from dfc.auth import Authenticator, TokenIssuer, TokenVerifier, server_context
from dfc.errors import ConfigError, DFCError
from dfc.portal._server import mount as mount_portal
from dfc.server._bridge import Bridge
from dfc.server.middleware import (
    IDENTITIES,
    Identities,
    JsonFormatter,
    handle_errors,
)
from dfc.server.routes import BRIDGE, CONFIG, SERVICE, add_routes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from dfc.server.config import ServerConfig

__all__ = ["create_app", "serve"]

log = logging.getLogger("dfc.server")
#: Threads for concurrent streamed listings (each holds a database connection).
_STREAMS = 4


def _tokens(config: ServerConfig) -> TokenVerifier | None:
    if not config.token_issuers:
        return None
    issuers = [
        TokenIssuer.from_jwks(i.issuer, i.jwks, vo=i.vo, base_path=i.base_path)
        for i in config.token_issuers
    ]
    audiences = config.token_audiences or (config.public_url,)
    return TokenVerifier(
        issuers, audiences=audiences, accept_any_audience=config.accept_any_audience
    )


def create_app(config: ServerConfig) -> web.Application:
    """Build the server application.

    Args:
        config: the server configuration.

    Returns:
        The application; its catalogue connections close at cleanup.

    Raises:
        dfc.errors.ConfigError: the CA directory, a JWKS file or the policy is unusable.
        dfc.errors.CatalogError: the catalogue URL is invalid.
    """
    authenticator = Authenticator(
        ca_dir=config.ca_dir,
        vomsdir=config.vomsdir,
        vos=config.vos or None,
        tokens=_tokens(config),
        target=config.host if config.host not in ("0.0.0.0", "::", "") else None,
        require_crls=config.crl_check,
    )
    service = CatalogService(
        config.catalog,
        policy=Policy.from_config(config.authz),
        cache_seconds=config.cache_seconds,
        max_items=config.max_items,
        pool_size=config.threads + _STREAMS,
    )
    bridge = Bridge(config.threads, _STREAMS)
    app = web.Application(client_max_size=config.max_body, middlewares=[handle_errors])
    app[CONFIG] = config
    app[SERVICE] = service
    app[BRIDGE] = bridge
    app[IDENTITIES] = Identities(authenticator, bridge)
    app.cleanup_ctx.append(_lifetime)
    add_routes(app)
    mount_portal(app, config)
    return app


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    yield
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, app[BRIDGE].shutdown)
    app[SERVICE].close()


def _configure_logging(level: str) -> logging.handlers.QueueListener:
    """JSON lines on stderr, formatted and written by a thread of their own.

    Returns:
        The started listener (stop it to flush).
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(records, handler)
    logger = logging.getLogger("dfc.server")
    logger.handlers[:] = [_Enqueue(records)]
    logger.propagate = False
    logger.setLevel(level.upper() if level.upper() in logging.getLevelNamesMapping() else "INFO")
    listener.start()
    return listener


class _Enqueue(logging.handlers.QueueHandler):
    """Hands records to the writer thread as they are (formatting happens there)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        """The record itself: it is formatted once, by the writer."""
        return record


async def _run(config: ServerConfig, *, reuse_port: bool = False) -> None:
    context = server_context(
        certfile=config.hostcert,
        keyfile=config.hostkey,
        ca_dir=config.ca_dir,
        crl_check=config.crl_check,
        require_client_cert=False,
    )
    app = create_app(config)
    app[SERVICE].check_schema()
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        site = web.TCPSite(
            runner, config.host, config.port, ssl_context=context, reuse_port=reuse_port or None
        )
        await site.start()
        for address in runner.addresses:
            host, port = address[0], address[1]
            log.info("listening", extra={"dfc": {"url": f"https://{host}:{port}"}})
        print(f"dfc server: listening on {config.public_url}", file=sys.stderr, flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def _loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop factory for ``loop = auto | asyncio | uvloop`` (None: asyncio's).

    uvloop's TLS and socket I/O cost about a third less CPU per request than asyncio's;
    ``auto`` takes it when it is installed.

    Raises:
        ConfigError: ``uvloop`` was chosen and is not installed.
    """
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError(
                "loop = 'uvloop' but uvloop is not installed (pip install uvloop)"
            ) from None
        return None
    return uvloop.new_event_loop


def _start(config: ServerConfig, *, reuse_port: bool = False) -> None:
    """Run one server process's event loop until SIGINT or SIGTERM."""
    with asyncio.Runner(loop_factory=_loop_factory(config.loop)) as runner:
        runner.run(_run(config, reuse_port=reuse_port))


def _worker(config: ServerConfig) -> None:
    """One of several server processes sharing the port (``SO_REUSEPORT``)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    listener = _configure_logging(config.log_level)  # the parent's writer thread is not here
    try:
        _start(config, reuse_port=True)
    except DFCError as exc:
        print(f"dfc server: {exc}", file=sys.stderr, flush=True)
        sys.exit(min(exc.errno, 255) or 1)
    finally:
        listener.stop()


def _supervise(config: ServerConfig) -> None:
    """Run ``config.processes`` processes; stop all when one fails or on SIGINT/SIGTERM."""
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_worker, args=(config,)) for _ in range(config.processes)]
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopping.set()
        for proc in workers:
            if proc.is_alive():
                proc.terminate()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    for proc in workers:
        proc.start()
    code = 0
    while any(p.is_alive() for p in workers):
        for proc in workers:
            proc.join(timeout=0.2)
            if not proc.is_alive() and proc.exitcode and not stopping.is_set():
                code = proc.exitcode
                stop(signal.SIGTERM, None)
    for proc in workers:
        proc.join()
    if code:
        sys.exit(code)


def serve(config: ServerConfig) -> None:
    """Run the server (``config.processes`` processes) until SIGINT or SIGTERM.

    Raises:
        dfc.errors.ConfigError: a certificate, key, CA directory or JWKS is unusable.
        dfc.errors.CatalogError: the catalogue is not initialised or of another revision.
        OSError: the address cannot be bound.
    """
    listener = _configure_logging(config.log_level)
    try:
        if config.processes > 1:
            _supervise(config)
        else:
            _start(config)
    finally:
        listener.stop()
