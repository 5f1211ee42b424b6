"""CA directories (subject hashes, CRLs), DN text, FQAN syntax."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from dfc.auth.ca import TrustStore, add_to_ca_dir, subject_hash
from dfc.auth.dn import dn_key, dn_string, parse_dn
from dfc.auth.fqan import FQAN, fqan_groups, fqan_roles, normalize_fqan, parse_fqan
from dfc.errors import ConfigError
from tests.auth.fixtures import need_tool
from tests.auth.pki import TestPKI, dn, key, make_ca, make_crl

if TYPE_CHECKING:
    from pathlib import Path


def openssl_hash(cert: x509.Certificate, tmp_path: Path) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    path = tmp_path / "c.pem"
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    out = subprocess.run(
        [need_tool("openssl"), "x509", "-in", path, "-noout", "-subject_hash"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


@pytest.mark.parametrize(
    "rdns",
    [
        [(NameOID.DOMAIN_COMPONENT, "org"), (NameOID.COMMON_NAME, "JUNO Test CA")],
        [(NameOID.COUNTRY_NAME, "CN"), (NameOID.ORGANIZATION_NAME, "  IHEP   Grid  CA ")],
        [(NameOID.COMMON_NAME, "Ünïcode Ça")],
        [(NameOID.EMAIL_ADDRESS, "CA@Example.ORG"), (NameOID.COMMON_NAME, "x\ty")],
    ],
)
def test_subject_hash_matches_openssl(
    rdns: list[tuple[x509.ObjectIdentifier, str]], tmp_path: Path
) -> None:
    ca = make_ca(dn(*rdns), key("ca2"))
    assert subject_hash(ca.subject) == openssl_hash(ca, tmp_path)


def test_trust_store(pki: TestPKI, trust: TrustStore) -> None:
    assert trust.is_trusted(pki.ca.cert)
    assert not trust.is_trusted(pki.ca2.cert)
    assert trust.issuers_of(pki.alice.cert) == [pki.ca.cert]
    assert trust.issuers_of(pki.mallory.cert) == []
    assert len(trust.crls) == 1
    assert not trust.is_stale()


def test_trust_store_notices_changes(pki: TestPKI, tmp_path: Path) -> None:
    ca_dir = tmp_path / "certs"
    add_to_ca_dir(ca_dir, pki.ca.cert)
    store = TrustStore.from_dir(ca_dir)
    assert not store.is_stale()
    crl = add_to_ca_dir(ca_dir, make_crl(pki.ca.cert, pki.ca.key, [1]))
    assert crl.name.endswith(".r0")
    assert store.is_stale()


def test_add_to_ca_dir_is_idempotent(pki: TestPKI, tmp_path: Path) -> None:
    first = add_to_ca_dir(tmp_path, pki.ca.cert)
    assert add_to_ca_dir(tmp_path, pki.ca.cert) == first
    impostor = make_ca(pki.ca.cert.subject, key("ca2"))
    assert add_to_ca_dir(tmp_path, impostor).name == first.name[:-1] + "1"


def test_trust_store_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read CA directory"):
        TrustStore.from_dir(tmp_path / "missing")
    with pytest.raises(ConfigError, match=r"no CA certificates"):
        TrustStore.from_dir(tmp_path)
    (tmp_path / "0123abcd.0").write_text("garbage")
    with pytest.raises(ConfigError, match=r"unreadable"):
        TrustStore.from_dir(tmp_path)


def test_ca_dir_ignores_other_files(pki: TestPKI, tmp_path: Path) -> None:
    add_to_ca_dir(tmp_path, pki.ca.cert)
    (tmp_path / "JUNO.pem").write_text("not parsed")
    (tmp_path / "x.signing_policy").write_text("")
    assert len(TrustStore.from_dir(tmp_path).cas) == 1


# ----------------------------------------------------------------------------- DNs


def test_dn_string(pki: TestPKI) -> None:
    assert dn_string(pki.alice.cert.subject) == "/DC=org/DC=junotest/O=JUNO/CN=Alice Tester"


@pytest.mark.parametrize(
    "text",
    [
        "/DC=org/DC=junotest/O=JUNO/CN=Alice Tester",
        '"/DC=org/DC=junotest/O=JUNO/CN=Alice Tester"',
        "/dc=org/DC=junotest/o=JUNO/commonName=Alice Tester",
    ],
)
def test_parse_dn_equivalents(pki: TestPKI, text: str) -> None:
    assert parse_dn(text) == dn_key(pki.alice.cert.subject)


def test_parse_dn_email_spellings() -> None:
    assert (
        parse_dn("/CN=a/E=x@y") == parse_dn("/CN=a/emailAddress=x@y") == parse_dn("/CN=a/Email=x@y")
    )
    assert parse_dn("/CN=a/UID=u") == parse_dn("/CN=a/USERID=u")


def test_parse_dn_values_with_slashes_and_plus() -> None:
    assert parse_dn("/CN=host/x.org/OU=a+b") == (
        (("2.5.4.3", "host/x.org"),),
        (("2.5.4.11", "a+b"),),
    )
    assert parse_dn("/CN=a+OU=b") == ((("2.5.4.11", "b"), ("2.5.4.3", "a")),)


@pytest.mark.parametrize("text", ["", "CN=x", "/NOPE=x", "/ =x"])
def test_parse_dn_errors(text: str) -> None:
    with pytest.raises(ValueError, match=r"DN|attribute"):
        parse_dn(text)


@given(
    st.lists(
        st.text(
            alphabet=st.characters(
                min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters="/+="
            ),
            min_size=1,
            max_size=12,
        ).filter(lambda v: v == v.rstrip()),  # like VOMS, trailing blanks are dropped
        min_size=1,
        max_size=4,
    )
)
def test_dn_roundtrip(cns: list[str]) -> None:
    name = x509.Name(
        [x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, c)]) for c in cns]
    )
    assert parse_dn(dn_string(name)) == dn_key(name)


# ----------------------------------------------------------------------------- FQANs


def test_parse_fqan() -> None:
    assert parse_fqan("/juno/production/Role=production/Capability=NULL") == FQAN(
        "/juno/production", "production"
    )
    assert parse_fqan("/juno/Role=NULL/Capability=NULL") == FQAN("/juno")
    assert parse_fqan("/juno").vo == "juno"
    assert str(parse_fqan("/juno/a/Capability=x")) == "/juno/a/Capability=x"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "juno",
        "/",
        "/juno/",
        "//juno",
        "/juno/Role=x/g",
        "/juno/role=x",
        "/Role=x",
        "/juno/../x",
        "/juno/Role=a b",
        "/juno/Capability=x/Role=y",
    ],
)
def test_bad_fqans(bad: str) -> None:
    with pytest.raises(ValueError, match=r"FQAN"):
        parse_fqan(bad)


def test_fqan_vo_on_component_boundary() -> None:
    assert parse_fqan("/juno/x", vo="juno").group == "/juno/x"
    with pytest.raises(ValueError, match=r"outside VO"):
        parse_fqan("/junox", vo="juno")


def test_groups_and_roles() -> None:
    fqans = [
        "/juno/Role=NULL/Capability=NULL",
        "/juno/production/Role=production",
        "/juno/production/Role=NULL",
        "/juno/Role=VO-Admin",
    ]
    assert fqan_groups(fqans) == ("/juno", "/juno/production")
    assert fqan_roles(fqans) == ("production", "VO-Admin")
    assert normalize_fqan(fqans[0]) == "/juno"
