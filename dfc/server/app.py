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
import signal
import sys
from typing import TYPE_CHECKING

from aiohttp import web

from dfc.api import CatalogService, Policy
from dfc.auth import Authenticator, TokenIssuer, TokenVerifier, server_context
from dfc.server._bridge import Bridge
from dfc.server.middleware import (
    IDENTITIES,
    Identities,
    JsonFormatter,
    authenticate,
    handle_errors,
)
from dfc.server.routes import BRIDGE, CONFIG, SERVICE, add_routes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

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
    )
    bridge = Bridge(config.threads, _STREAMS)
    app = web.Application(
        client_max_size=config.max_body, middlewares=[handle_errors, authenticate]
    )
    app[CONFIG] = config
    app[SERVICE] = service
    app[BRIDGE] = bridge
    app[IDENTITIES] = Identities(authenticator, bridge)
    app.cleanup_ctx.append(_lifetime)
    add_routes(app)
    return app


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    yield
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, app[BRIDGE].shutdown)
    app[SERVICE].close()


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("dfc.server")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(level.upper() if level.upper() in logging.getLevelNamesMapping() else "INFO")


async def _run(config: ServerConfig) -> None:
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
        site = web.TCPSite(runner, config.host, config.port, ssl_context=context)
        await site.start()
        for address in runner.addresses:
            host, port = address[0], address[1]
            log.info("listening", extra={"dfc": {"url": f"https://{host}:{port}"}})
        print(f"dfc server: listening on {config.public_url}", file=sys.stderr, flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def serve(config: ServerConfig) -> None:
    """Run the server until SIGINT or SIGTERM.

    Raises:
        dfc.errors.ConfigError: a certificate, key, CA directory or JWKS is unusable.
        dfc.errors.CatalogError: the catalogue is not initialised or of another revision.
        OSError: the address cannot be bound.
    """
    _configure_logging(config.log_level)
    asyncio.run(_run(config))
