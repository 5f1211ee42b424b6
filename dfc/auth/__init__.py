"""The Global ID layer: X.509 proxy chains, VOMS attributes, WLCG tokens, mutual TLS.

Modules, one concept each:

- :mod:`dfc.auth.chain`: ``validate_chain`` (RFC 3820 proxy chains to a CA directory).
- :mod:`dfc.auth.voms`: ``verify_voms`` (VOMS attribute certificates, fully verified).
- :mod:`dfc.auth.proxy`: ``make_proxy``, ``load_proxy``, ``write_proxy``, ``proxy_info``.
- :mod:`dfc.auth.tokens`: ``TokenVerifier``, ``TokenScopes`` (WLCG JWT profile).
- :mod:`dfc.auth.identity`: ``Identity``, the value authorisation works on.
- :mod:`dfc.auth.authenticator`: ``Authenticator``, credential -> identity with a cache.
- :mod:`dfc.auth.tls`: server/client ``SSLContext`` for proxies, ``peer_chain``.
- :mod:`dfc.auth.ca`, :mod:`dfc.auth.dn`, :mod:`dfc.auth.fqan`, :mod:`dfc.auth.locations`:
  CA directories, DN text, FQAN syntax, default file locations.
- :mod:`dfc.auth.errors`: the error classes (all ``dfc.errors.PermissionDenied``).

Names load on first use, so importing :class:`Identity` does not import PyJWT or pyasn1.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dfc.auth.authenticator import Authenticator
    from dfc.auth.ca import TrustStore, subject_hash
    from dfc.auth.chain import ChainIdentity, validate_chain
    from dfc.auth.errors import (
        AuthenticationFailed,
        CertificateExpired,
        CertificateRevoked,
        InsufficientRights,
        InvalidProxy,
        InvalidToken,
        ReadOnlyCredential,
        ScopeDenied,
        UntrustedCertificate,
        VOMSError,
    )
    from dfc.auth.identity import Identity
    from dfc.auth.proxy import ProxyInfo, ProxyType, load_proxy, make_proxy, proxy_info, write_proxy
    from dfc.auth.tls import client_context, peer_chain, server_context
    from dfc.auth.tokens import TokenClaims, TokenIssuer, TokenScopes, TokenVerifier
    from dfc.auth.voms import VOMSAttributes, verify_voms

__all__ = [
    "AuthenticationFailed",
    "Authenticator",
    "CertificateExpired",
    "CertificateRevoked",
    "ChainIdentity",
    "Identity",
    "InsufficientRights",
    "InvalidProxy",
    "InvalidToken",
    "ProxyInfo",
    "ProxyType",
    "ReadOnlyCredential",
    "ScopeDenied",
    "TokenClaims",
    "TokenIssuer",
    "TokenScopes",
    "TokenVerifier",
    "TrustStore",
    "UntrustedCertificate",
    "VOMSAttributes",
    "VOMSError",
    "client_context",
    "load_proxy",
    "make_proxy",
    "peer_chain",
    "proxy_info",
    "server_context",
    "subject_hash",
    "validate_chain",
    "verify_voms",
    "write_proxy",
]

_HOMES = {
    "Authenticator": "authenticator",
    "TrustStore": "ca",
    "subject_hash": "ca",
    "ChainIdentity": "chain",
    "validate_chain": "chain",
    "Identity": "identity",
    "ProxyInfo": "proxy",
    "ProxyType": "proxy",
    "load_proxy": "proxy",
    "make_proxy": "proxy",
    "proxy_info": "proxy",
    "write_proxy": "proxy",
    "client_context": "tls",
    "peer_chain": "tls",
    "server_context": "tls",
    "TokenClaims": "tokens",
    "TokenIssuer": "tokens",
    "TokenScopes": "tokens",
    "TokenVerifier": "tokens",
    "VOMSAttributes": "voms",
    "verify_voms": "voms",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        module = importlib.import_module(f"dfc.auth.{_HOMES[name]}")
    elif name in __all__:
        module = importlib.import_module("dfc.auth.errors")
    else:
        raise AttributeError(f"module 'dfc.auth' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value
