"""RFC 3820 proxy certificates: make them, store them, load them, describe them.

A proxy file (``/tmp/x509up_u<uid>``) is PEM: the proxy certificate, its unencrypted
private key, then the issuing chain (the user certificate, and earlier proxies for a
delegated proxy). It must be readable by its owner only.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from dfc.auth import _asn1
from dfc.auth.ca import TrustStore
from dfc.auth.chain import (
    OID_DRAFT_PROXY,
    OID_PROXY_CERT_INFO,
    OID_VOMS_AC,
    ProxyLanguage,
    proxy_policy,
    validate_chain,
)
from dfc.auth.dn import dn_string
from dfc.auth.errors import AuthenticationFailed, InvalidProxy
from dfc.auth.voms import VOMSAttributes, read_voms_attributes, verify_voms
from dfc.errors import ConfigError, InvalidArgument

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "PrivateKey",
    "ProxyCredential",
    "ProxyInfo",
    "ProxyType",
    "load_proxy",
    "load_user_credential",
    "make_proxy",
    "proxy_info",
    "write_proxy",
]

#: Private key types a grid credential may have.
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

#: Proxies start a little in the past so that hosts with a slow clock accept them at once.
_BACKDATE = timedelta(minutes=5)
_LEGACY_CNS = {"proxy": False, "limited proxy": True, "restricted proxy": True}


class ProxyType(StrEnum):
    """The kind of a certificate, in the words ``grid-proxy-info`` uses."""

    IMPERSONATION = "RFC 3820 compliant impersonation proxy"
    LIMITED = "RFC 3820 compliant limited proxy"
    INDEPENDENT = "RFC 3820 compliant independent proxy"
    UNKNOWN_POLICY = "RFC 3820 proxy with an unknown policy language"
    DRAFT = "Proxy draft (pre-RFC) compliant proxy"
    LEGACY = "full legacy globus proxy"
    LEGACY_LIMITED = "limited legacy globus proxy"
    END_ENTITY = "end entity certificate"


@dataclass(frozen=True)
class ProxyCredential:
    """The content of a proxy file.

    Attributes:
        chain: the certificates, leaf (the proxy) first.
        key: the proxy's private key, if the file has one.
    """

    chain: tuple[x509.Certificate, ...]
    key: PrivateKey | None


@dataclass(frozen=True)
class ProxyInfo:
    """What ``dfc proxy info`` shows.

    Attributes:
        subject: the leaf certificate's subject.
        issuer: the leaf certificate's issuer.
        identity: the end-entity subject (the user's DN).
        type: the kind of the leaf certificate.
        bits: the key size of the leaf certificate.
        path_length: the leaf's proxy path length constraint (None: unlimited or no proxy).
        not_after: when the first certificate of the chain expires.
        time_left: time until ``not_after`` (zero when expired).
        limited: whether any proxy of the chain is limited.
        voms: the VOMS attributes (``verified`` says whether they were verified).
        chain_verified: the chain was validated against a CA directory.
    """

    subject: str
    issuer: str
    identity: str
    type: ProxyType
    bits: int
    path_length: int | None
    not_after: datetime
    time_left: timedelta
    limited: bool
    voms: tuple[VOMSAttributes, ...]
    chain_verified: bool

    @property
    def fqans(self) -> tuple[str, ...]:
        """All FQANs of all ACs, in order."""
        return tuple(f for v in self.voms for f in v.fqans)


def load_user_credential(
    cert_path: Path,
    key_path: Path,
    passphrase: bytes | Callable[[], bytes] | None = None,
) -> tuple[x509.Certificate, PrivateKey]:
    """Load a user certificate and its private key (``~/.globus/usercert.pem``, ``userkey.pem``).

    Args:
        cert_path: the PEM certificate.
        key_path: the PEM private key, possibly encrypted.
        passphrase: the key's passphrase, or a function asked for it only if the key is
            encrypted (a terminal prompt).

    Returns:
        The certificate and the key.

    Raises:
        dfc.errors.ConfigError: a file is missing or malformed, or the key does not belong
            to the certificate.
        AuthenticationFailed: the passphrase is missing or wrong.
    """
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key_data = key_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ConfigError(f"{cert_path} is not a PEM certificate") from exc
    key = _load_key(key_data, key_path, passphrase)
    if _public_bytes(key.public_key()) != _public_bytes(cert.public_key()):
        raise ConfigError(f"the key {key_path} does not belong to the certificate {cert_path}")
    return cert, key


def _load_key(
    data: bytes, path: Path, passphrase: bytes | Callable[[], bytes] | None
) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        if passphrase is None:
            raise AuthenticationFailed(
                f"the key {path} is encrypted: a passphrase is needed"
            ) from None
        secret = passphrase() if callable(passphrase) else passphrase
        try:
            key = serialization.load_pem_private_key(data, password=secret)
        except ValueError as exc:
            raise AuthenticationFailed(f"wrong passphrase for {path}") from exc
    except ValueError as exc:
        raise ConfigError(f"{path} is not a PEM private key") from exc
    if not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise ConfigError(f"unsupported key type in {path}")
    return key


def _public_bytes(key: object) -> bytes:
    assert hasattr(key, "public_bytes")
    data = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert isinstance(data, bytes)
    return data


def _hash_for(key: PrivateKey) -> hashes.SHA256 | None:
    return (
        None
        if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey)
        else hashes.SHA256()
    )


def make_proxy(
    cert: x509.Certificate,
    key: PrivateKey,
    *,
    hours: float = 12.0,
    limited: bool = False,
    bits: int = 2048,
    path_length: int | None = None,
    chain: Sequence[x509.Certificate] = (),
    voms_extension: bytes | None = None,
    proxy_key: rsa.RSAPrivateKey | None = None,
    now: datetime | None = None,
) -> bytes:
    """Make an RFC 3820 proxy certificate and return the proxy file content.

    Args:
        cert: the issuing certificate: the user certificate, or a proxy (delegation).
        key: the private key of ``cert``.
        hours: lifetime; capped at the issuing chain's expiry.
        limited: make a limited proxy (Globus limited policy: read-only use).
        bits: RSA key size of the new proxy key.
        path_length: how many further proxies it may sign (None: unlimited).
        chain: the rest of the issuing chain after ``cert`` (for a proxy of a proxy, the
            earlier proxies and the user certificate).
        voms_extension: the value of a VOMS AC extension to embed (as ``voms-proxy-init``
            does after contacting a VOMS server).
        proxy_key: use this key instead of generating one (tests; key generation is slow).
        now: the issue time (default: now).

    Returns:
        PEM: the proxy certificate, its unencrypted key, ``cert``, then ``chain``.

    Raises:
        dfc.errors.InvalidArgument: a bad lifetime, key size or path length.
        InvalidProxy: ``cert`` has expired, or is a proxy that may not sign another one.
    """
    if hours <= 0:
        raise InvalidArgument("proxy lifetime must be positive")
    if proxy_key is None and bits < 2048:
        raise InvalidArgument("proxy keys have at least 2048 bits")
    if path_length is not None and path_length < 0:
        raise InvalidArgument("proxy path length must not be negative")
    now = now or datetime.now(UTC)
    issuer_chain = [cert, *chain]
    expiry = min(c.not_valid_after_utc for c in issuer_chain)
    if expiry <= now:
        raise InvalidProxy(f"{dn_string(cert.subject)} expired at {expiry:%Y-%m-%d %H:%M:%S} UTC")
    policy = proxy_policy(cert)
    if policy is not None and policy.path_length == 0:
        raise InvalidProxy(f"{dn_string(cert.subject)} may not sign further proxies")
    new_key = proxy_key or rsa.generate_private_key(public_exponent=65537, key_size=bits)
    serial = secrets.randbits(31) | (1 << 30)
    subject = x509.Name([*cert.subject.rdns, x509.RelativeDistinguishedName(
        [x509.NameAttribute(NameOID.COMMON_NAME, str(serial))])])  # fmt: skip
    language = ProxyLanguage.LIMITED if limited or (policy and policy.kind == "limited") else (
        ProxyLanguage.INHERIT_ALL)  # fmt: skip
    pci = _asn1.encode_proxy_cert_info(path_length, language.value, None)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(cert.subject)
        .public_key(new_key.public_key())
        .serial_number(serial)
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + timedelta(hours=hours), expiry))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .add_extension(x509.UnrecognizedExtension(OID_PROXY_CERT_INFO, pci), critical=True)
    )
    if voms_extension is not None:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(OID_VOMS_AC, voms_extension), critical=False
        )
    proxy = builder.sign(key, _hash_for(key))
    key_pem = new_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    pem = serialization.Encoding.PEM
    return b"".join(
        [proxy.public_bytes(pem), key_pem, *(c.public_bytes(pem) for c in issuer_chain)]
    )


def write_proxy(path: Path, data: bytes) -> None:
    """Write a proxy file readable by its owner only (mode 600), atomically.

    Args:
        path: the destination (replaced if it exists).
        data: the proxy file content.

    Raises:
        dfc.errors.ConfigError: the file cannot be written.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write proxy {path}: {exc.strerror}") from exc


def load_proxy(source: bytes | Path) -> ProxyCredential:
    """Read a proxy file (or any PEM with certificates and at most one key).

    Args:
        source: the PEM bytes, or the file path.

    Returns:
        The certificates (leaf first) and the key, if present.

    Raises:
        dfc.errors.ConfigError: unreadable file, no certificate, or a malformed key.
    """
    if isinstance(source, Path):
        try:
            source = source.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read proxy {exc.filename}: {exc.strerror}") from exc
    try:
        chain = tuple(x509.load_pem_x509_certificates(source))
    except ValueError as exc:
        raise ConfigError("no certificate in the proxy file") from exc
    key: PrivateKey | None = None
    for marker in (b"-----BEGIN RSA PRIVATE KEY-----", b"-----BEGIN PRIVATE KEY-----",
                   b"-----BEGIN EC PRIVATE KEY-----"):  # fmt: skip
        start = source.find(marker)
        if start < 0:
            continue
        end_marker = marker.replace(b"BEGIN", b"END")
        end = source.find(end_marker, start)
        if end < 0:
            raise ConfigError("truncated private key in the proxy file")
        key = _load_key(source[start : end + len(end_marker)], Path("proxy"), None)
        break
    return ProxyCredential(chain=chain, key=key)


def _leaf_type(cert: x509.Certificate) -> ProxyType:
    policy = proxy_policy(cert)
    if policy is not None:
        return {
            "impersonation": ProxyType.IMPERSONATION,
            "limited": ProxyType.LIMITED,
            "independent": ProxyType.INDEPENDENT,
        }.get(policy.kind, ProxyType.UNKNOWN_POLICY)
    try:
        cert.extensions.get_extension_for_oid(OID_DRAFT_PROXY)
        return ProxyType.DRAFT
    except x509.ExtensionNotFound:
        pass
    rdns = cert.subject.rdns
    if rdns and rdns[:-1] == cert.issuer.rdns:
        last = list(rdns[-1])
        if len(last) == 1 and last[0].oid == NameOID.COMMON_NAME and last[0].value in _LEGACY_CNS:
            return ProxyType.LEGACY_LIMITED if _LEGACY_CNS[str(last[0].value)] else ProxyType.LEGACY
    return ProxyType.END_ENTITY


def _bits(cert: x509.Certificate) -> int:
    key = cert.public_key()
    return key.key_size if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey) else 256


