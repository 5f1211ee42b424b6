"""Distinguished names in the grid's "OpenSSL oneline" form: ``/DC=org/DC=junotest/CN=Alice``.

Grid tools (VOMS ``.lsc`` files, grid-mapfiles, DIRAC's registry) write DNs in this form.
Compare names structurally, never as strings: :func:`parse_dn` turns the text into
``(oid, value)`` pairs and knows the spellings that differ between tools
(``E``/``Email``/``emailAddress``, ``UID``/``USERID``).
"""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

__all__ = ["DNKey", "dn_key", "dn_string", "parse_dn"]

#: A DN reduced to comparable data: per RDN, the sorted ``(dotted oid, value)`` pairs.
DNKey = tuple[tuple[tuple[str, str], ...], ...]

_SHORT_NAMES: dict[str, str] = {
    "2.5.4.3": "CN",
    "2.5.4.4": "SN",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "street",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.12": "title",
    "2.5.4.17": "postalCode",
    "2.5.4.42": "GN",
    "2.5.4.43": "initials",
    "2.5.4.44": "generationQualifier",
    "2.5.4.46": "dnQualifier",
    "2.5.4.65": "pseudonym",
    "2.5.4.97": "organizationIdentifier",
    "0.9.2342.19200300.100.1.1": "UID",
    "0.9.2342.19200300.100.1.25": "DC",
    "1.2.840.113549.1.9.1": "emailAddress",
}
_OIDS: dict[str, str] = {name.lower(): oid for oid, name in _SHORT_NAMES.items()}
_OIDS.update(
    {
        "e": "1.2.840.113549.1.9.1",
        "email": "1.2.840.113549.1.9.1",
        "userid": "0.9.2342.19200300.100.1.1",
        "commonname": "2.5.4.3",
        "organizationname": "2.5.4.10",
        "organizationalunitname": "2.5.4.11",
        "countryname": "2.5.4.6",
        "domaincomponent": "0.9.2342.19200300.100.1.25",
    }
)
# An attribute starts at a "/" followed by "key=" (a short name or a dotted OID).
_ATTR_START = re.compile(r"/(?=[A-Za-z][A-Za-z0-9-]*=|[0-9]+(?:\.[0-9]+)+=)")
_PLUS_START = re.compile(r"\+(?=[A-Za-z][A-Za-z0-9-]*=|[0-9]+(?:\.[0-9]+)+=)")


def _value_text(attr: x509.NameAttribute[str | bytes]) -> str:
    value = attr.value
    return value if isinstance(value, str) else value.hex()


def dn_string(name: x509.Name) -> str:
    """Render a name in OpenSSL oneline form, the way grid tools print it.

    Args:
        name: the certificate subject or issuer.

    Returns:
        For example ``/DC=org/DC=junotest/O=JUNO/CN=Alice Tester``.
    """
    parts: list[str] = []
    for rdn in name.rdns:
        items = [
            f"{_SHORT_NAMES.get(a.oid.dotted_string, a.oid.dotted_string)}={_value_text(a)}"
            for a in rdn
        ]
        parts.append("+".join(items))
    return "".join("/" + p for p in parts)


def dn_key(name: x509.Name) -> DNKey:
    """Reduce a certificate name to comparable data.

    Args:
        name: the certificate subject or issuer.

    Returns:
        One tuple per RDN of sorted ``(dotted oid, value)`` pairs.
    """
    return tuple(
        tuple(sorted((a.oid.dotted_string, _value_text(a)) for a in rdn)) for rdn in name.rdns
    )


def parse_dn(text: str) -> DNKey:
    """Parse a DN written in OpenSSL oneline form.

    Surrounding double quotes (as in ``.lsc`` files and grid-mapfiles) are removed.

    Args:
        text: e.g. ``"/DC=org/DC=junotest/CN=voms.junotest.org"``.

    Returns:
        The same structure as :func:`dn_key` returns for the equivalent certificate name.

    Raises:
        ValueError: the text is not a oneline DN.
    """
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    if not text.startswith("/") or _ATTR_START.match(text) is None:
        raise ValueError(f"not a DN in /KEY=value form: {text!r}")
    starts = [m.start() for m in _ATTR_START.finditer(text)] + [len(text)]
    rdns: list[tuple[tuple[str, str], ...]] = []
    for begin, end in itertools.pairwise(starts):
        chunk = text[begin + 1 : end]
        pieces: list[tuple[str, str]] = []
        cuts = [0] + [m.start() + 1 for m in _PLUS_START.finditer(chunk)] + [len(chunk) + 1]
        for a, b in itertools.pairwise(cuts):
            key, _, value = chunk[a : b - 1].partition("=")
            oid = _OIDS.get(key.lower(), key if key[0].isdigit() else "")
            if not oid:
                raise ValueError(f"unknown DN attribute {key!r} in {text!r}")
            pieces.append((oid, value))
        rdns.append(tuple(sorted(pieces)))
    return tuple(rdns)
