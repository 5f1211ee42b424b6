"""Proxy chain validation: good chains and every attack of the RFC 3820 profile."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509

from dfc.auth.chain import validate_chain
from dfc.auth.errors import (
    AuthenticationFailed,
    CertificateExpired,
    CertificateRevoked,
    InvalidProxy,
    UntrustedCertificate,
)
from dfc.auth.proxy import load_proxy, make_proxy
from dfc.errors import PermissionDenied
from tests.auth.pki import (
    LANG_INDEPENDENT,
    LANG_LIMITED,
    OID_DRAFT_PCI,
    TestPKI,
    forge_proxy,
    grid_name,
    key,
    make_ca,
    make_crl,
    now,
    pci_value,
)

ALICE = "/DC=org/DC=junotest/O=JUNO/CN=Alice Tester"


def chain_of(pem: bytes) -> list[x509.Certificate]:
    return list(load_proxy(pem).chain)


def delegate(pem: bytes, **kwargs: object) -> bytes:
    """A proxy of the proxy in ``pem`` (what grid-proxy-init -cert proxy does)."""
    cred = load_proxy(pem)
    assert cred.key is not None
    return make_proxy(
        cred.chain[0], cred.key, chain=cred.chain[1:], proxy_key=key("proxy2"), **kwargs
    )  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- accepted


def test_user_certificate_alone(pki: TestPKI, trust: object) -> None:
    identity = validate_chain([pki.alice.cert], ca_dir=pki.ca_dir)
    assert identity.dn == ALICE
    assert identity.proxies == 0
    assert not identity.limited
    assert identity.ca_dn == "/DC=org/DC=junotest/CN=JUNO Test CA"


def test_rfc3820_proxy(pki: TestPKI) -> None:
    identity = validate_chain(chain_of(pki.proxy("alice")), ca_dir=pki.ca_dir)
    assert identity.dn == ALICE
    assert identity.proxies == 1
    assert not identity.limited
    assert identity.end_entity == pki.alice.cert
    assert identity.not_after <= pki.alice.cert.not_valid_after_utc


def test_proxy_of_proxy_with_ca_in_chain(pki: TestPKI) -> None:
    pem = delegate(pki.proxy("alice"))
    chain = [*chain_of(pem), pki.ca.cert]  # a TLS peer's verified chain ends with the CA
    identity = validate_chain(chain, ca_dir=pki.ca_dir)
    assert (identity.dn, identity.proxies) == (ALICE, 2)
    assert len(identity.certificates) == 3


def test_limited_proxy_is_flagged_not_refused(pki: TestPKI) -> None:
    identity = validate_chain(chain_of(pki.proxy("alice", limited=True)), ca_dir=pki.ca_dir)
    assert identity.limited
    assert identity.dn == ALICE


def test_limited_is_sticky_down_the_chain(pki: TestPKI) -> None:
    pem = delegate(pki.proxy("alice", limited=True))
    assert validate_chain(chain_of(pem), ca_dir=pki.ca_dir).limited


def test_path_length_zero_allows_the_proxy_itself(pki: TestPKI) -> None:
    identity = validate_chain(chain_of(pki.proxy("alice", path_length=0)), ca_dir=pki.ca_dir)
    assert identity.proxies == 1


def test_path_length_one_allows_one_more(pki: TestPKI) -> None:
    pem = delegate(pki.proxy("alice", path_length=1))
    assert validate_chain(chain_of(pem), ca_dir=pki.ca_dir).proxies == 2


# ----------------------------------------------------------------------------- attacks


def test_expired_proxy(pki: TestPKI) -> None:
    past = now() - dt.timedelta(days=2)
    pem = pki.proxy("alice", hours=1, when=past)
    with pytest.raises(CertificateExpired, match=r"expired at"):
        validate_chain(chain_of(pem), ca_dir=pki.ca_dir)


def test_proxy_not_yet_valid(pki: TestPKI) -> None:
    chain = chain_of(pki.proxy("alice"))
    with pytest.raises(CertificateExpired, match=r"not valid before"):
        validate_chain(chain, ca_dir=pki.ca_dir, now=now() - dt.timedelta(hours=1))


def test_proxy_signed_by_another_key(pki: TestPKI) -> None:
    forged = forge_proxy(pki.alice.cert, key("bob"), key("proxy").public_key())
    with pytest.raises(InvalidProxy, match=r"does not verify with the key of .*Alice"):
        validate_chain([forged, pki.alice.cert], ca_dir=pki.ca_dir)


def test_wrong_issuer_name(pki: TestPKI) -> None:
    forged = forge_proxy(
        pki.alice.cert, key("alice"), key("proxy").public_key(), issuer_name=pki.bob.cert.subject
    )
    with pytest.raises(InvalidProxy, match=r"names issuer .*Bob Other"):
        validate_chain([forged, pki.alice.cert], ca_dir=pki.ca_dir)


def test_subject_not_issuer_plus_one_cn(pki: TestPKI) -> None:
    other = grid_name("Bob Other", "12345")
    forged = forge_proxy(pki.alice.cert, key("alice"), key("proxy").public_key(), subject=other)
    with pytest.raises(InvalidProxy, match=r"plus one CN"):
        validate_chain([forged, pki.alice.cert], ca_dir=pki.ca_dir)


def test_subject_with_two_extra_cns(pki: TestPKI) -> None:
    subject = grid_name("Alice Tester", "1", "2")
    forged = forge_proxy(pki.alice.cert, key("alice"), key("proxy").public_key(), subject=subject)
    with pytest.raises(InvalidProxy, match=r"plus one CN"):
        validate_chain([forged, pki.alice.cert], ca_dir=pki.ca_dir)


def test_independent_proxy(pki: TestPKI) -> None:
    forged = forge_proxy(
        pki.alice.cert,
        key("alice"),
        key("proxy").public_key(),
        pci=pci_value(language=LANG_INDEPENDENT),
    )
    with pytest.raises(InvalidProxy, match=r"independent proxy"):
        validate_chain([forged, pki.alice.cert], ca_dir=pki.ca_dir)


def test_unknown_policy_language(pki: TestPKI) -> None:
    forged = forge_proxy(
        pki.alice.cert, key("alice"), key("proxy").public_key(), pci=pci_value(language="1.2.3.4")
    )
    with pytest.raises(InvalidProxy, match=r"unknown policy language 1.2.3.4"):
        validate_chain([forged, pki.alice.cert], ca_dir=pki.ca_dir)


def test_path_length_exceeded(pki: TestPKI) -> None:
    parent = load_proxy(pki.proxy("alice", path_length=0))
    assert parent.key is not None
    child = forge_proxy(parent.chain[0], parent.key, key("proxy2").public_key())  # type: ignore[arg-type]
    with pytest.raises(InvalidProxy, match=r"path length"):
        validate_chain([child, *parent.chain], ca_dir=pki.ca_dir)


def test_path_length_exceeded_two_levels_down(pki: TestPKI) -> None:
    pem = delegate(delegate(pki.proxy("alice", path_length=1)))
    with pytest.raises(InvalidProxy, match=r"path length"):
        validate_chain(chain_of(pem), ca_dir=pki.ca_dir)


def test_make_proxy_refuses_to_exceed_path_length(pki: TestPKI) -> None:
    with pytest.raises(InvalidProxy, match=r"may not sign"):
        delegate(pki.proxy("alice", path_length=0))


def test_revoked_user(pki: TestPKI) -> None:
    with pytest.raises(CertificateRevoked, match=r"Carol Revoked.*revoked"):
        validate_chain(chain_of(pki.proxy("carol")), ca_dir=pki.ca_dir)


def test_non_critical_proxy_cert_info(pki: TestPKI) -> None:
    forged = forge_proxy(
        pki.alice.cert, key("alice"), key("proxy").public_key(), pci_critical=False
    )
    with pytest.raises(InvalidProxy, match=r"ProxyCertInfo .* not critical"):
        validate_chain([forged, pki.alice.cert], ca_dir=pki.ca_dir)


def test_legacy_globus_proxy(pki: TestPKI) -> None:
    subject = grid_name("Alice Tester", "proxy")
    legacy = forge_proxy(
        pki.alice.cert, key("alice"), key("proxy").public_key(), subject=subject, pci=b""
    )
    with pytest.raises(InvalidProxy, match=r"legacy .*GT2"):
        validate_chain([legacy, pki.alice.cert], ca_dir=pki.ca_dir)


def test_legacy_limited_globus_proxy(pki: TestPKI) -> None:
    subject = grid_name("Alice Tester", "limited proxy")
    legacy = forge_proxy(
        pki.alice.cert, key("alice"), key("proxy").public_key(), subject=subject, pci=b""
    )
    with pytest.raises(InvalidProxy, match=r"legacy"):
        validate_chain([legacy, pki.alice.cert], ca_dir=pki.ca_dir)


def test_draft_gt3_proxy(pki: TestPKI) -> None:
    draft = forge_proxy(
        pki.alice.cert, key("alice"), key("proxy").public_key(), pci_oid=OID_DRAFT_PCI
    )
    with pytest.raises(InvalidProxy, match=r"draft"):
        validate_chain([draft, pki.alice.cert], ca_dir=pki.ca_dir)


def test_proxy_claiming_to_be_a_ca(pki: TestPKI) -> None:
    forged = forge_proxy(
        pki.alice.cert,
        key("alice"),
        key("proxy").public_key(),
        extensions=[(x509.BasicConstraints(ca=True, path_length=None), True)],
    )
    with pytest.raises(InvalidProxy, match=r"claims to be a CA"):
        validate_chain([forged, pki.alice.cert], ca_dir=pki.ca_dir)


def test_proxy_with_subject_alt_name(pki: TestPKI) -> None:
    forged = forge_proxy(
        pki.alice.cert,
        key("alice"),
        key("proxy").public_key(),
        extensions=[(x509.SubjectAlternativeName([x509.DNSName("evil")]), False)],
    )
    with pytest.raises(InvalidProxy, match=r"alternative name"):
        validate_chain([forged, pki.alice.cert], ca_dir=pki.ca_dir)


def test_proxy_with_unknown_critical_extension(pki: TestPKI) -> None:
    ext = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.5"), b"\x05\x00")
    forged = forge_proxy(
        pki.alice.cert, key("alice"), key("proxy").public_key(), extensions=[(ext, True)]
    )
    with pytest.raises(InvalidProxy, match=r"unknown critical extension 1.2.3.4.5"):
        validate_chain([forged, pki.alice.cert], ca_dir=pki.ca_dir)


def test_malformed_proxy_cert_info(pki: TestPKI) -> None:
    forged = forge_proxy(
        pki.alice.cert, key("alice"), key("proxy").public_key(), pci=b"\x30\x03\x02\x01"
    )
    with pytest.raises(InvalidProxy, match=r"malformed ProxyCertInfo"):
        validate_chain([forged, pki.alice.cert], ca_dir=pki.ca_dir)


def test_user_from_untrusted_ca(pki: TestPKI) -> None:
    with pytest.raises(UntrustedCertificate, match=r"not in the trusted CA directory"):
        validate_chain([*chain_of(pki.proxy("mallory")), pki.ca2.cert], ca_dir=pki.ca_dir)
    with pytest.raises(UntrustedCertificate, match=r"Evil CA, which is not a trusted CA"):
        validate_chain(chain_of(pki.proxy("mallory")), ca_dir=pki.ca_dir)


def test_impostor_ca_with_the_trusted_name(pki: TestPKI) -> None:
    impostor = make_ca(pki.ca.cert.subject, key("ca2"))
    from tests.auth.pki import issue_cert

    fake_alice = issue_cert(pki.alice.cert.subject, key("alice").public_key(), impostor, key("ca2"))
    with pytest.raises(UntrustedCertificate, match=r"self-signed CA that is not in the trusted"):
        validate_chain([fake_alice, impostor], ca_dir=pki.ca_dir)
    with pytest.raises(UntrustedCertificate, match=r"does not verify with the key of CA"):
        validate_chain([fake_alice], ca_dir=pki.ca_dir)


def test_expired_user_certificate(pki: TestPKI) -> None:
    with pytest.raises(CertificateExpired, match=r"Alice Tester expired"):
        validate_chain([pki.alice.cert], ca_dir=pki.ca_dir, now=now() + dt.timedelta(days=400))


def test_proxy_outliving_its_user_is_capped(pki: TestPKI) -> None:
    chain = chain_of(pki.proxy("alice", hours=24 * 500))
    assert chain[0].not_valid_after_utc == pki.alice.cert.not_valid_after_utc


def test_chain_of_proxies_only(pki: TestPKI) -> None:
    with pytest.raises(AuthenticationFailed, match=r"only proxies"):
        validate_chain(chain_of(pki.proxy("alice"))[:1], ca_dir=pki.ca_dir)


def test_empty_chain(pki: TestPKI) -> None:
    with pytest.raises(AuthenticationFailed, match=r"no certificate"):
        validate_chain([], ca_dir=pki.ca_dir)


def test_ca_certificate_as_identity(pki: TestPKI) -> None:
    with pytest.raises(UntrustedCertificate, match=r"CA certificate"):
        validate_chain([pki.ca.cert], ca_dir=pki.ca_dir)


def test_all_errors_are_permission_denied(pki: TestPKI) -> None:
    with pytest.raises(PermissionDenied):
        validate_chain(chain_of(pki.proxy("carol")), ca_dir=pki.ca_dir)


# ----------------------------------------------------------------------------- CRLs


def test_missing_crl_passes_unless_required(pki: TestPKI, tmp_path: object) -> None:
    from pathlib import Path

    from dfc.auth.ca import add_to_ca_dir

    ca_dir = Path(str(tmp_path)) / "certs"
    add_to_ca_dir(ca_dir, pki.ca.cert)
    chain = chain_of(pki.proxy("carol"))
    assert validate_chain(chain, ca_dir=ca_dir).dn.endswith("Carol Revoked")
    with pytest.raises(UntrustedCertificate, match=r"no CRL for CA"):
        validate_chain(chain, ca_dir=ca_dir, require_crls=True)


def test_expired_crl_refused_when_required(pki: TestPKI, tmp_path: object) -> None:
    from pathlib import Path

    from dfc.auth.ca import add_to_ca_dir

    ca_dir = Path(str(tmp_path)) / "certs"
    add_to_ca_dir(ca_dir, pki.ca.cert)
    old = now() - dt.timedelta(days=30)
    add_to_ca_dir(
        ca_dir,
        make_crl(
            pki.ca.cert, pki.ca.key, [], last_update=old, next_update=old + dt.timedelta(days=1)
        ),
    )
    chain = chain_of(pki.proxy("alice"))
    assert validate_chain(chain, ca_dir=ca_dir).dn == ALICE
    with pytest.raises(UntrustedCertificate, match=r"CRL .* has expired"):
        validate_chain(chain, ca_dir=ca_dir, require_crls=True)


def test_crl_signed_by_another_key_is_ignored(pki: TestPKI, tmp_path: object) -> None:
    from pathlib import Path

    from dfc.auth.ca import add_to_ca_dir

    ca_dir = Path(str(tmp_path)) / "certs"
    add_to_ca_dir(ca_dir, pki.ca.cert)
    # a forged CRL "revoking" alice, signed with a key that is not the CA's
    add_to_ca_dir(ca_dir, make_crl(pki.ca.cert, key("ca2"), [pki.alice.cert.serial_number]))
    assert validate_chain(chain_of(pki.proxy("alice")), ca_dir=ca_dir).dn == ALICE


def test_current_crl_passes_when_required(pki: TestPKI) -> None:
    identity = validate_chain(chain_of(pki.proxy("alice")), ca_dir=pki.ca_dir, require_crls=True)
    assert identity.dn == ALICE


def test_limited_language_oid_value() -> None:
    # the Globus limited proxy policy language, as grid-proxy-init -limited writes it
    assert LANG_LIMITED == "1.3.6.1.4.1.3536.1.1.1.9"
