"""VOMS attribute certificates: find them in a proxy chain, parse them, and verify them.

A VOMS proxy carries, in the non-critical extension 1.3.6.1.4.1.8005.100.100.5 of the proxy
made when the VOMS server was contacted, one RFC 5755 attribute certificate (AC) per VO.
Reading the FQANs is not enough: anyone can put an AC into a proxy they sign. An AC is
trusted here only after the checks the VOMS C++ library makes:

1. ``<vo>://<host>:<port>`` from the AC's policy authority names the VO and the server;
2. the signing certificate: the ones embedded in the AC must match, subject/issuer pair by
   pair, a chain listed in ``<vomsdir>/<vo>/<host>.lsc``; without an ``.lsc`` file (or
   without embedded certificates) a PEM certificate in ``<vomsdir>/<vo>/`` or ``<vomsdir>/``
   that verifies the signature is used;
3. that certificate chains to a trusted CA of the CA directory (with CRLs);
4. the signature verifies over the original DER bytes of the AC info;
5. the AC issuer name is the signer's subject;
6. the holder is the user: serial number and issuer (or subject) of the end-entity
   certificate of the proxy chain;
7. the AC is inside its validity period (5 minutes of clock skew, as VOMS allows);
8. every FQAN is well-formed and belongs to the AC's VO; no unknown critical AC extension;
   if the AC is targeted and a target host is given, that host is among the targets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from dfc.auth import _asn1
from dfc.auth.ca import TrustStore
from dfc.auth.chain import OID_VOMS_AC, validate_end_entity
from dfc.auth.dn import dn_key, dn_string, parse_dn
from dfc.auth.errors import AuthenticationFailed, VOMSError
from dfc.auth.fqan import parse_fqan

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence
    from pathlib import Path

__all__ = [
    "CLOCK_SKEW",
    "VOMSAttributes",
    "find_voms_extension",
    "read_voms_attributes",
    "verify_voms",
]

#: Clock skew tolerated on AC validity, as in the VOMS C++ library.
CLOCK_SKEW = timedelta(minutes=5)

_OID_AC_CERTS = "1.3.6.1.4.1.8005.100.100.10"
_OID_AC_TAGS = "1.3.6.1.4.1.8005.100.100.11"
_OID_NO_REV_AVAIL = "2.5.29.56"
_OID_AKI = "2.5.29.35"
_OID_TARGETS = "2.5.29.55"
_KNOWN_AC_EXTENSIONS = frozenset(
    {_OID_AC_CERTS, _OID_AC_TAGS, _OID_NO_REV_AVAIL, _OID_AKI, _OID_TARGETS}
)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_NEXT_CHAIN = "------ NEXT CHAIN ------"

_RSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "1.2.840.113549.1.1.5": hashes.SHA1,
    "1.2.840.113549.1.1.11": hashes.SHA256,
    "1.2.840.113549.1.1.12": hashes.SHA384,
    "1.2.840.113549.1.1.13": hashes.SHA512,
    "1.2.840.113549.1.1.14": hashes.SHA224,
}
_ECDSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "1.2.840.10045.4.1": hashes.SHA1,
    "1.2.840.10045.4.3.1": hashes.SHA224,
    "1.2.840.10045.4.3.2": hashes.SHA256,
    "1.2.840.10045.4.3.3": hashes.SHA384,
    "1.2.840.10045.4.3.4": hashes.SHA512,
}
_OID_ED25519 = "1.3.101.112"


@dataclass(frozen=True)
class VOMSAttributes:
    """The VO membership asserted by one VOMS attribute certificate.

    Attributes:
        vo: the VO name (``juno``).
        fqans: normalised FQANs, the primary one first
            (``/juno``, ``/juno/production/Role=production``).
        issuer: the VOMS server's DN, OpenSSL oneline form.
        not_before: start of the AC validity.
        not_after: end of the AC validity.
        uri: the server as ``host:port``.
        holder_serial: serial number of the certificate the AC was issued to.
        verified: True if every check of :func:`verify_voms` passed; False if only read.
    """

    vo: str
    fqans: tuple[str, ...]
    issuer: str
    not_before: datetime
    not_after: datetime
    uri: str
    holder_serial: int | None
    verified: bool


def find_voms_extension(chain: Sequence[x509.Certificate]) -> bytes | None:
    """Find the VOMS AC extension nearest to the leaf of a proxy chain.

    Args:
        chain: certificates, leaf first.

    Returns:
        The raw extension value, or None if no certificate carries one.
    """
    for cert in chain:
        try:
            ext = cert.extensions.get_extension_for_oid(OID_VOMS_AC)
        except x509.ExtensionNotFound:
            continue
        except ValueError as exc:
            raise VOMSError(f"malformed extensions in {dn_string(cert.subject)}: {exc}") from exc
        value = ext.value
        assert isinstance(value, x509.UnrecognizedExtension)
        return value.value
    return None


def _parse_all(extension: bytes) -> list[_asn1.ParsedAC]:
    try:
        return [_asn1.parse_ac(raw) for raw in _asn1.split_ac_sequence(extension)]
    except ValueError as exc:
        raise VOMSError(f"malformed VOMS attribute certificate: {exc}") from exc


def _authority(ac: _asn1.ParsedAC) -> tuple[str, str, str, tuple[bytes, ...]]:
    """Return (vo, host, port, values) of the AC's single VOMS attribute."""
    if len(ac.attributes) != 1:
        raise VOMSError("the attribute certificate must carry exactly one VOMS attribute set")
    authorities, values = ac.attributes[0]
    if len(authorities) != 1:
        raise VOMSError("the VOMS attributes must name exactly one policy authority")
    vo, sep, rest = authorities[0].partition("://")
    host, colon, port = rest.rpartition(":")
    if not sep or not colon or not _SAFE_NAME.match(vo) or not _SAFE_NAME.match(host):
        raise VOMSError(f"bad VOMS policy authority {authorities[0]!r} (want vo://host:port)")
    if not port.isdigit():
        raise VOMSError(f"bad port in VOMS policy authority {authorities[0]!r}")
    return vo, host, port, values


