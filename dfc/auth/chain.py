"""Validation of X.509 certificate chains that may end in RFC 3820 proxy certificates.

``cryptography``'s verifier refuses proxies (their critical ProxyCertInfo extension is
"unaccounted for", and the user certificate that signs them is no CA), and OpenSSL's proxy
support lets limited, independent and non-critical-ProxyCertInfo proxies through. So the
whole path is checked here, in Python:

1. Split the chain: from the leaf upwards, every certificate with ProxyCertInfo is a proxy;
   the first one without it is the end-entity certificate (EEC). The identity is its subject.
2. EEC to CA: signatures, validity, CA basicConstraints/keyUsage/path length, and the CRLs of
   the CA directory for every certificate on the path.
3. Each proxy against its issuer (RFC 3820 section 4): signature and issuer name, validity,
   subject = issuer subject + one CN, ProxyCertInfo present and critical, no CA, no
   subjectAltName/issuerAltName, issuer keyUsage allows digitalSignature, a known policy
   language (inheritAll; the Globus limited language makes the chain limited; independent
   and any other language are refused), and the proxy path length constraints.

Legacy (Globus GT2, ``CN=proxy``) and draft (GT3, OID 1.3.6.1.4.1.3536.1.222) proxies are
refused with a message saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509.oid import ExtensionOID, NameOID

from dfc.auth import _asn1
from dfc.auth.ca import TrustStore
from dfc.auth.dn import dn_string
from dfc.auth.errors import (
    AuthenticationFailed,
    CertificateExpired,
    InvalidProxy,
    UntrustedCertificate,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = [
    "OID_DRAFT_PROXY",
    "OID_PROXY_CERT_INFO",
    "OID_VOMS_AC",
    "ChainIdentity",
    "ProxyLanguage",
    "ProxyPolicy",
    "proxy_policy",
    "validate_chain",
    "validate_end_entity",
]

OID_PROXY_CERT_INFO = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.14")
OID_DRAFT_PROXY = x509.ObjectIdentifier("1.3.6.1.4.1.3536.1.222")
OID_VOMS_AC = x509.ObjectIdentifier("1.3.6.1.4.1.8005.100.100.5")
_MAX_PATH = 12
_LEGACY_CNS = frozenset({"proxy", "limited proxy", "restricted proxy"})
# Critical extensions this validator understands; any other critical one is refused.
_KNOWN_CRITICAL = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.POLICY_CONSTRAINTS,
        ExtensionOID.POLICY_MAPPINGS,
        ExtensionOID.INHIBIT_ANY_POLICY,
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.CRL_DISTRIBUTION_POINTS,
        OID_PROXY_CERT_INFO,
    }
)


class ProxyLanguage(StrEnum):
    """RFC 3820 proxy policy languages (and the Globus limited-proxy one)."""

    INHERIT_ALL = "1.3.6.1.5.5.7.21.1"
    INDEPENDENT = "1.3.6.1.5.5.7.21.2"
    ANY_LANGUAGE = "1.3.6.1.5.5.7.21.0"
    LIMITED = "1.3.6.1.4.1.3536.1.1.1.9"


@dataclass(frozen=True)
class ProxyPolicy:
    """The ProxyCertInfo extension of one proxy certificate.

    Attributes:
        language: the policy language OID, dotted.
        path_length: pCPathLenConstraint (proxies it may still sign), None = unlimited.
        policy: the policy bytes, if any.
        critical: whether the extension is marked critical (RFC 3820 requires it).
    """

    language: str
    path_length: int | None
    policy: bytes | None
    critical: bool

    @property
    def kind(self) -> str:
        """``impersonation``, ``limited``, ``independent`` or ``unknown``."""
        return {
            ProxyLanguage.INHERIT_ALL.value: "impersonation",
            ProxyLanguage.LIMITED.value: "limited",
            ProxyLanguage.INDEPENDENT.value: "independent",
        }.get(self.language, "unknown")


@dataclass(frozen=True)
class ChainIdentity:
    """Who a validated chain identifies.

    Attributes:
        dn: the end-entity certificate's subject, OpenSSL oneline form (the identity).
        end_entity: the end-entity (user or host) certificate.
        limited: True if any proxy of the chain is a limited proxy (read-only use).
        proxies: how many proxy certificates precede the end-entity certificate.
        ca_dn: the issuer of the end-entity certificate.
        not_after: when the first certificate of the chain expires.
        certificates: the proxies (leaf first) followed by the end-entity certificate.
    """

    dn: str
    end_entity: x509.Certificate
    limited: bool
    proxies: int
    ca_dn: str
    not_after: datetime
    certificates: tuple[x509.Certificate, ...]


def proxy_policy(cert: x509.Certificate) -> ProxyPolicy | None:
    """Read the ProxyCertInfo extension of a certificate.

    Args:
        cert: any certificate.

    Returns:
        The policy, or None if the certificate has no ProxyCertInfo (it is no RFC 3820 proxy).

    Raises:
        InvalidProxy: the extension is malformed.
    """
    try:
        ext = _extensions(cert).get_extension_for_oid(OID_PROXY_CERT_INFO)
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    assert isinstance(value, x509.UnrecognizedExtension)
    try:
        data = _asn1.decode_proxy_cert_info(value.value)
    except ValueError as exc:
        raise InvalidProxy(f"malformed ProxyCertInfo in {_dn(cert)}: {exc}") from exc
    return ProxyPolicy(data.language, data.path_length, data.policy, ext.critical)


def _dn(cert: x509.Certificate) -> str:
    return dn_string(cert.subject)


def _extensions(cert: x509.Certificate) -> x509.Extensions:
    try:
        return cert.extensions
    except ValueError as exc:
        raise UntrustedCertificate(f"malformed extensions in certificate: {exc}") from exc


def _ext(
    cert: x509.Certificate, oid: x509.ObjectIdentifier
) -> x509.Extension[x509.ExtensionType] | None:
    try:
        return _extensions(cert).get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None


def _is_ca(cert: x509.Certificate) -> bool:
    ext = _ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
    return ext is not None and isinstance(ext.value, x509.BasicConstraints) and ext.value.ca


def _check_time(cert: x509.Certificate, now: datetime, what: str) -> None:
    if now < cert.not_valid_before_utc:
        raise CertificateExpired(
            f"{what} {_dn(cert)} is not valid before "
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S} UTC"
        )
    if now > cert.not_valid_after_utc:
        raise CertificateExpired(
            f"{what} {_dn(cert)} expired at {cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC"
        )


def _check_critical(cert: x509.Certificate, what: str, error: type[AuthenticationFailed]) -> None:
    for ext in _extensions(cert):
        if ext.critical and ext.oid not in _KNOWN_CRITICAL:
            if ext.oid == OID_DRAFT_PROXY:
                raise InvalidProxy(
                    f"{_dn(cert)} is a draft (pre-RFC, Globus GT3) proxy: not accepted, "
                    "make an RFC 3820 proxy"
                )
            raise error(
                f"{what} {_dn(cert)} has an unknown critical extension {ext.oid.dotted_string}"
            )


def _verify_issued_by(
    cert: x509.Certificate, issuer: x509.Certificate, error: type[AuthenticationFailed]
) -> None:
    try:
        cert.verify_directly_issued_by(issuer)
    except ValueError as exc:
        raise error(
            f"{_dn(cert)} names issuer {dn_string(cert.issuer)}, "
            f"but the certificate before it in the chain is {_dn(issuer)}"
        ) from exc
    except InvalidSignature as exc:
        raise error(
            f"the signature of {_dn(cert)} does not verify with the key of {_dn(issuer)}"
        ) from exc
    except (TypeError, UnsupportedAlgorithm) as exc:
        raise error(f"unsupported signature on {_dn(cert)}: {exc}") from exc


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, InvalidSignature, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _trust(ca_dir: Path | TrustStore) -> TrustStore:
    return ca_dir if isinstance(ca_dir, TrustStore) else TrustStore.from_dir(ca_dir)


def validate_end_entity(
    cert: x509.Certificate,
    *,
    intermediates: Sequence[x509.Certificate] = (),
    ca_dir: Path | TrustStore,
    now: datetime | None = None,
    require_crls: bool = False,
) -> list[x509.Certificate]:
    """Validate an end-entity certificate (user, host or VOMS server) up to a trusted CA.

    Args:
        cert: the end-entity certificate.
        intermediates: untrusted CA certificates that may help build the path.
        ca_dir: the hashed CA directory, or a loaded :class:`TrustStore`.
        now: the time of validation (default: now).
        require_crls: refuse a CA without a current CRL (OpenSSL ``CRL_CHECK_CHAIN``).

    Returns:
        The path from ``cert`` to the trust anchor, both included.

    Raises:
        CertificateExpired: a certificate of the path is outside its validity period.
        CertificateRevoked: a certificate of the path is revoked.
        UntrustedCertificate: no path to a trusted CA, a bad signature, a CA constraint broken.
        dfc.errors.ConfigError: the CA directory cannot be read.
    """
    trust = _trust(ca_dir)
    now = now or datetime.now(UTC)
    _check_time(cert, now, "certificate")
    if _is_ca(cert):
        raise UntrustedCertificate(f"{_dn(cert)} is a CA certificate, not an end-entity one")
    _check_critical(cert, "certificate", UntrustedCertificate)
    path = [cert]
    current = cert
    while True:
        if len(path) > _MAX_PATH:
            raise UntrustedCertificate(f"certificate path of {_dn(cert)} is too long")
        candidates = trust.issuers_of(current) + [
            c for c in intermediates if c.subject == current.issuer and c not in path
        ]
        issuer = next((c for c in candidates if _signed_by(current, c)), None)
        if issuer is None:
            if candidates:
                raise UntrustedCertificate(
                    f"the signature of {_dn(current)} does not verify with the key of CA "
                    f"{dn_string(current.issuer)}"
                )
            raise UntrustedCertificate(
                f"{_dn(current)} is issued by {dn_string(current.issuer)}, "
                "which is not a trusted CA"
            )
        _check_ca(issuer, depth=len(path) - 1, now=now)
        trust.check_revocation(current, issuer, now=now, require_crl=require_crls)
        path.append(issuer)
        if trust.is_trusted(issuer):
            return path
        if issuer.subject == issuer.issuer:
            raise UntrustedCertificate(
                f"{_dn(cert)} chains to {_dn(issuer)}, a self-signed CA that is not in the "
                "trusted CA directory"
            )
        current = issuer


def _check_ca(ca: x509.Certificate, *, depth: int, now: datetime) -> None:
    _check_time(ca, now, "CA certificate")
    ext = _ext(ca, ExtensionOID.BASIC_CONSTRAINTS)
    if ext is None or not isinstance(ext.value, x509.BasicConstraints) or not ext.value.ca:
        raise UntrustedCertificate(f"{_dn(ca)} signs certificates but is not a CA")
    if ext.value.path_length is not None and depth > ext.value.path_length:
        raise UntrustedCertificate(f"CA path length constraint of {_dn(ca)} exceeded")
    usage = _ext(ca, ExtensionOID.KEY_USAGE)
    if (
        usage is not None
        and isinstance(usage.value, x509.KeyUsage)
        and not usage.value.key_cert_sign
    ):
        raise UntrustedCertificate(f"key usage of CA {_dn(ca)} does not allow certificate signing")
    _check_critical(ca, "CA certificate", UntrustedCertificate)


def _check_legacy(cert: x509.Certificate) -> None:
    rdns = cert.subject.rdns
    if not rdns or rdns[:-1] != cert.issuer.rdns:
        return
    last = list(rdns[-1])
    if len(last) == 1 and last[0].oid == NameOID.COMMON_NAME and last[0].value in _LEGACY_CNS:
        raise InvalidProxy(
            f"{_dn(cert)} is a legacy (Globus GT2) proxy: not accepted, make an RFC 3820 proxy"
        )


def _check_proxy(
    proxy: x509.Certificate, issuer: x509.Certificate, policy: ProxyPolicy, now: datetime
) -> None:
    if not policy.critical:
        raise InvalidProxy(f"the ProxyCertInfo extension of proxy {_dn(proxy)} is not critical")
    _verify_issued_by(proxy, issuer, InvalidProxy)
    _check_time(proxy, now, "proxy")
    rdns = proxy.subject.rdns
    last = list(rdns[-1]) if rdns else []
    if (
        rdns[:-1] != issuer.subject.rdns
        or len(last) != 1
        or last[0].oid != NameOID.COMMON_NAME
        or not last[0].value
    ):
        raise InvalidProxy(
            f"proxy subject {_dn(proxy)} is not its issuer's subject {_dn(issuer)} plus one CN"
        )
    if _is_ca(proxy):
        raise InvalidProxy(f"proxy {_dn(proxy)} claims to be a CA")
    for oid in (ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.ISSUER_ALTERNATIVE_NAME):
        if _ext(proxy, oid) is not None:
            raise InvalidProxy(f"proxy {_dn(proxy)} carries a forbidden alternative name")
    own_usage = _ext(proxy, ExtensionOID.KEY_USAGE)
    if (
        own_usage is not None
        and isinstance(own_usage.value, x509.KeyUsage)
        and own_usage.value.key_cert_sign
    ):
        raise InvalidProxy(f"proxy {_dn(proxy)} asserts the keyCertSign usage")
    usage = _ext(issuer, ExtensionOID.KEY_USAGE)
    if (
        usage is not None
        and isinstance(usage.value, x509.KeyUsage)
        and not usage.value.digital_signature
    ):
        raise InvalidProxy(f"key usage of {_dn(issuer)} does not allow signing proxies")
    _check_critical(proxy, "proxy", InvalidProxy)
    if policy.kind == "independent":
        raise InvalidProxy(
            f"{_dn(proxy)} is an independent proxy: it carries none of the user's rights"
        )
    if policy.kind == "unknown":
        raise InvalidProxy(f"proxy {_dn(proxy)} has an unknown policy language {policy.language}")


def validate_chain(
    chain: Sequence[x509.Certificate],
    *,
    ca_dir: Path | TrustStore,
    now: datetime | None = None,
    require_crls: bool = False,
) -> ChainIdentity:
    """Validate a certificate chain, proxies included, and say whom it identifies.

    Args:
        chain: the certificates leaf first, as a proxy file or a TLS peer sends them
            (proxies, then the end-entity certificate, then optionally CA certificates,
            which are used only as untrusted intermediates).
        ca_dir: the hashed CA directory (``X509_CERT_DIR`` layout), or a loaded store.
        now: the time of validation (default: now).
        require_crls: refuse a CA without a current CRL (OpenSSL ``CRL_CHECK_CHAIN``).

    Returns:
        The identity: the end-entity subject, whether the chain is limited, and more.

    Raises:
        InvalidProxy: an RFC 3820 rule is broken, or a refused kind of proxy (independent,
            unknown policy, legacy GT2, draft GT3, non-critical ProxyCertInfo).
        CertificateExpired: a certificate is outside its validity period.
        CertificateRevoked: a certificate is revoked by its CA.
        UntrustedCertificate: the end-entity certificate does not chain to a trusted CA.
        AuthenticationFailed: the chain is empty or holds only proxies.
        dfc.errors.ConfigError: the CA directory cannot be read.
    """
    if not chain:
        raise AuthenticationFailed("no certificate presented")
    now = now or datetime.now(UTC)
    trust = _trust(ca_dir)
    policies: list[ProxyPolicy] = []
    for cert in chain:
        policy = proxy_policy(cert)
        if policy is None:
            break
        policies.append(policy)
    count = len(policies)
    if count == len(chain):
        raise AuthenticationFailed("the chain holds only proxies: the user certificate is missing")
    eec = chain[count]
    if _ext(eec, OID_DRAFT_PROXY) is not None:
        raise InvalidProxy(f"{_dn(eec)} is a draft (pre-RFC, Globus GT3) proxy: not accepted")
    _check_legacy(eec)
    validate_end_entity(
        eec, intermediates=chain[count + 1 :], ca_dir=trust, now=now, require_crls=require_crls
    )
    issuer = eec
    remaining: int | None = None
    limited = False
    for k in range(count - 1, -1, -1):
        proxy, policy = chain[k], policies[k]
        _check_proxy(proxy, issuer, policy, now)
        if k < count - 1:
            if remaining == 0:
                raise InvalidProxy(
                    f"proxy {_dn(proxy)} exceeds the proxy path length constraint of its issuers"
                )
            if remaining is not None:
                remaining -= 1
        if policy.path_length is not None:
            remaining = (
                policy.path_length if remaining is None else min(remaining, policy.path_length)
            )
        limited = limited or policy.kind == "limited"
        issuer = proxy
    certificates = tuple(chain[: count + 1])
    return ChainIdentity(
        dn=_dn(eec),
        end_entity=eec,
        limited=limited,
        proxies=count,
        ca_dn=dn_string(eec.issuer),
        not_after=min(c.not_valid_after_utc for c in certificates),
        certificates=certificates,
    )
