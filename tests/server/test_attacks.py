"""Every attack of the issue, against the real server: refused, and nothing changed.

Forged, expired, revoked and over-delegated chains are refused by OpenSSL in the TLS
handshake (``tls``; the client reports an authentication failure), or by the
application's own re-validation with 401; credentials that authenticate but may not
do what they try get 403. Each attack tries a change that the genuine credential may
make (the positive controls show it), and the catalogue is compared before and after.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jwt
import pytest

from dfc.api import _wire
from dfc.auth.proxy import load_proxy
from dfc.models import FileRecord, Replica
from tests.auth.pki import LANG_INDEPENDENT, forge_proxy, key, now, pci_value, pem
from tests.server.helpers import (
    PROD,
    VO_ADMIN,
    DfcServer,
    attempt,
    op,
    refused,
    seed,
    snapshot,
    start_server,
    token,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.auth.pki import TestPKI

HOME = "/juno/user/a/alice"


@dataclass
class Env:
    server: DfcServer
    url: str
    pki: TestPKI


@pytest.fixture(scope="module")
def env(pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("attacks")
    url = f"sqlite:///{tmp / 'catalog.db'}"
    seed(url, pki, tmp / "se")
    for server in start_server(tmp, pki, url):
        yield Env(server, url, pki)


def write(pki: TestPKI, name: str, data: bytes) -> Path:
    return pki.write(f"attack_{name}", data)


def rec(lfn: str, size: int = 1) -> FileRecord:
    return FileRecord(lfn, size, "00000001", None, "", (Replica("DISK", ""),))


def test_genuine_credentials_may_do_what_the_attacks_try(env: Env) -> None:
    pki = env.pki
    good = write(pki, "good", pki.proxy("alice", fqans=["/juno", PROD]))
    for target in ("/juno/production/ok", f"{HOME}/ok"):
        reply = op(env.server, good, "mkdir", paths=[target], parents=True, owner="", group="")
        assert reply.status == 200 and _wire.loads(reply.body)["result"].ok
    admin = write(pki, "admin", pki.proxy("alice", fqans=["/juno", VO_ADMIN]))
    assert op(env.server, admin, "add_group", name="ok_group").status == 200
    bearer = {"Authorization": f"Bearer {token(env.server.url)}"}
    reply = op(env.server, None, "add_files", headers=bearer, records=[rec(f"{HOME}/tok")],
               owner="", group="")  # fmt: skip
    assert _wire.loads(reply.body)["result"].ok


def proxy_attacks(pki: TestPKI) -> dict[str, tuple[bytes, set[str]]]:
    """name -> (proxy file content, how it may be refused)."""
    pub = pki.proxy_key.public_key()
    past = now() - dt.timedelta(days=2)
    parent = load_proxy(pki.proxy("alice", path_length=0, fqans=["/juno", PROD]))
    assert parent.key is not None
    too_deep = forge_proxy(parent.chain[0], parent.key, key("proxy2").public_key())  # type: ignore[arg-type]
    ac_old = pki.ac("alice", fqans=["/juno", PROD], not_before=past,
                    not_after=past + dt.timedelta(hours=1))  # fmt: skip
    auth = {"401", "tls"}
    return {
        "expired proxy": (pki.proxy("alice", hours=1, when=past, fqans=[PROD]), auth),
        "expired AC": (pki.proxy("alice", ac=ac_old), auth),
        "proxy signed by another key": (
            pem(forge_proxy(pki.alice.cert, key("bob"), pub), pki.proxy_key, pki.alice.cert),
            auth,
        ),
        "wrong issuer name": (
            pem(
                forge_proxy(pki.alice.cert, key("alice"), pub, issuer_name=pki.bob.cert.subject),
                pki.proxy_key,
                pki.alice.cert,
            ),
            auth,
        ),
        "rogue VOMS server": (
            pki.proxy("alice", ac=pki.ac("alice", signer=pki.rogue, fqans=["/juno", VO_ADMIN])),
            auth,
        ),
        "AC of another user": (pki.proxy("alice", ac=pki.ac("bob", fqans=["/juno", PROD])), auth),
        "foreign-VO FQAN": (
            pki.proxy("alice", ac=pki.ac("alice", fqans=["/juno", "/atlas/Role=production"])),
            auth,
        ),
        # Ignored (not a VO this server serves): alice stays alice, without the role.
        "AC of another VO": (
            pki.proxy(
                "alice", ac=pki.ac("alice", vo="atlas", fqans=["/atlas/production/Role=production"])
            ),
            {"401", "403"},
        ),
        "limited proxy writing": (
            pki.proxy("alice", limited=True, fqans=["/juno", PROD]),
            {"403"},
        ),
        "independent proxy": (
            pem(
                forge_proxy(
                    pki.alice.cert, key("alice"), pub, pci=pci_value(language=LANG_INDEPENDENT)
                ),
                pki.proxy_key,
                pki.alice.cert,
            ),
            auth,
        ),
        "path length exceeded": (
            pem(too_deep, key("proxy2")) + b"".join(pem(c) for c in parent.chain),
            auth,
        ),
        "revoked user": (pki.proxy("carol", fqans=["/juno", PROD]), auth),
        "untrusted CA": (pki.proxy("mallory", fqans=["/juno", PROD]), auth),
        "non-critical ProxyCertInfo": (
            pem(
                forge_proxy(pki.alice.cert, key("alice"), pub, pci_critical=False),
                pki.proxy_key,
                pki.alice.cert,
            ),
            auth,
        ),
    }


def test_proxy_attacks_are_refused_and_change_nothing(env: Env) -> None:
    pki = env.pki
    before = snapshot(env.url)
    outcomes: dict[str, str] = {}
    for name, (data, allowed) in proxy_attacks(pki).items():
        path = write(pki, name.replace(" ", "_"), data)
        targets = ["/juno/production/evil"]
        if name != "AC of another VO":
            targets.append(f"{HOME}/evil")
        for target in targets:
            got = refused(attempt(env.server, path, "mkdir", paths=[target], parents=True,
                                  owner="", group=""))  # fmt: skip
            if got == "200":
                reply = attempt(env.server, path, "mkdir", paths=[target], parents=True,
                                owner="", group="")  # fmt: skip
                assert not isinstance(reply, Exception)
                result = _wire.loads(reply.body)["result"]
                got = "403" if result.failed and not result.succeeded else "200"
            outcomes[f"{name} -> {target}"] = got
            assert got in allowed, (name, target, got)
        got = refused(attempt(env.server, path, "add_user", name="eve"))
        assert got in allowed | {"403"}, (name, got)
    assert snapshot(env.url) == before, outcomes


def test_a_limited_proxy_still_reads(env: Env) -> None:
    path = write(env.pki, "limited_read", env.pki.proxy("alice", limited=True, fqans=["/juno"]))
    assert op(env.server, path, "stat", lfns=["/juno/user"]).status == 200


def tokens(audience: str) -> dict[str, tuple[str, str]]:
    """name -> (token, expected status)."""
    t = int(time.time())
    unsigned = jwt.encode(
        {"wlcg.ver": "1.0", "iss": "https://iam.junotest.org/", "sub": "alice-sub",
         "aud": audience, "iat": t, "exp": t + 600, "scope": "storage.modify:/"},
        None, algorithm="none", headers={"kid": "k1"},
    )  # fmt: skip
    return {
        "alg=none": (unsigned, "401"),
        "wrong audience": (token("https://elsewhere.example.org"), "401"),
        "expired": (token(audience, exp=t - 3600, iat=t - 7200, nbf=t - 7200), "401"),
        "unknown issuer": (token(audience, iss="https://evil.example.org/"), "401"),
        "forged signature": (token(audience, signer=key("bob")), "401"),
        "scope without path": (token(audience, scope="storage.read:/ storage.modify"), "401"),
        "no wlcg.ver": (token(audience, **{"wlcg.ver": None}), "401"),
    }


def test_token_attacks_are_refused_and_change_nothing(env: Env) -> None:
    before = snapshot(env.url)
    for name, (bearer, status) in tokens(env.server.url).items():
        reply = op(env.server, None, "mkdir", headers={"Authorization": f"Bearer {bearer}"},
                   paths=[f"{HOME}/tok-{name.replace(' ', '-')}"], parents=True, owner="",
                   group="")  # fmt: skip
        assert str(reply.status) == status, (name, reply.body)
        assert reply.json()["error"] == "InvalidToken"
    assert snapshot(env.url) == before


def test_storage_create_may_not_overwrite(env: Env) -> None:
    bearer = {"Authorization": f"Bearer {token(env.server.url)}"}
    first = op(env.server, None, "add_files", headers=bearer, records=[rec(f"{HOME}/once")],
               owner="", group="")  # fmt: skip
    assert _wire.loads(first.body)["result"].ok
    before = snapshot(env.url)
    again = op(env.server, None, "add_files", headers=bearer, records=[rec(f"{HOME}/once", 2)],
               owner="", group="", overwrite=True)  # fmt: skip
    failed = _wire.loads(again.body)["result"].failed
    assert failed[f"{HOME}/once"].kind == "ScopeDenied"
    gone = op(env.server, None, "remove_files", headers=bearer, lfns=[f"{HOME}/once"])
    assert _wire.loads(gone.body)["result"].failed[f"{HOME}/once"].kind == "ScopeDenied"
    outside = op(env.server, None, "mkdir", headers=bearer, paths=["/juno/user/a/alice2"],
                 parents=True, owner="", group="")  # fmt: skip
    assert _wire.loads(outside.body)["result"].failed["/juno/user/a/alice2"].kind == "ScopeDenied"
    assert snapshot(env.url) == before


@pytest.mark.parametrize(
    "lfn",
    [
        f"{HOME}/../../b/bob/evil",
        "/juno/user/a/alice/./evil",
        "/juno/user/a/alice//evil",
        "/juno/production/../user/b/bob/evil",
        "juno/user/a/alice/evil",
        "/juno/user/a/alice/evil\x00.root",
        "/juno/user/a/alice/evil/",
    ],
)
def test_lfn_path_traversal_is_refused(env: Env, lfn: str) -> None:
    good = write(env.pki, "traversal", env.pki.proxy("alice", fqans=["/juno", PROD]))
    before = snapshot(env.url)
    reply = op(env.server, good, "add_files", records=[rec(lfn)], owner="", group="")
    if reply.status == 200:
        result = _wire.loads(reply.body)["result"]
        assert not result.succeeded and result.failed[lfn].kind == "InvalidLFN"
    else:
        assert reply.status == 400 and reply.json()["error"] in ("InvalidLFN", "InvalidArgument")
    moved = op(env.server, good, "move", src=f"{HOME}/ok", dst=lfn)
    assert moved.status == 400
    assert snapshot(env.url) == before


def test_voms_proxy_fake_proxies_work_with_the_server(env: Env) -> None:
    from tests.auth.test_interop import fake

    fqans = ["-fqan", "/juno/Role=NULL/Capability=NULL", "-fqan", f"{PROD}/Capability=NULL"]
    real = fake(env.pki, "srv_vpf", *fqans)
    who = request_json(env, real, "whoami")
    assert (who.user, who.fqans, who.via) == ("alice", ("/juno", PROD), "x509")
    reply = op(env.server, real, "mkdir", paths=["/juno/production/vpf"], parents=True,
               owner="", group="")  # fmt: skip
    assert _wire.loads(reply.body)["result"].ok
    rogue = fake(env.pki, "srv_vpf_rogue", "-fqan", VO_ADMIN, signer="rogue")
    assert refused(attempt(env.server, rogue, "whoami")) in {"401", "tls"}


def request_json(env: Env, proxy: Path, name: str) -> object:
    reply = op(env.server, proxy, name)
    assert reply.status == 200, reply.body
    return _wire.loads(reply.body)["result"]
