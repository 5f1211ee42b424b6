"""Making, storing, loading and describing proxies."""

from __future__ import annotations

import datetime as dt
import stat
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from dfc.auth.chain import proxy_policy
from dfc.auth.errors import AuthenticationFailed, CertificateRevoked, VOMSError
from dfc.auth.proxy import (
    ProxyType,
    load_proxy,
    load_user_credential,
    make_proxy,
    proxy_info,
    write_proxy,
)
from dfc.errors import ConfigError, InvalidArgument
from tests.auth.pki import OID_DRAFT_PCI, ROGUE_HOST, TestPKI, forge_proxy, grid_name, key, now, pem

if TYPE_CHECKING:
    from pathlib import Path

ALICE = "/DC=org/DC=junotest/O=JUNO/CN=Alice Tester"


def test_proxy_file_layout(pki: TestPKI) -> None:
    data = pki.proxy("alice")
    assert data.count(b"-----BEGIN CERTIFICATE-----") == 2
    assert data.index(b"BEGIN RSA PRIVATE KEY") > data.index(b"END CERTIFICATE")
    cred = load_proxy(data)
    proxy, user = cred.chain
    assert user == pki.alice.cert
    assert proxy.issuer == user.subject
    assert proxy.subject.rdns[:-1] == user.subject.rdns
    assert proxy.subject.rdns[-1].rfc4514_string() == f"CN={proxy.serial_number}"
    assert cred.key is not None
    assert cred.key.public_key().public_numbers() == proxy.public_key().public_numbers()  # type: ignore[union-attr]
    ext = proxy.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.5.5.7.1.14"))
    assert ext.critical


def test_proxy_policy_and_lifetime(pki: TestPKI) -> None:
    start = now()
    proxy = load_proxy(pki.proxy("alice", hours=2, limited=True, path_length=3, when=start)).chain[
        0
    ]
    policy = proxy_policy(proxy)
    assert policy is not None
    assert (policy.kind, policy.path_length, policy.critical) == ("limited", 3, True)
    assert proxy.not_valid_after_utc - start == dt.timedelta(hours=2)
    assert start - proxy.not_valid_before_utc == dt.timedelta(minutes=5)


def test_make_proxy_generates_its_key(pki: TestPKI) -> None:
    cred = load_proxy(make_proxy(pki.alice.cert, pki.alice.key, hours=1))
    assert cred.key is not None
    assert cred.key.public_key().public_numbers() != key("proxy").public_key().public_numbers()  # type: ignore[union-attr]
    assert cred.chain[0].public_key().key_size == 2048  # type: ignore[union-attr]


@pytest.mark.parametrize("kwargs", [{"hours": 0}, {"bits": 1024}, {"path_length": -1}])
def test_make_proxy_bad_arguments(pki: TestPKI, kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidArgument):
        make_proxy(pki.alice.cert, pki.alice.key, **kwargs)  # type: ignore[arg-type]


def test_make_proxy_from_expired_certificate(pki: TestPKI) -> None:
    with pytest.raises(AuthenticationFailed, match=r"expired"):
        make_proxy(
            pki.alice.cert,
            pki.alice.key,
            proxy_key=pki.proxy_key,
            now=now() + dt.timedelta(days=800),
        )


