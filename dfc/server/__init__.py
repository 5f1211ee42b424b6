"""The catalogue server: aiohttp, HTTPS with mutual TLS (X.509 proxies) or bearer tokens.

``dfc server --config server.toml`` runs it (see :mod:`dfc.server.config` for the file);
:func:`create_app` builds the application for embedding and tests.
"""

from __future__ import annotations

from dfc.server.app import create_app, serve
from dfc.server.config import ServerConfig, TokenIssuerConfig

__all__ = ["ServerConfig", "TokenIssuerConfig", "create_app", "serve"]
