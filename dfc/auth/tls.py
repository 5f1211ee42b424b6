"""TLS contexts for mutual authentication with grid proxies, and the peer's chain.

Server side: OpenSSL must be told to accept proxy certificates
(``ssl.VERIFY_ALLOW_PROXY_CERTS``), and to check CRLs for the whole chain
(``VERIFY_CRL_CHECK_CHAIN``: with ``CRL_CHECK_LEAF`` only the proxy is checked, so a
revoked user's proxy passes). The context is built with ``ssl.SSLContext`` rather than
``create_default_context`` (Python 3.13 adds ``VERIFY_X509_STRICT`` there, which refuses
proxies without an authority key identifier).

OpenSSL still accepts limited, independent and non-critical-ProxyCertInfo proxies and never
looks at VOMS ACs, so the application re-validates: take the chain with :func:`peer_chain`
and pass it to :func:`dfc.auth.chain.validate_chain` (or use
:class:`dfc.auth.authenticator.Authenticator`).

In an aiohttp handler::

    chain = peer_chain(request.transport)
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Protocol

from cryptography import x509

from dfc.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["client_context", "peer_chain", "server_context"]

_MIN_VERSION = ssl.TLSVersion.TLSv1_2
# The DER encoding selector of the private _ssl.Certificate.public_bytes (Python < 3.13).
_ENCODING_DER = 2


class _HasExtraInfo(Protocol):
    def get_extra_info(self, name: str, default: object = None) -> object: ...


def _load_verify(ctx: ssl.SSLContext, ca_dir: Path) -> None:
    if not ca_dir.is_dir():
        raise ConfigError(f"CA directory {ca_dir} does not exist")
    ctx.load_verify_locations(capath=str(ca_dir))


def server_context(
    *,
    certfile: Path,
    keyfile: Path,
    ca_dir: Path,
    crl_check: bool = True,
    require_client_cert: bool = True,
) -> ssl.SSLContext:
    """A server context for mutual TLS that accepts RFC 3820 proxy chains.

    Args:
        certfile: the host certificate (PEM, may include its chain).
        keyfile: the host key.
        ca_dir: the hashed CA directory (with ``<hash>.r0`` CRLs when ``crl_check``).
        crl_check: check every certificate of client chains against CRLs; a CA without a
            CRL then fails the handshake (run fetch-crl).
        require_client_cert: refuse clients without a certificate; set False to allow
            bearer-token clients (the certificate is then optional but verified if sent).

    Returns:
        The context.

    Raises:
        dfc.errors.ConfigError: a file is missing or unusable.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _MIN_VERSION
    try:
        ctx.load_cert_chain(str(certfile), str(keyfile))
        _load_verify(ctx, ca_dir)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot set up the TLS server: {exc}") from exc
    ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    ctx.verify_flags |= ssl.VERIFY_ALLOW_PROXY_CERTS
    if crl_check:
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_CHAIN
    return ctx


def client_context(
    *,
    ca_dir: Path,
    proxy: Path | None = None,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    check_hostname: bool = True,
) -> ssl.SSLContext:
    """A client context presenting a proxy (or a certificate and key) to the server.

    Args:
        ca_dir: the hashed CA directory that the server certificate must chain to.
        proxy: a proxy file (certificate, key and chain in one file).
        certfile: a certificate file, instead of ``proxy``.
        keyfile: its key (default: in ``certfile``).
        check_hostname: verify that the server certificate names the host connected to.

    Returns:
        The context.

    Raises:
        dfc.errors.ConfigError: a file is missing or unusable.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = _MIN_VERSION
    ctx.check_hostname = check_hostname
    ctx.verify_mode = ssl.CERT_REQUIRED
    try:
        _load_verify(ctx, ca_dir)
        if proxy is not None:
            ctx.load_cert_chain(str(proxy), str(proxy))
        elif certfile is not None:
            ctx.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot set up the TLS client: {exc}") from exc
    return ctx


def peer_chain(source: ssl.SSLObject | ssl.SSLSocket | _HasExtraInfo) -> list[x509.Certificate]:
    """The certificate chain the TLS peer presented, as OpenSSL verified it, leaf first.

    Args:
        source: an ``ssl.SSLObject``/``ssl.SSLSocket``, or a transport (an asyncio or
            aiohttp ``request.transport``) with ``get_extra_info("ssl_object")``.

    Returns:
        The verified chain including the trust anchor; empty if the peer sent no
        certificate or the connection is not TLS.
    """
    sslobj: object = source
    if not isinstance(source, ssl.SSLObject | ssl.SSLSocket):
        sslobj = source.get_extra_info("ssl_object")
    if not isinstance(sslobj, ssl.SSLObject | ssl.SSLSocket):
        return []
    public = getattr(sslobj, "get_verified_chain", None)
    if public is not None:  # Python >= 3.13: a list of DER bytes
        ders = [bytes(d) for d in public() or []]
    else:
        # Python 3.10-3.12 expose the chain only on the private _ssl object; its
        # Certificate.public_bytes(2) is the DER encoding.
        inner = getattr(sslobj, "_sslobj", None)
        getter = getattr(inner, "get_verified_chain", None)
        certs = getter() if getter is not None else None
        ders = [c.public_bytes(_ENCODING_DER) for c in certs or []]
    return [x509.load_der_x509_certificate(d) for d in ders]