def test_write_proxy_mode_600(pki: TestPKI, tmp_path: Path) -> None:
    path = tmp_path / "x509up_u1000"
    path.write_bytes(b"old")
    path.chmod(0o644)
    write_proxy(path, pki.proxy("alice"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_proxy(path).chain[1] == pki.alice.cert
    assert [p.name for p in tmp_path.iterdir()] == ["x509up_u1000"]


def test_write_proxy_unwritable(pki: TestPKI, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot write proxy"):
        write_proxy(tmp_path / "missing" / "x509up", b"x")


def test_load_proxy_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read proxy"):
        load_proxy(tmp_path / "nope")
    with pytest.raises(ConfigError, match=r"no certificate"):
        load_proxy(b"garbage")


def test_user_credential_with_passphrase(pki: TestPKI, tmp_path: Path) -> None:
    key_path = tmp_path / "userkey.pem"
    key_path.write_bytes(
        pki.alice.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    asked: list[int] = []

    def prompt() -> bytes:
        asked.append(1)
        return b"s3cret"

    cert, private = load_user_credential(pki.alice.cert_path, key_path, prompt)
    assert cert == pki.alice.cert
    assert asked == [1]
    assert private.public_key().public_numbers() == pki.alice.key.public_key().public_numbers()  # type: ignore[union-attr]
    with pytest.raises(AuthenticationFailed, match=r"wrong passphrase"):
        load_user_credential(pki.alice.cert_path, key_path, b"wrong")
    with pytest.raises(AuthenticationFailed, match=r"passphrase is needed"):
        load_user_credential(pki.alice.cert_path, key_path)


def test_user_credential_unencrypted_asks_nothing(pki: TestPKI) -> None:
    def prompt() -> bytes:
        raise AssertionError("asked for a passphrase")

    cert, _ = load_user_credential(pki.alice.cert_path, pki.alice.key_path, prompt)
    assert cert == pki.alice.cert


def test_user_credential_mismatch(pki: TestPKI, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not belong"):
        load_user_credential(pki.alice.cert_path, pki.bob.key_path)
    with pytest.raises(ConfigError, match=r"cannot read"):
        load_user_credential(tmp_path / "none.pem", pki.bob.key_path)


# ----------------------------------------------------------------------------- proxy_info


def test_info_unverified(pki: TestPKI) -> None:
    info = proxy_info(pki.proxy("alice", fqans=["/juno", "/juno/production/Role=production"]))
    assert info.identity == ALICE
    assert info.issuer == ALICE
    assert info.type is ProxyType.IMPERSONATION
    assert info.bits == 2048
    assert not info.chain_verified
    assert info.fqans == ("/juno", "/juno/production/Role=production")
    assert not info.voms[0].verified
    assert dt.timedelta(hours=11) < info.time_left <= dt.timedelta(hours=12)


def test_info_verified(pki: TestPKI, tmp_path: Path) -> None:
    path = pki.write("info_alice", pki.proxy("alice", fqans=["/juno"], limited=True))
    info = proxy_info(path, ca_dir=pki.ca_dir, vomsdir=pki.vomsdir)
    assert info.chain_verified
    assert info.limited
    assert info.type is ProxyType.LIMITED
    assert info.voms[0].verified
    assert info.fqans == ("/juno",)


def test_info_verified_refuses_rogue_ac(pki: TestPKI) -> None:
    ac = pki.ac("alice", signer=pki.rogue, host=ROGUE_HOST, fqans=["/juno/admin"])
    data = pki.proxy("alice", ac=ac)
    assert proxy_info(data).fqans == ("/juno/admin",)  # shown, unverified
    with pytest.raises(VOMSError):
        proxy_info(data, ca_dir=pki.ca_dir, vomsdir=pki.vomsdir)


def test_info_verified_refuses_revoked(pki: TestPKI) -> None:
    with pytest.raises(CertificateRevoked):
        proxy_info(pki.proxy("carol"), ca_dir=pki.ca_dir)


def test_info_expired_has_no_time_left(pki: TestPKI) -> None:
    data = pki.proxy("alice", hours=1, when=now() - dt.timedelta(hours=3))
    assert proxy_info(data).time_left == dt.timedelta(0)


def test_info_path_length(pki: TestPKI) -> None:
    assert proxy_info(pki.proxy("alice", path_length=2)).path_length == 2


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("legacy", ProxyType.LEGACY),
        ("legacy-limited", ProxyType.LEGACY_LIMITED),
        ("draft", ProxyType.DRAFT),
        ("independent", ProxyType.INDEPENDENT),
        ("user", ProxyType.END_ENTITY),
    ],
)
def test_info_types(pki: TestPKI, kind: str, expected: ProxyType) -> None:
    pub = key("proxy").public_key()
    if kind == "legacy":
        leaf = forge_proxy(
            pki.alice.cert, pki.alice.key, pub, subject=grid_name("Alice Tester", "proxy"), pci=b""
        )
    elif kind == "legacy-limited":
        leaf = forge_proxy(
            pki.alice.cert,
            pki.alice.key,
            pub,
            subject=grid_name("Alice Tester", "limited proxy"),
            pci=b"",
        )
    elif kind == "draft":
        leaf = forge_proxy(pki.alice.cert, pki.alice.key, pub, pci_oid=OID_DRAFT_PCI)
    elif kind == "independent":
        from tests.auth.pki import LANG_INDEPENDENT, pci_value

        leaf = forge_proxy(
            pki.alice.cert, pki.alice.key, pub, pci=pci_value(language=LANG_INDEPENDENT)
        )
    else:
        leaf = pki.alice.cert
    chain = [leaf] if leaf is pki.alice.cert else [leaf, pki.alice.cert]
    info = proxy_info(pem(*chain))
    assert info.type is expected
    assert info.identity == ALICE
