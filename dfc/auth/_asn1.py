"""pyasn1 decoding and encoding of the grid-specific structures.

Only this module touches pyasn1: the rest of :mod:`dfc.auth` sees typed values.
Structures: RFC 3820 ProxyCertInfo, and the RFC 5755 attribute certificate as VOMS
uses it (GFD.182). Everything raises :class:`ValueError` on malformed input; callers
turn that into the right :mod:`dfc.auth.errors` class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from pyasn1.codec.der import decoder, encoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import univ
from pyasn1_modules import rfc3820, rfc5280, rfc5755

from dfc.auth import _der

__all__ = [
    "ParsedAC",
    "ProxyCertInfoData",
    "decode_proxy_cert_info",
    "encode_proxy_cert_info",
    "parse_ac",
    "parse_ac_certs",
    "parse_ac_targets",
    "split_ac_sequence",
]

# String types a DN attribute value may have, and how their content decodes.
_STRING_TAGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x1A: "ascii", 0x14: "latin-1",
                0x1E: "utf-16-be", 0x1C: "utf-32-be", 0x12: "ascii"}  # fmt: skip

#: VOMS attribute type "idatcap" carrying the FQANs.
OID_VOMS_ATTRIBUTES = "1.3.6.1.4.1.8005.100.100.4"


@dataclass(frozen=True)
class ProxyCertInfoData:
    """The content of an RFC 3820 ProxyCertInfo extension."""

    path_length: int | None
    language: str
    policy: bytes | None


@dataclass(frozen=True)
class ParsedAC:
    """An attribute certificate, decoded but not verified."""

    der: bytes
    acinfo_der: bytes
    version: int
    holder_issuer: x509.Name | None
    holder_serial: int | None
    issuer: x509.Name
    inner_algorithm: bytes
    outer_algorithm: bytes
    algorithm_oid: str
    serial: int
    not_before: datetime
    not_after: datetime
    #: per VOMS attribute: (policy authorities, values)
    attributes: tuple[tuple[tuple[str, ...], tuple[bytes, ...]], ...]
    #: (oid, critical, value)
    extensions: tuple[tuple[str, bool, bytes], ...]
    signature: bytes


def _decode(data: bytes, spec: object) -> object:
    try:
        value, rest = decoder.decode(data, asn1Spec=spec)
    except PyAsn1Error as exc:
        raise ValueError(f"malformed ASN.1: {exc}") from exc
    if rest:
        raise ValueError("trailing bytes after ASN.1 value")
    return value


def decode_proxy_cert_info(data: bytes) -> ProxyCertInfoData:
    """Decode the value of a ProxyCertInfo extension (OID 1.3.6.1.5.5.7.1.14).

    Args:
        data: the DER extension value.

    Returns:
        Path length constraint, policy language OID and policy bytes.

    Raises:
        ValueError: malformed.
    """
    pci = _decode(data, rfc3820.ProxyCertInfoExtension())
    assert isinstance(pci, rfc3820.ProxyCertInfoExtension)
    path_length = pci["pCPathLenConstraint"]
    policy = pci["proxyPolicy"]["policy"]
    length = int(path_length) if path_length.isValue else None
    if length is not None and length < 0:
        raise ValueError("negative proxy path length constraint")
    return ProxyCertInfoData(
        path_length=length,
        language=str(pci["proxyPolicy"]["policyLanguage"]),
        policy=bytes(policy) if policy.isValue else None,
    )


def encode_proxy_cert_info(path_length: int | None, language: str, policy: bytes | None) -> bytes:
    """Encode a ProxyCertInfo extension value.

    Args:
        path_length: pCPathLenConstraint, or None for unlimited.
        language: the policy language OID, dotted.
        policy: policy bytes, if any.

    Returns:
        DER.
    """
    pci = rfc3820.ProxyCertInfoExtension()
    if path_length is not None:
        pci["pCPathLenConstraint"] = path_length
    pci["proxyPolicy"]["policyLanguage"] = univ.ObjectIdentifier(language)
    if policy is not None:
        pci["proxyPolicy"]["policy"] = policy
    return bytes(encoder.encode(pci))


def split_ac_sequence(data: bytes) -> list[bytes]:
    """Split the value of a VOMS ``acseq`` extension into single AC encodings.

    The value is ``SEQUENCE OF SEQUENCE OF AttributeCertificate`` (one inner sequence
    per VO; GFD.182 describes a single level but every implementation writes two).

    Args:
        data: the DER extension value.

    Returns:
        The original bytes of each attribute certificate.

    Raises:
        ValueError: malformed.
    """
    return [ac for group in _der.children(data) for ac in _der.children(group)]


def _name(value: rfc5280.Name) -> x509.Name:
    rdns: list[x509.RelativeDistinguishedName] = []
    for rdn in value["rdnSequence"]:
        attrs: list[x509.NameAttribute[str]] = []
        for atv in rdn:
            raw = bytes(atv["value"])
            tag, start, end = _der.split_tlv(raw)
            if tag not in _STRING_TAGS or end != len(raw):
                raise ValueError("unsupported value type in a distinguished name")
            text = raw[start:end].decode(_STRING_TAGS[tag])
            attrs.append(x509.NameAttribute(x509.ObjectIdentifier(str(atv["type"])), text))
        rdns.append(x509.RelativeDistinguishedName(attrs))
    return x509.Name(rdns)


def _directory_name(names: rfc5280.GeneralNames) -> x509.Name:
    for general_name in names:
        if general_name.getName() == "directoryName":
            return _name(general_name["directoryName"])
    raise ValueError("no directoryName in GeneralNames")


def _time(value: object) -> datetime:
    stamp = value.asDateTime  # type: ignore[attr-defined]
    assert isinstance(stamp, datetime)
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def parse_ac(data: bytes) -> ParsedAC:
    """Decode one attribute certificate.

    Args:
        data: the DER AttributeCertificate.

    Returns:
        Its fields, with the original bytes of the signed ``acinfo``.

    Raises:
        ValueError: malformed or of an unsupported shape.
    """
    parts = _der.children(data)
    if len(parts) != 3:
        raise ValueError("an attribute certificate has three parts")
    acinfo_der = parts[0]
    ac = _decode(data, rfc5755.AttributeCertificate())
    assert isinstance(ac, rfc5755.AttributeCertificate)
    info = ac["acinfo"]
    holder = info["holder"]
    holder_issuer: x509.Name | None = None
    holder_serial: int | None = None
    if holder["baseCertificateID"].isValue:
        base = holder["baseCertificateID"]
        holder_issuer = _directory_name(base["issuer"])
        holder_serial = int(base["serial"])
    issuer_choice = info["issuer"]
    if issuer_choice.getName() == "v2Form":
        issuer = _directory_name(issuer_choice["v2Form"]["issuerName"])
    else:
        issuer = _directory_name(issuer_choice["v1Form"])
    attributes: list[tuple[tuple[str, ...], tuple[bytes, ...]]] = []
    for attribute in info["attributes"]:
        if str(attribute["type"]) != OID_VOMS_ATTRIBUTES:
            continue
        for raw in attribute["values"]:
            ietf = _decode(bytes(raw), rfc5755.IetfAttrSyntax())
            assert isinstance(ietf, rfc5755.IetfAttrSyntax)
            authorities: list[str] = []
            if ietf["policyAuthority"].isValue:
                for general_name in ietf["policyAuthority"]:
                    if general_name.getName() == "uniformResourceIdentifier":
                        authorities.append(str(general_name["uniformResourceIdentifier"]))
            values: list[bytes] = []
            for choice in ietf["values"]:
                if choice.getName() != "octets":
                    raise ValueError("VOMS attribute values must be OCTET STRINGs")
                values.append(bytes(choice["octets"]))
            attributes.append((tuple(authorities), tuple(values)))
    extensions: list[tuple[str, bool, bytes]] = []
    if info["extensions"].isValue:
        for ext in info["extensions"]:
            extensions.append((str(ext["extnID"]), bool(ext["critical"]), bytes(ext["extnValue"])))
    period = info["attrCertValidityPeriod"]
    return ParsedAC(
        der=data,
        acinfo_der=acinfo_der,
        version=int(info["version"]),
        holder_issuer=holder_issuer,
        holder_serial=holder_serial,
        issuer=issuer,
        inner_algorithm=bytes(encoder.encode(info["signature"])),
        outer_algorithm=bytes(encoder.encode(ac["signatureAlgorithm"])),
        algorithm_oid=str(ac["signatureAlgorithm"]["algorithm"]),
        serial=int(info["serialNumber"]),
        not_before=_time(period["notBeforeTime"]),
        not_after=_time(period["notAfterTime"]),
        attributes=tuple(attributes),
        extensions=tuple(extensions),
        signature=ac["signatureValue"].asOctets(),
    )


def parse_ac_certs(data: bytes) -> list[x509.Certificate]:
    """Decode the VOMS ``certseq`` AC extension (1.3.6.1.4.1.8005.100.100.10).

    Args:
        data: ``SEQUENCE { SEQUENCE OF Certificate }``, DER.

    Returns:
        The certificates, signer first.

    Raises:
        ValueError: malformed.
    """
    (inner,) = _der.children(data)
    return [x509.load_der_x509_certificate(raw) for raw in _der.children(inner)]


def parse_ac_targets(data: bytes) -> list[str]:
    """Decode the AC targeting extension (2.5.29.55) into target names.

    Args:
        data: ``SEQUENCE OF Targets``, DER.

    Returns:
        The URI and DNS names of the targets.

    Raises:
        ValueError: malformed.
    """
    spec = univ.SequenceOf(componentType=rfc5755.Targets())
    value = _decode(data, spec)
    names: list[str] = []
    for targets in value:  # type: ignore[attr-defined]
        for target in targets:
            if target.getName() != "targetName":
                continue
            general_name = target["targetName"]
            kind = general_name.getName()
            if kind in ("uniformResourceIdentifier", "dNSName"):
                names.append(str(general_name[kind]))
    return names
