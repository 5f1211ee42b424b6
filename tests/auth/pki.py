"""A throw-away grid PKI for tests, built with ``cryptography`` (no grid packages needed).

Factories, reusable by any test package (the catalogue server tests use them too)::

    pki = build_pki(tmp_path_factory.mktemp("pki"))
    pki.ca_dir, pki.vomsdir                  # X509_CERT_DIR / X509_VOMS_DIR layouts
    pki.host.cert_path, pki.host.key_path    # CN=localhost, SAN localhost + 127.0.0.1
    pki.proxy("alice", fqans=["/juno", "/juno/production/Role=production"])  # PEM bytes
    pki.write("alice_voms", pem)             # a mode-600 proxy file under pki.root

What is in it: a trusted CA (with a CRL that revokes ``carol``), a second, untrusted CA
(issuing ``mallory``), a host certificate, users ``alice``, ``bob``, ``carol``, a VOMS server
``voms.junotest.org`` (in ``vomsdir/juno/voms.junotest.org.lsc``) and a rogue VOMS server
``rogue.junotest.org`` (certified by the same CA, but not listed in the vomsdir).

VOMS ACs are made by :func:`issue_ac`, a small AC issuer following GFD.182 the way the
VOMS server and ``voms-proxy-fake`` write them (the interop tests check that the VOMS C++
library accepts them). :func:`forge_proxy` builds deliberately broken proxies for attacks.

RSA keys (2048 bits) are generated once per process: key generation is the slow part.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyasn1.codec.der import encoder
from pyasn1.type import univ

from dfc.auth.ca import add_to_ca_dir, subject_hash
from dfc.auth.proxy import make_proxy

UTC = dt.UTC
VO = "juno"
VOMS_HOST = "voms.junotest.org"
VOMS_PORT = 15000
ROGUE_HOST = "rogue.junotest.org"
OID_PCI = "1.3.6.1.5.5.7.1.14"
OID_DRAFT_PCI = "1.3.6.1.4.1.3536.1.222"
OID_VOMS_ACSEQ = "1.3.6.1.4.1.8005.100.100.5"
LANG_INHERIT_ALL = "1.3.6.1.5.5.7.21.1"
LANG_INDEPENDENT = "1.3.6.1.5.5.7.21.2"
LANG_LIMITED = "1.3.6.1.4.1.3536.1.1.1.9"
SHA256_RSA = "1.2.840.113549.1.1.11"


# ----------------------------------------------------------------------------- keys


@functools.cache
def key(name: str) -> rsa.RSAPrivateKey:
    """A 2048-bit RSA key, the same for the same name for the whole process."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def dn(*rdns: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(o, v)]) for o, v in rdns])


def grid_name(*cns: str, org: str | None = "JUNO", domain: str = "junotest") -> x509.Name:
    """``/DC=org/DC=<domain>[/O=<org>]/CN=...``."""
    rdns = [(NameOID.DOMAIN_COMPONENT, "org"), (NameOID.DOMAIN_COMPONENT, domain)]
    if org:
        rdns.append((NameOID.ORGANIZATION_NAME, org))
    rdns += [(NameOID.COMMON_NAME, cn) for cn in cns]
    return dn(*rdns)


def now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


# ----------------------------------------------------------------------------- certificates


