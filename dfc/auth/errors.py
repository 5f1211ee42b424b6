"""Errors of the Global ID layer.

Every class derives from :class:`dfc.errors.PermissionDenied` (errno ``EACCES``), so
code that only knows dfc's kernel errors still treats them as "not allowed". The
split matters to the server: :class:`AuthenticationFailed` and its subclasses mean
"who you are could not be established" (HTTP 401); :class:`InsufficientRights`
means "you are known, but may not do this" (HTTP 403).

Tree::

    PermissionDenied (dfc.errors)
    ├── AuthenticationFailed          credential refused (401)
    │   ├── CertificateError          a certificate of the chain is unusable
    │   │   ├── CertificateExpired    outside its validity period
    │   │   ├── CertificateRevoked    listed in its CA's CRL
    │   │   └── UntrustedCertificate  does not chain to a trusted CA / bad signature
    │   ├── InvalidProxy              RFC 3820 rules broken (name, ProxyCertInfo, path length,
    │   │                             independent, legacy or draft proxy)
    │   ├── VOMSError                 the VOMS attribute certificate does not verify
    │   └── InvalidToken              the bearer token does not verify
    └── InsufficientRights            known identity, operation not allowed (403)
        ├── ReadOnlyCredential        a limited proxy tried to change something
        └── ScopeDenied               the token's storage scopes do not cover the path
"""

from __future__ import annotations

from dfc.errors import PermissionDenied

__all__ = [
    "AuthenticationFailed",
    "CertificateError",
    "CertificateExpired",
    "CertificateRevoked",
    "InsufficientRights",
    "InvalidProxy",
    "InvalidToken",
    "ReadOnlyCredential",
    "ScopeDenied",
    "UntrustedCertificate",
    "VOMSError",
]


class AuthenticationFailed(PermissionDenied):
    """The credential presented could not be verified: the caller is not authenticated."""


class CertificateError(AuthenticationFailed):
    """A certificate of the chain is unusable."""


class CertificateExpired(CertificateError):
    """A certificate is not yet valid or has expired."""


class CertificateRevoked(CertificateError):
    """A certificate is revoked by its CA's certificate revocation list."""


class UntrustedCertificate(CertificateError):
    """A certificate does not chain to a trusted CA, or a signature does not verify."""


class InvalidProxy(AuthenticationFailed):
    """A proxy certificate breaks the RFC 3820 rules or is of a refused kind."""


class VOMSError(AuthenticationFailed):
    """A VOMS attribute certificate is malformed, untrusted, expired or not the holder's."""


class InvalidToken(AuthenticationFailed):
    """A bearer token is malformed, untrusted, expired or not meant for this service."""


class InsufficientRights(PermissionDenied):
    """The caller is authenticated but the credential does not allow this operation."""


class ReadOnlyCredential(InsufficientRights):
    """A limited proxy may read but not change anything."""


class ScopeDenied(InsufficientRights):
    """The bearer token's storage scopes do not cover this operation on this path."""