def _fqans(vo: str, values: tuple[bytes, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for raw in values:
        try:
            text = raw.decode("ascii")
            out.append(str(parse_fqan(text, vo=vo)))
        except (UnicodeDecodeError, ValueError) as exc:
            raise VOMSError(f"bad FQAN in the VO {vo} attribute certificate: {exc}") from exc
    if not out:
        raise VOMSError(f"the VO {vo} attribute certificate carries no FQAN")
    return tuple(dict.fromkeys(out))


def read_voms_attributes(chain: Sequence[x509.Certificate]) -> list[VOMSAttributes]:
    """Read the VOMS attributes of a proxy chain WITHOUT verifying them.

    For display only (``dfc proxy info`` without a vomsdir); never authorise on this.

    Args:
        chain: certificates, leaf first.

    Returns:
        One entry per AC, ``verified=False``; empty if the chain has no AC.

    Raises:
        VOMSError: an AC is malformed.
    """
    extension = find_voms_extension(chain)
    if extension is None:
        return []
    out: list[VOMSAttributes] = []
    for ac in _parse_all(extension):
        vo, host, port, values = _authority(ac)
        out.append(
            VOMSAttributes(
                vo=vo,
                fqans=_fqans(vo, values),
                issuer=dn_string(ac.issuer),
                not_before=ac.not_before,
                not_after=ac.not_after,
                uri=f"{host}:{port}",
                holder_serial=ac.holder_serial,
                verified=False,
            )
        )
    return out


def _signature_ok(cert: x509.Certificate, ac: _asn1.ParsedAC) -> bool:
    key = cert.public_key()
    oid = ac.algorithm_oid
    try:
        if isinstance(key, rsa.RSAPublicKey) and oid in _RSA_HASHES:
            key.verify(ac.signature, ac.acinfo_der, padding.PKCS1v15(), _RSA_HASHES[oid]())
        elif isinstance(key, ec.EllipticCurvePublicKey) and oid in _ECDSA_HASHES:
            key.verify(ac.signature, ac.acinfo_der, ec.ECDSA(_ECDSA_HASHES[oid]()))
        elif isinstance(key, ed25519.Ed25519PublicKey) and oid == _OID_ED25519:
            key.verify(ac.signature, ac.acinfo_der)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return True


def _read_lsc(path: Path) -> list[list[str]]:
    chains: list[list[str]] = [[]]
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line == _NEXT_CHAIN:
            chains.append([])
        else:
            chains[-1].append(line)
    return [c for c in chains if c]


def _lsc_matches(lsc: list[str], certs: list[x509.Certificate]) -> bool:
    if len(lsc) < 2 * len(certs):
        return False
    try:
        for i, cert in enumerate(certs):
            if parse_dn(lsc[2 * i]) != dn_key(cert.subject):
                return False
            if parse_dn(lsc[2 * i + 1]) != dn_key(cert.issuer):
                return False
    except ValueError:
        return False
    return True


def _pem_candidates(vomsdir: Path, vo: str) -> list[x509.Certificate]:
    out: list[x509.Certificate] = []
    for directory in (vomsdir / vo, vomsdir):
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if not path.is_file() or path.suffix == ".lsc":
                continue
            try:
                data = path.read_bytes()
                if b"-----BEGIN CERTIFICATE-----" in data:
                    out.extend(x509.load_pem_x509_certificates(data))
            except (OSError, ValueError):
                continue
    return out


def _signer(
    ac: _asn1.ParsedAC, vo: str, host: str, vomsdir: Path
) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """Find the certificate that signed the AC, and the untrusted chain that came with it."""
    embedded: list[x509.Certificate] = []
    for oid, _, value in ac.extensions:
        if oid == _OID_AC_CERTS:
            try:
                embedded = _asn1.parse_ac_certs(value)
            except ValueError as exc:
                raise VOMSError(f"malformed certificates in the VO {vo} AC: {exc}") from exc
    lsc = vomsdir / vo / f"{host}.lsc"
    if embedded and lsc.is_file():
        try:
            chains = _read_lsc(lsc)
        except OSError as exc:
            raise VOMSError(f"cannot read {lsc}: {exc.strerror}") from exc
        if not any(_lsc_matches(c, embedded) for c in chains):
            raise VOMSError(
                f"VOMS server certificate {dn_string(embedded[0].subject)} "
                f"(issued by {dn_string(embedded[0].issuer)}) does not match {lsc}"
            )
        if not _signature_ok(embedded[0], ac):
            raise VOMSError(
                f"the VO {vo} attribute certificate signature does not verify with the key of "
                f"{dn_string(embedded[0].subject)}"
            )
        return embedded[0], embedded[1:]
    candidates = _pem_candidates(vomsdir, vo)
    if not candidates and not embedded:
        raise VOMSError(f"no {vo}/{host}.lsc and no VOMS server certificate in {vomsdir}")
    if not candidates:
        raise VOMSError(f"VO {vo} server {host} is not trusted: no {lsc}")
    for cert in candidates:
        if _signature_ok(cert, ac):
            return cert, embedded
    raise VOMSError(
        f"the VO {vo} attribute certificate signature does not verify with any VOMS server "
        f"certificate in {vomsdir}"
    )


def _verify_one(
    ac: _asn1.ParsedAC,
    *,
    holder: x509.Certificate,
    vomsdir: Path,
    trust: TrustStore,
    now: datetime,
    target: str | None,
    require_crls: bool,
) -> VOMSAttributes:
    if ac.version != 1:
        raise VOMSError(f"unsupported attribute certificate version {ac.version + 1}")
    if ac.inner_algorithm != ac.outer_algorithm:
        raise VOMSError("the attribute certificate's two signature algorithms differ")
    if ac.serial.bit_length() > 160:
        raise VOMSError("the attribute certificate serial number is longer than 20 bytes")
    vo, host, port, values = _authority(ac)
    signer, chain = _signer(ac, vo, host, vomsdir)
    try:
        validate_end_entity(
            signer, intermediates=chain, ca_dir=trust, now=now, require_crls=require_crls
        )
    except AuthenticationFailed as exc:
        raise VOMSError(f"VOMS server certificate of VO {vo} is not trusted: {exc}") from exc
    if ac.issuer != signer.subject:
        raise VOMSError(
            f"AC issuer {dn_string(ac.issuer)} is not its signer {dn_string(signer.subject)}"
        )
    if ac.holder_serial != holder.serial_number or ac.holder_issuer not in (
        holder.issuer,
        holder.subject,
    ):
        raise VOMSError(
            f"the VO {vo} attribute certificate was issued to another certificate "
            f"(holder serial {ac.holder_serial or 0:#x}), not to {dn_string(holder.subject)}"
        )
    if now + CLOCK_SKEW < ac.not_before:
        raise VOMSError(
            f"the VO {vo} attribute certificate is not valid before "
            f"{ac.not_before:%Y-%m-%d %H:%M:%S} UTC"
        )
    if now - CLOCK_SKEW > ac.not_after:
        raise VOMSError(
            f"the VO {vo} attribute certificate expired at {ac.not_after:%Y-%m-%d %H:%M:%S} UTC"
        )
    for oid, critical, value in ac.extensions:
        if critical and oid not in _KNOWN_AC_EXTENSIONS:
            raise VOMSError(
                f"unknown critical extension {oid} in the VO {vo} attribute certificate"
            )
        if oid == _OID_TARGETS and target is not None:
            try:
                targets = _asn1.parse_ac_targets(value)
            except ValueError as exc:
                raise VOMSError(f"malformed AC targets: {exc}") from exc
            if target not in targets:
                raise VOMSError(f"the VO {vo} attribute certificate is not targeted at {target}")
    return VOMSAttributes(
        vo=vo,
        fqans=_fqans(vo, values),
        issuer=dn_string(ac.issuer),
        not_before=ac.not_before,
        not_after=ac.not_after,
        uri=f"{host}:{port}",
        holder_serial=ac.holder_serial,
        verified=True,
    )


def verify_voms(
    chain: Sequence[x509.Certificate],
    *,
    holder: x509.Certificate,
    vomsdir: Path,
    ca_dir: Path | TrustStore,
    now: datetime | None = None,
    vos: Collection[str] | None = None,
    target: str | None = None,
    require_crls: bool = False,
) -> list[VOMSAttributes]:
    """Find and verify the VOMS attribute certificates of a validated proxy chain.

    Call this after :func:`dfc.auth.chain.validate_chain` and pass its ``end_entity`` as
    ``holder``: the AC must have been issued to that certificate.

    Args:
        chain: the proxy chain, leaf first.
        holder: the end-entity certificate of the chain.
        vomsdir: the VOMS trust directory (``X509_VOMS_DIR``: ``<vo>/<host>.lsc`` files).
        ca_dir: the hashed CA directory, or a loaded store, to validate VOMS server certs.
        now: the time of validation (default: now).
        vos: if given, only ACs of these VOs are verified and returned; others are ignored.
        target: this service's host name; an AC targeted at other hosts is refused.
        require_crls: refuse a CA without a current CRL.

    Returns:
        The verified attributes, one entry per AC, in chain order; empty without an AC.

    Raises:
        VOMSError: an AC is malformed, untrusted, expired, not the holder's, or names an
            FQAN outside its VO. One bad AC refuses the whole credential.
        dfc.errors.ConfigError: the CA directory cannot be read.
    """
    extension = find_voms_extension(chain)
    if extension is None:
        return []
    trust = ca_dir if isinstance(ca_dir, TrustStore) else TrustStore.from_dir(ca_dir)
    now = now or datetime.now(UTC)
    out: list[VOMSAttributes] = []
    for ac in _parse_all(extension):
        if vos is not None and _authority(ac)[0] not in vos:
            continue
        out.append(
            _verify_one(
                ac,
                holder=holder,
                vomsdir=vomsdir,
                trust=trust,
                now=now,
                target=target,
                require_crls=require_crls,
            )
        )
    return out
