"""Mutual TLS with proxies against a real aiohttp server on 127.0.0.1.

The test-only app echoes the identity: OpenSSL accepts the proxy chain in the handshake
(``VERIFY_ALLOW_PROXY_CERTS``, CRLs for the whole chain), then the handler takes the
peer's verified chain with ``peer_chain`` and re-validates it with the Authenticator.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web

from dfc.auth.authenticator import Authenticator
from dfc.auth.errors import AuthenticationFailed
from dfc.auth.proxy import load_proxy, make_proxy
from dfc.auth.tls import client_context, peer_chain, server_context
from tests.auth.pki import LANG_INDEPENDENT, TestPKI, forge_proxy, key, pci_value, pem

if TYPE_CHECKING:
    from pathlib import Path

ALICE = "/DC=org/DC=junotest/O=JUNO/CN=Alice Tester"
AUTH_KEY = web.AppKey("auth", Authenticator)


async def whoami(request: web.Request) -> web.Response:
    chain = peer_chain(request.transport)  # type: ignore[arg-type]
    try:
        who = request.app[AUTH_KEY].from_chain(chain)
    except AuthenticationFailed as exc:
        return web.json_response({"error": str(exc), "kind": exc.kind}, status=401)
    body = {"dn": who.dn, "fqans": list(who.fqans), "limited": who.limited, "chain": len(chain)}
    return web.json_response(body)


@asynccontextmanager
async def serve(ctx: ssl.SSLContext, auth: Authenticator) -> AsyncIterator[str]:
    app = web.Application()
    app[AUTH_KEY] = auth
    app.router.add_get("/whoami", whoami)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    site = web.SockSite(runner, sock, ssl_context=ctx)
    await site.start()
    try:
        yield f"https://localhost:{port}/whoami"
    finally:
        await runner.cleanup()


async def get(url: str, ctx: ssl.SSLContext) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(url, ssl=ctx) as resp:
        return resp.status, await resp.json()


@pytest.fixture
def auth(pki: TestPKI) -> Authenticator:
    return Authenticator(ca_dir=pki.ca_dir, vomsdir=pki.vomsdir, require_crls=True)


@pytest.fixture
def sctx(pki: TestPKI) -> ssl.SSLContext:
    return server_context(certfile=pki.host.cert_path, keyfile=pki.host.key_path, ca_dir=pki.ca_dir)


def cctx(pki: TestPKI, proxy: bytes, name: str) -> ssl.SSLContext:
    return client_context(ca_dir=pki.ca_dir, proxy=pki.write(name, proxy))


async def test_proxies_over_mutual_tls(
    pki: TestPKI, auth: Authenticator, sctx: ssl.SSLContext
) -> None:
    voms = pki.proxy("alice", fqans=["/juno", "/juno/production/Role=production"])
    parent = load_proxy(voms)
    assert parent.key is not None
    delegated = make_proxy(
        parent.chain[0], parent.key, chain=parent.chain[1:], proxy_key=key("proxy2")
    )  # type: ignore[arg-type]
    async with serve(sctx, auth) as url:
        status, body = await get(
            url,
            client_context(
                ca_dir=pki.ca_dir, certfile=pki.alice.cert_path, keyfile=pki.alice.key_path
            ),
        )
        assert (status, body["dn"], body["chain"]) == (200, ALICE, 2)

        status, body = await get(url, cctx(pki, pki.proxy("alice"), "plain"))
        assert (status, body["dn"], body["fqans"], body["chain"]) == (200, ALICE, [], 3)

        status, body = await get(url, cctx(pki, voms, "voms"))
        assert (status, body["fqans"]) == (200, ["/juno", "/juno/production/Role=production"])

        status, body = await get(url, cctx(pki, delegated, "delegated"))
        assert (status, body["fqans"], body["chain"]) == (
            200,
            ["/juno", "/juno/production/Role=production"],
            4,
        )

        status, body = await get(url, cctx(pki, pki.proxy("alice", limited=True), "limited"))
        assert (status, body["limited"]) == (200, True)


async def test_attacks_the_tls_layer_lets_through_are_refused_by_the_app(
    pki: TestPKI, auth: Authenticator, sctx: ssl.SSLContext
) -> None:
    pub = pki.proxy_key.public_key()
    noncritical = forge_proxy(pki.alice.cert, pki.alice.key, pub, pci_critical=False)
    independent = forge_proxy(
        pki.alice.cert, pki.alice.key, pub, pci=pci_value(language=LANG_INDEPENDENT)
    )
    rogue_ac = pki.ac("alice", signer=pki.rogue, fqans=["/juno/admin/Role=VO-Admin"])
    async with serve(sctx, auth) as url:
        for name, data, kind in [
            ("noncritical", pem(noncritical, pki.proxy_key, pki.alice.cert), "InvalidProxy"),
            ("independent", pem(independent, pki.proxy_key, pki.alice.cert), "InvalidProxy"),
            ("rogue", pki.proxy("alice", ac=rogue_ac), "VOMSError"),
        ]:
            status, body = await get(url, cctx(pki, data, name))
            assert (status, body["kind"]) == (401, kind), body


@pytest.mark.parametrize("who", ["carol", "mallory"])
async def test_revoked_and_untrusted_users_fail_the_handshake(
    pki: TestPKI, auth: Authenticator, sctx: ssl.SSLContext, who: str
) -> None:
    async with serve(sctx, auth) as url:
        with pytest.raises(aiohttp.ClientError):
            await get(url, cctx(pki, pki.proxy(who), who))


async def test_without_the_proxy_flag_proxies_fail(pki: TestPKI, auth: Authenticator) -> None:
    ctx = server_context(certfile=pki.host.cert_path, keyfile=pki.host.key_path, ca_dir=pki.ca_dir)
    ctx.verify_flags &= ~ssl.VERIFY_ALLOW_PROXY_CERTS
    async with serve(ctx, auth) as url:
        with pytest.raises(aiohttp.ClientError):
            await get(url, cctx(pki, pki.proxy("alice"), "noflag"))


async def test_no_client_certificate(pki: TestPKI, auth: Authenticator) -> None:
    ctx = server_context(
        certfile=pki.host.cert_path,
        keyfile=pki.host.key_path,
        ca_dir=pki.ca_dir,
        require_client_cert=False,
    )
    async with serve(ctx, auth) as url:
        status, body = await get(url, client_context(ca_dir=pki.ca_dir))
        assert (status, body["error"]) == (401, "no client certificate presented")


def test_peer_chain_of_a_plain_connection() -> None:
    class Transport:
        def get_extra_info(self, name: str, default: object = None) -> object:
            return default

    assert peer_chain(Transport()) == []


def test_context_errors(pki: TestPKI, tmp_path: Path) -> None:
    from dfc.errors import ConfigError

    with pytest.raises(ConfigError, match=r"CA directory"):
        client_context(ca_dir=tmp_path / "missing")
    with pytest.raises(ConfigError, match=r"TLS server"):
        server_context(
            certfile=tmp_path / "none.pem", keyfile=tmp_path / "none.key", ca_dir=pki.ca_dir
        )


async def test_revoked_user_refused_by_the_app_without_tls_crl_check(
    pki: TestPKI, auth: Authenticator
) -> None:
    ctx = server_context(
        certfile=pki.host.cert_path, keyfile=pki.host.key_path, ca_dir=pki.ca_dir, crl_check=False
    )
    async with serve(ctx, auth) as url:
        status, body = await get(url, cctx(pki, pki.proxy("carol"), "carol_app"))
        assert (status, body["kind"]) == (401, "CertificateRevoked")