def proxy_info(
    source: bytes | Path | ProxyCredential,
    *,
    ca_dir: Path | TrustStore | None = None,
    vomsdir: Path | None = None,
    now: datetime | None = None,
) -> ProxyInfo:
    """Describe a proxy, validating it when trust directories are given.

    Without ``ca_dir`` nothing is verified (the VOMS attributes are only read and are
    marked unverified). With ``ca_dir`` the chain is validated; with ``ca_dir`` and
    ``vomsdir`` the VOMS attributes are verified too.

    Args:
        source: the proxy file content, its path, or a loaded credential.
        ca_dir: the hashed CA directory.
        vomsdir: the VOMS trust directory.
        now: the time of the check (default: now).

    Returns:
        The description.

    Raises:
        dfc.errors.ConfigError: unreadable file or trust directory.
        AuthenticationFailed: (with ``ca_dir``) the chain or a VOMS AC does not verify;
            the subclass says why.
    """
    credential = source if isinstance(source, ProxyCredential) else load_proxy(source)
    chain = credential.chain
    now = now or datetime.now(UTC)
    leaf = chain[0]
    leaf_type = _leaf_type(leaf)
    policy = proxy_policy(leaf)
    if ca_dir is not None:
        trust = ca_dir if isinstance(ca_dir, TrustStore) else TrustStore.from_dir(ca_dir)
        identity = validate_chain(chain, ca_dir=trust, now=now)
        dn, limited, certs = identity.dn, identity.limited, identity.certificates
        voms: list[VOMSAttributes] = (
            verify_voms(chain, holder=identity.end_entity, vomsdir=vomsdir, ca_dir=trust, now=now)
            if vomsdir is not None
            else read_voms_attributes(chain)
        )
    else:
        count = 0
        while count < len(chain) - 1 and _leaf_type(chain[count]) != ProxyType.END_ENTITY:
            count += 1
        dn = dn_string(chain[count].subject)
        limited = any(
            _leaf_type(c) in (ProxyType.LIMITED, ProxyType.LEGACY_LIMITED) for c in chain[:count]
        )
        certs = tuple(chain[: count + 1])
        voms = read_voms_attributes(chain)
    not_after = min(c.not_valid_after_utc for c in certs)
    return ProxyInfo(
        subject=dn_string(leaf.subject),
        issuer=dn_string(leaf.issuer),
        identity=dn,
        type=leaf_type,
        bits=_bits(leaf),
        path_length=policy.path_length if policy else None,
        not_after=not_after,
        time_left=max(not_after - now, timedelta(0)),
        limited=limited,
        voms=tuple(voms),
        chain_verified=ca_dir is not None,
    )