def _key_usage(
    *, sign: bool = True, encipher: bool = True, cert_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=encipher,
        data_encipherment=encipher and not cert_sign,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def make_ca(
    subject: x509.Name,
    ca_key: rsa.RSAPrivateKey,
    *,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> x509.Certificate:
    """A self-signed root CA."""
    start = not_before or now() - dt.timedelta(days=1)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after or start + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(sign=False, encipher=False, cert_sign=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def issue_cert(
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    *,
    kind: str = "user",
    dns: Sequence[str] = (),
    ips: Sequence[str] = (),
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    serial: int | None = None,
) -> x509.Certificate:
    """An end-entity certificate: ``kind`` is ``user`` (clientAuth), ``host`` or ``voms``."""
    start = not_before or now() - dt.timedelta(days=1)
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if kind != "user":
        usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after or start + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(encipher=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_crl(
    ca: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    revoked: Sequence[int] = (),
    *,
    last_update: dt.datetime | None = None,
    next_update: dt.datetime | None = None,
) -> x509.CertificateRevocationList:
    """A CRL of ``ca`` revoking the given serial numbers."""
    start = last_update or now() - dt.timedelta(hours=1)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(start)
        .next_update(next_update or start + dt.timedelta(days=7))
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(start).build()
        )
    return builder.sign(ca_key, hashes.SHA256())


def pem(*items: x509.Certificate | rsa.RSAPrivateKey) -> bytes:
    out = b""
    for item in items:
        if isinstance(item, x509.Certificate):
            out += item.public_bytes(serialization.Encoding.PEM)
        else:
            out += item.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
    return out


# ----------------------------------------------------------------------------- DER helpers


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _oid(dotted: str) -> bytes:
    return bytes(encoder.encode(univ.ObjectIdentifier(dotted)))


def _int(value: int) -> bytes:
    return bytes(encoder.encode(univ.Integer(value)))


def _gentime(when: dt.datetime) -> bytes:
    return _tlv(0x18, when.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode())


def _directory_names(name: x509.Name) -> bytes:
    """GeneralNames holding one directoryName ([4] EXPLICIT Name)."""
    return _seq(_tlv(0xA4, name.public_bytes()))


def _extension(oid: str, value: bytes, critical: bool = False) -> bytes:
    flag = bytes(encoder.encode(univ.Boolean(True))) if critical else b""
    return _seq(_oid(oid), flag, _tlv(0x04, value))


# ----------------------------------------------------------------------------- VOMS ACs


def issue_ac(
    holder: x509.Certificate,
    signer: x509.Certificate,
    signer_key: rsa.RSAPrivateKey,
    *,
    fqans: Sequence[str] = ("/juno/Role=NULL/Capability=NULL",),
    vo: str = VO,
    host: str = VOMS_HOST,
    port: int = VOMS_PORT,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    serial: int = 1,
    holder_name: str = "issuer",
    holder_serial: int | None = None,
    issuer_name: x509.Name | None = None,
    embedded: Sequence[x509.Certificate] | None = None,
    extra_extensions: Sequence[bytes] = (),
    outer_algorithm: str = SHA256_RSA,
) -> bytes:
    """A VOMS attribute certificate (DER), as a VOMS server issues it.

    ``holder_name="issuer"`` is the VOMS-AA ("new") holder format, ``"subject"`` the old one
    ``voms-proxy-fake`` writes by default. ``embedded`` defaults to ``[signer]``.
    """
    start = not_before or now() - dt.timedelta(minutes=5)
    end = not_after or start + dt.timedelta(hours=12)
    holder_dn = holder.issuer if holder_name == "issuer" else holder.subject
    holder_der = _seq(
        _tlv(0xA0, _directory_names(holder_dn) + _int(holder_serial or holder.serial_number))
    )
    issuer_der = _tlv(0xA0, _directory_names(issuer_name or signer.subject))
    algorithm = _seq(_oid(SHA256_RSA), b"\x05\x00")
    authority = _tlv(0xA0, _tlv(0x86, f"{vo}://{host}:{port}".encode()))
    values = _seq(*(_tlv(0x04, f.encode()) for f in fqans))
    attribute = _seq(_oid("1.3.6.1.4.1.8005.100.100.4"), _tlv(0x31, _seq(authority, values)))
    certs = [signer] if embedded is None else list(embedded)
    extensions = []
    if certs:
        cert_ders = b"".join(c.public_bytes(serialization.Encoding.DER) for c in certs)
        extensions.append(_extension("1.3.6.1.4.1.8005.100.100.10", _seq(_seq(cert_ders))))
    extensions.append(_extension("2.5.29.56", b"\x05\x00"))
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key())
    aki_value = x509.Extension(x509.oid.ExtensionOID.AUTHORITY_KEY_IDENTIFIER, False, aki)
    extensions.append(_extension("2.5.29.35", aki_value.value.public_bytes()))
    extensions.extend(extra_extensions)
    acinfo = _seq(
        _int(1),
        holder_der,
        issuer_der,
        algorithm,
        _int(serial),
        _seq(_gentime(start), _gentime(end)),
        _seq(attribute),
        _seq(*extensions),
    )
    signature = signer_key.sign(acinfo, padding.PKCS1v15(), hashes.SHA256())
    outer = _seq(_oid(outer_algorithm), b"\x05\x00")
    return _seq(acinfo, outer, _tlv(0x03, b"\x00" + signature))


def acseq(*acs: bytes) -> bytes:
    """The value of the VOMS proxy extension: SEQUENCE OF SEQUENCE OF AC (one AC per VO)."""
    return _seq(*(_seq(ac) for ac in acs))


# ----------------------------------------------------------------------------- proxies


def pci_value(path_length: int | None = None, language: str = LANG_INHERIT_ALL) -> bytes:
    pathlen = _int(path_length) if path_length is not None else b""
    return _seq(pathlen, _seq(_oid(language)))


def forge_proxy(
    issuer: x509.Certificate,
    sign_key: rsa.RSAPrivateKey,
    public_key: rsa.RSAPublicKey,
    *,
    subject: x509.Name | None = None,
    issuer_name: x509.Name | None = None,
    pci: bytes | None = None,
    pci_oid: str = OID_PCI,
    pci_critical: bool = True,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    serial: int = 123456789,
) -> x509.Certificate:
    """A proxy built by hand, for attacks: every rule can be broken on purpose.

    ``pci=None`` means the default impersonation ProxyCertInfo; pass ``b""`` for none.
    """
    start = not_before or now() - dt.timedelta(minutes=5)
    if subject is None:
        subject = x509.Name(
            [
                *issuer.subject.rdns,
                x509.RelativeDistinguishedName(
                    [x509.NameAttribute(NameOID.COMMON_NAME, str(serial))]
                ),
            ]
        )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or issuer.subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(not_after or start + dt.timedelta(hours=12))
        .add_extension(_key_usage(), critical=True)
    )
    value = pci_value() if pci is None else pci
    if value:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier(pci_oid), value), critical=pci_critical
        )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(sign_key, hashes.SHA256())


