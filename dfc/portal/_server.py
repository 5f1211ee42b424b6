"""Mounting the portal in the catalogue server, for the credential of each request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfc.portal._app import create_portal
from dfc.portal._identities import PerIdentity

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aiohttp import web

    from dfc.api import DFC
    from dfc.auth.identity import Identity
    from dfc.server.config import ServerConfig

__all__ = ["PREFIX", "mount"]

#: Where the portal lives on the catalogue server.
PREFIX = "/portal/"


def mount(app: web.Application, config: ServerConfig) -> None:
    """Serve the portal under :data:`PREFIX` of the catalogue server ``app``.

    Requests pass the server's middleware first (authentication; a refused credential is
    its JSON 401); each page then runs the API as the authenticated identity, with the
    server's policy, so it shows only what the API would.

    Args:
        app: the server application (before it starts).
        config: its configuration (catalogue URL and ``[authz]`` policy).
    """
    from pathlib import Path

    from dfc.api import DFC
    from dfc.config import Settings
    from dfc.server.middleware import IDENTITY

    settings = Settings(
        config_file=Path("/nonexistent/dfc-server-portal.toml"),
        data_dir=Path("/nonexistent"),
        catalog_url=config.catalog,
        raw={"authz": dict(config.authz)} if config.authz else {},
    )

    def make(identity: Identity) -> DFC:
        return DFC(settings, identity=identity)

    def identity_of(request: web.Request) -> Identity:
        return request[IDENTITY]

    apis = PerIdentity(make, identity_of)

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        yield
        apis.close()

    portal = create_portal(apis, threads=config.threads)
    portal.cleanup_ctx.append(lifetime)
    app.add_subapp(PREFIX, portal)
