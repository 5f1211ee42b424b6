"""The Authenticator: credential -> identity, its cache, and CA directory reloads."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from typing import TYPE_CHECKING

import jwt
import pytest
from jwt.algorithms import RSAAlgorithm

from dfc.auth.authenticator import Authenticator
from dfc.auth.ca import add_to_ca_dir
from dfc.auth.errors import AuthenticationFailed, CertificateRevoked, InvalidToken, VOMSError
from dfc.auth.proxy import load_proxy
from dfc.auth.tokens import TokenIssuer, TokenVerifier
from tests.auth.pki import ROGUE_HOST, TestPKI, key, make_crl, now

if TYPE_CHECKING:
    from pathlib import Path


def chain(data: bytes) -> list:  # type: ignore[type-arg]
    return list(load_proxy(data).chain)


def test_identity_from_chain_is_cached(pki: TestPKI) -> None:
    auth = Authenticator(ca_dir=pki.ca_dir, vomsdir=pki.vomsdir)
    certs = chain(pki.proxy("alice", fqans=["/juno"]))
    first = auth.from_chain(certs)
    assert first.fqans == ("/juno",)
    assert auth.from_chain(certs) is first
    assert auth.from_chain(certs, now=now()) is not first  # an explicit time bypasses the cache


def test_vos_filter_and_no_vomsdir(pki: TestPKI) -> None:
    certs = chain(pki.proxy("alice", fqans=["/juno"]))
    assert Authenticator(ca_dir=pki.ca_dir).from_chain(certs).fqans == ()
    assert (
        Authenticator(ca_dir=pki.ca_dir, vomsdir=pki.vomsdir, vos=["dyb"]).from_chain(certs).fqans
        == ()
    )


def test_failures_are_not_cached(pki: TestPKI) -> None:
    auth = Authenticator(ca_dir=pki.ca_dir, vomsdir=pki.vomsdir)
    rogue = chain(pki.proxy("alice", ac=pki.ac("alice", signer=pki.rogue, host=ROGUE_HOST)))
    for _ in range(2):
        with pytest.raises(VOMSError):
            auth.from_chain(rogue)
    with pytest.raises(AuthenticationFailed, match=r"no client certificate"):
        auth.from_chain([])


def test_cached_identity_expires_with_the_proxy(pki: TestPKI) -> None:
    clock = [now()]
    auth = Authenticator(ca_dir=pki.ca_dir, clock=lambda: clock[0])
    certs = chain(pki.proxy("alice", hours=1, when=clock[0]))
    first = auth.from_chain(certs)
    clock[0] += dt.timedelta(minutes=59)
    assert auth.from_chain(certs) is first
    clock[0] += dt.timedelta(minutes=2)
    with pytest.raises(AuthenticationFailed, match=r"expired"):
        auth.from_chain(certs)


def test_new_crl_revokes_a_cached_identity(pki: TestPKI, tmp_path: Path) -> None:
    ca_dir = tmp_path / "certs"
    shutil.copytree(pki.ca_dir, ca_dir)
    auth = Authenticator(ca_dir=ca_dir, reload_interval=0)
    certs = chain(pki.proxy("bob"))
    assert auth.from_chain(certs).dn.endswith("Bob Other")
    later = now() + dt.timedelta(seconds=1)
    crl = make_crl(
        pki.ca.cert,
        pki.ca.key,
        [pki.carol.cert.serial_number, pki.bob.cert.serial_number],
        last_update=later,
    )
    add_to_ca_dir(ca_dir, crl)
    with pytest.raises(CertificateRevoked, match=r"Bob Other"):
        auth.from_chain(certs)


def test_tokens(pki: TestPKI) -> None:
    jwk = {**json.loads(RSAAlgorithm.to_jwk(key("iam").public_key())), "kid": "k"}
    issuer = TokenIssuer.from_jwks("https://iam/", {"keys": [jwk]}, vo="juno", base_path="/juno")
    auth = Authenticator(ca_dir=pki.ca_dir, tokens=TokenVerifier([issuer], audiences=["dfc"]))
    t = int(time.time())
    claims = {
        "iss": "https://iam/",
        "sub": "s",
        "aud": "dfc",
        "iat": t,
        "exp": t + 60,
        "wlcg.ver": "1.0",
        "scope": "storage.read:/",
    }
    token = jwt.encode(claims, key("iam"), algorithm="RS256", headers={"kid": "k"})
    who = auth.from_authorization(f"Bearer {token}")
    assert (who.via, who.dn, who.vo) == ("token", "https://iam/#s", "juno")
    assert auth.from_token(token) is who
    assert who.scopes is not None and who.scopes.allows("read", "/juno/x")
    for header in ["Basic abc", "Bearer", "", token]:
        with pytest.raises(InvalidToken):
            auth.from_authorization(header)
    with pytest.raises(InvalidToken, match=r"not accepted"):
        Authenticator(ca_dir=pki.ca_dir).from_token(token)
