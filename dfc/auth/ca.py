"""Trusted CA certificates and their CRLs, read from a hashed CA directory.

The layout is OpenSSL's ``-CApath`` one, which grid sites get from the IGTF
distribution and ``fetch-crl`` (and which ``X509_CERT_DIR`` names)::

    <hash>.0, <hash>.1, ...     CA certificates (PEM), <hash> = OpenSSL subject hash
    <hash>.r0, <hash>.r1, ...   CRLs (PEM or DER) issued by the CA with that hash

Other files there (``.signing_policy``, ``.namespaces``, ``.info``, ``.pem``) are ignored.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from dfc.auth import _der
from dfc.auth.dn import dn_string
from dfc.auth.errors import CertificateRevoked, UntrustedCertificate
from dfc.errors import ConfigError

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["TrustStore", "add_to_ca_dir", "subject_hash"]

_CERT_FILE = re.compile(r"^[0-9a-f]{8}\.[0-9]+$")
_CRL_FILE = re.compile(r"^[0-9a-f]{8}\.r[0-9]+$")

# ASN.1 string tags OpenSSL canonicalises (lowercase, folded spaces) when hashing names.
_CANON_TAGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x1A: "ascii", 0x14: "latin-1",
               0x1E: "utf-16-be", 0x1C: "utf-32-be"}  # fmt: skip
_SPACE = b" \t\n\v\f\r"
_SHA256 = hashes.SHA256()


def _canon_value(tag: int, content: bytes) -> bytes:
    text = content.decode(_CANON_TAGS[tag]).encode()
    text = text.strip(_SPACE)
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in _SPACE:
            out.append(0x20)
            while i < len(text) and text[i] in _SPACE:
                i += 1
            continue
        out.append(ch + 32 if 0x41 <= ch <= 0x5A else ch)
        i += 1
    return _der.encode(0x0C, bytes(out))


def subject_hash(name: x509.Name) -> str:
    """Compute OpenSSL's subject name hash (``openssl x509 -subject_hash``).

    This names the files of a hashed CA directory.

    Args:
        name: a certificate subject (for ``<hash>.0``) or a CRL issuer (for ``<hash>.r0``).

    Returns:
        Eight lowercase hex digits.
    """
    canon = b""
    for rdn in _der.children(name.public_bytes()):
        entries: list[bytes] = []
        for atv in _der.children(rdn):
            oid, value = _der.children(atv)
            tag, start, end = _der.split_tlv(value)
            if tag in _CANON_TAGS:
                value = _canon_value(tag, value[start:end])
            entries.append(_der.encode(0x30, oid + value))
        canon += _der.encode(0x31, b"".join(sorted(entries)))
    digest = hashlib.sha1(canon, usedforsecurity=False).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


def add_to_ca_dir(ca_dir: Path, item: x509.Certificate | x509.CertificateRevocationList) -> Path:
    """Install a CA certificate or a CRL into a hashed CA directory.

    A certificate goes to the first free ``<hash>.N`` (or the file holding the same
    certificate); a CRL replaces ``<hash>.r0``.

    Args:
        ca_dir: the directory (created if missing).
        item: the CA certificate or CRL.

    Returns:
        The path written.
    """
    ca_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(item, x509.CertificateRevocationList):
        path = ca_dir / f"{subject_hash(item.issuer)}.r0"
        path.write_bytes(item.public_bytes(Encoding.PEM))
        return path
    pem = item.public_bytes(Encoding.PEM)
    base = subject_hash(item.subject)
    n = 0
    while (path := ca_dir / f"{base}.{n}").exists() and path.read_bytes() != pem:
        n += 1
    path.write_bytes(pem)
    return path


def _load_crl(data: bytes) -> x509.CertificateRevocationList:
    if b"-----BEGIN X509 CRL-----" in data:
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


@dataclass
class TrustStore:
    """The trusted CA certificates and their CRLs.

    Attributes:
        cas: trusted certificates (roots and intermediate CAs alike: every certificate in
            the CA directory is a trust anchor, as OpenSSL treats ``-CApath``).
        crls: the revocation lists found, by issuer.
        source: the directory read, if any.
    """

    cas: list[x509.Certificate] = field(default_factory=list)
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    source: Path | None = None
    _stamp: tuple[tuple[str, int, int], ...] = ()

    def __post_init__(self) -> None:
        self._by_subject: dict[bytes, list[x509.Certificate]] = {}
        self._fingerprints: set[bytes] = set()
        for ca in self.cas:
            self._by_subject.setdefault(ca.subject.public_bytes(), []).append(ca)
            self._fingerprints.add(ca.fingerprint(_SHA256))
        self._crls: dict[bytes, list[x509.CertificateRevocationList]] = {}
        for crl in self.crls:
            self._crls.setdefault(crl.issuer.public_bytes(), []).append(crl)

    @classmethod
    def from_dir(cls, ca_dir: Path | str) -> TrustStore:
        """Read a hashed CA directory.

        Args:
            ca_dir: the directory (``X509_CERT_DIR``).

        Returns:
            The loaded store.

        Raises:
            dfc.errors.ConfigError: the directory is missing or holds no CA certificate.
        """
        ca_dir = Path(ca_dir)
        try:
            names = sorted(os.listdir(ca_dir))
        except OSError as exc:
            raise ConfigError(f"cannot read CA directory {ca_dir}: {exc.strerror}") from exc
        cas: list[x509.Certificate] = []
        crls: list[x509.CertificateRevocationList] = []
        for name in names:
            path = ca_dir / name
            try:
                if _CERT_FILE.match(name):
                    cas.extend(x509.load_pem_x509_certificates(path.read_bytes()))
                elif _CRL_FILE.match(name):
                    crls.append(_load_crl(path.read_bytes()))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"unreadable file in CA directory: {path}: {exc}") from exc
        if not cas:
            raise ConfigError(f"no CA certificates (<hash>.0 files) in {ca_dir}")
        return cls(cas=cas, crls=crls, source=ca_dir, _stamp=_dir_stamp(ca_dir))

    def is_stale(self) -> bool:
        """Whether the directory changed since it was read (a CRL update, a new CA).

        Returns:
            False for a store not read from a directory.
        """
        return self.source is not None and _dir_stamp(self.source) != self._stamp

    def is_trusted(self, cert: x509.Certificate) -> bool:
        """Whether this exact certificate is one of the trust anchors.

        Args:
            cert: any certificate.

        Returns:
            True if it is in the store.
        """
        return cert.fingerprint(_SHA256) in self._fingerprints

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """The trusted certificates whose subject is the issuer of ``cert``.

        Args:
            cert: the certificate to find an issuer for.

        Returns:
            Candidates (signatures are not checked here).
        """
        return list(self._by_subject.get(cert.issuer.public_bytes(), ()))

    def check_revocation(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        *,
        now: datetime,
        require_crl: bool,
    ) -> None:
        """Check ``cert`` against the CRLs that ``issuer`` signed.

        Args:
            cert: the certificate to check.
            issuer: the CA certificate that issued it.
            now: the time of the check (for the CRL's nextUpdate).
            require_crl: fail if the CA has no valid, current CRL (OpenSSL's
                ``VERIFY_CRL_CHECK_CHAIN`` behaviour); otherwise missing CRLs pass.

        Raises:
            CertificateRevoked: the certificate's serial number is listed.
            UntrustedCertificate: ``require_crl`` and no usable CRL.
        """
        usable = [
            crl
            for crl in self._crls.get(issuer.subject.public_bytes(), ())
            if _crl_signed_by(crl, issuer)
        ]
        for crl in usable:
            if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
                raise CertificateRevoked(
                    f"certificate {dn_string(cert.subject)} (serial {cert.serial_number:#x}) "
                    f"is revoked by {dn_string(issuer.subject)}"
                )
        if not require_crl:
            return
        if not usable:
            raise UntrustedCertificate(f"no CRL for CA {dn_string(issuer.subject)}")
        if all(c.next_update_utc is not None and c.next_update_utc < now for c in usable):
            raise UntrustedCertificate(f"the CRL of CA {dn_string(issuer.subject)} has expired")


def _crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    try:
        return crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _dir_stamp(path: Path) -> tuple[tuple[str, int, int], ...]:
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
        return tuple(
            (e.name, e.stat().st_mtime_ns, e.stat().st_size)
            for e in entries
            if _CERT_FILE.match(e.name) or _CRL_FILE.match(e.name)
        )
    except OSError:
        return ()