# ----------------------------------------------------------------------------- the PKI


@dataclass(frozen=True)
class Credential:
    """A certificate, its key, and where both are written."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    cert_path: Path
    key_path: Path

    @property
    def dn(self) -> str:
        from dfc.auth.dn import dn_string

        return dn_string(self.cert.subject)


def _write(path: Path, data: bytes, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


def _credential(
    root: Path, name: str, cert: x509.Certificate, private: rsa.RSAPrivateKey
) -> Credential:
    cert_path = _write(root / name / "cert.pem", pem(cert))
    key_path = _write(root / name / "key.pem", pem(private), 0o600)
    return Credential(cert, private, cert_path, key_path)


@dataclass(frozen=True)
class TestPKI:
    """Everything :func:`build_pki` made; see the module docstring."""

    __test__ = False  # not a test class, despite the name

    root: Path
    ca_dir: Path
    vomsdir: Path
    ca: Credential
    ca2: Credential
    host: Credential
    alice: Credential
    bob: Credential
    carol: Credential
    mallory: Credential
    voms: Credential
    rogue: Credential

    @property
    def proxy_key(self) -> rsa.RSAPrivateKey:
        """The key every test proxy shares (generating one per proxy is slow)."""
        return key("proxy")

    def user(self, name: str) -> Credential:
        cred = getattr(self, name)
        assert isinstance(cred, Credential)
        return cred

    def ac(self, user: str = "alice", **kwargs: object) -> bytes:
        """A VOMS AC for a user, signed by the trusted VOMS server unless told otherwise."""
        signer = kwargs.pop("signer", self.voms)
        assert isinstance(signer, Credential)
        return issue_ac(self.user(user).cert, signer.cert, signer.key, **kwargs)  # type: ignore[arg-type]

    def proxy(
        self,
        user: str = "alice",
        *,
        fqans: Sequence[str] | None = None,
        ac: bytes | None = None,
        hours: float = 12,
        limited: bool = False,
        path_length: int | None = None,
        when: dt.datetime | None = None,
    ) -> bytes:
        """A proxy file (PEM) for a user, with a VOMS AC when ``fqans`` or ``ac`` is given."""
        cred = self.user(user)
        if ac is None and fqans is not None:
            ac = self.ac(user, fqans=fqans)
        return make_proxy(
            cred.cert,
            cred.key,
            hours=hours,
            limited=limited,
            path_length=path_length,
            voms_extension=acseq(ac) if ac is not None else None,
            proxy_key=self.proxy_key,
            now=when,
        )

    def write(self, name: str, data: bytes) -> Path:
        """Write a proxy file (mode 600) under ``root/proxies``."""
        return _write(self.root / "proxies" / name, data, 0o600)


def build_pki(root: Path) -> TestPKI:
    """Build the whole test PKI under ``root`` (about 0.1 s once the keys exist)."""
    ca_cert = make_ca(grid_name("JUNO Test CA", org=None), key("ca"))
    ca2_cert = make_ca(grid_name("Evil CA", org=None, domain="evil"), key("ca2"))
    ca = _credential(root, "ca", ca_cert, key("ca"))
    ca2 = _credential(root, "ca2", ca2_cert, key("ca2"))

    def issued(name: str, subject: x509.Name, *, by: Credential = ca, **kw: object) -> Credential:
        cert = issue_cert(subject, key(name).public_key(), by.cert, by.key, **kw)  # type: ignore[arg-type]
        return _credential(root, name, cert, key(name))

    host = issued(
        "host", grid_name("localhost", org=None), kind="host", dns=["localhost"], ips=["127.0.0.1"]
    )
    alice = issued("alice", grid_name("Alice Tester"))
    bob = issued("bob", grid_name("Bob Other"))
    carol = issued("carol", grid_name("Carol Revoked"))
    mallory = issued("mallory", grid_name("Alice Tester"), by=ca2)
    voms = issued("voms", grid_name(VOMS_HOST, org=None), kind="voms", dns=[VOMS_HOST])
    rogue = issued("rogue", grid_name(ROGUE_HOST, org=None), kind="voms", dns=[ROGUE_HOST])

    ca_dir = root / "certificates"
    add_to_ca_dir(ca_dir, ca_cert)
    add_to_ca_dir(ca_dir, make_crl(ca_cert, key("ca"), [carol.cert.serial_number]))
    h = subject_hash(ca_cert.subject)
    (ca_dir / f"{h}.signing_policy").write_text(
        "access_id_CA   X509   '/DC=org/DC=junotest/CN=JUNO Test CA'\n"
        "pos_rights     globus CA:sign\n"
        "cond_subjects  globus '\"/DC=org/DC=junotest/*\"'\n"
    )
    vomsdir = root / "vomsdir"
    _write(vomsdir / VO / f"{VOMS_HOST}.lsc", f"{voms.dn}\n{ca.dn}\n".encode())
    return TestPKI(
        root=root,
        ca_dir=ca_dir,
        vomsdir=vomsdir,
        ca=ca,
        ca2=ca2,
        host=host,
        alice=alice,
        bob=bob,
        carol=carol,
        mallory=mallory,
        voms=voms,
        rogue=rogue,
    )
