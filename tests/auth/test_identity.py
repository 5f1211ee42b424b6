"""The Identity value: construction from each credential kind and the checks it offers."""

from __future__ import annotations

import getpass

import pytest

from dfc.auth.chain import validate_chain
from dfc.auth.errors import ReadOnlyCredential, ScopeDenied
from dfc.auth.identity import Identity
from dfc.auth.proxy import load_proxy
from dfc.auth.tokens import TokenClaims, TokenScopes
from dfc.auth.voms import verify_voms
from tests.auth.pki import TestPKI, now


def x509_identity(pki: TestPKI, data: bytes) -> Identity:
    chain = validate_chain(load_proxy(data).chain, ca_dir=pki.ca_dir)
    voms = verify_voms(
        chain.certificates, holder=chain.end_entity, vomsdir=pki.vomsdir, ca_dir=pki.ca_dir
    )
    return Identity.from_x509(chain, voms)


def test_from_x509(pki: TestPKI) -> None:
    who = x509_identity(
        pki,
        pki.proxy(
            "alice",
            fqans=[
                "/juno/production/Role=production/Capability=NULL",
                "/juno/Role=NULL/Capability=NULL",
            ],
        ),
    )
    assert who.via == "x509"
    assert who.dn == "/DC=org/DC=junotest/O=JUNO/CN=Alice Tester"
    assert who.vo == "juno"
    assert who.fqans == ("/juno/production/Role=production", "/juno")
    assert who.primary_fqan == "/juno/production/Role=production"
    assert who.groups == ("/juno/production", "/juno")
    assert who.roles == ("production",)
    assert who.issuer == "/DC=org/DC=junotest/CN=JUNO Test CA"
    assert who.has_fqan("/juno/production/Role=production/Capability=NULL")
    assert not who.has_fqan("/juno/Role=production")
    assert not who.has_fqan("not an fqan")
    assert who.in_group("/juno/production")
    assert not who.in_group("/juno/prod")
    assert who.not_after is not None
    who.require_write()
    who.require_scope("modify", "/juno/anything")


def test_from_x509_without_voms(pki: TestPKI) -> None:
    who = x509_identity(pki, pki.proxy("bob"))
    assert (who.vo, who.fqans, who.groups, who.roles) == (None, (), (), ())


def test_limited_proxy_is_read_only(pki: TestPKI) -> None:
    who = x509_identity(pki, pki.proxy("alice", limited=True))
    assert who.limited
    with pytest.raises(ReadOnlyCredential, match=r"limited proxy"):
        who.require_write()


def test_local() -> None:
    who = Identity.local()
    assert who.via == "local"
    assert who.user == getpass.getuser()
    assert who.dn == f"local:{who.user}"
    granted = Identity.local("alice", fqans=["/juno/Role=NULL"])
    assert (granted.vo, granted.fqans, granted.groups) == ("juno", ("/juno",), ("/juno",))


def test_from_token() -> None:
    claims = TokenClaims(
        issuer="https://iam/",
        subject="abc",
        audience=("x",),
        expires=now(),
        issued_at=now(),
        groups=("/juno", "/juno/production"),
        scopes=TokenScopes.parse("storage.read:/ storage.create:/user/alice", base_path="/juno"),
        vo="juno",
        token_id=None,
    )
    who = Identity.from_token(claims)
    assert who.via == "token"
    assert who.dn == "https://iam/#abc"
    assert who.groups == ("/juno", "/juno/production")
    assert who.roles == ()
    who.require_scope("read", "/juno/data/f")
    who.require_scope("create", "/juno/user/alice/f")
    with pytest.raises(ScopeDenied, match=r"modify on /juno/user/alice/f"):
        who.require_scope("modify", "/juno/user/alice/f")
    with pytest.raises(ScopeDenied):
        who.require_scope("create", "/juno/user/alice2/f")
