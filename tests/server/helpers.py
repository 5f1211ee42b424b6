"""Helpers of the server tests: seeding a catalogue, running ``dfc server``, raw requests.

The server runs as a real subprocess (``python -m dfc server --config ...``) with real
mutual TLS on 127.0.0.1, against a catalogue seeded here: groups ``juno`` (``/juno``),
``juno_prod`` (``/juno/production/Role=production``, property ``production``) and
``juno_admin`` (``/juno/admin/Role=VO-Admin``, property ``admin``); users ``alice`` and
``bob`` (group ``juno``) with their DNs, alice also as a token subject; the directories
``/juno/user`` and ``/juno/production``; a local SE ``DISK``.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from jwt.algorithms import RSAAlgorithm

from dfc.api import _wire
from dfc.auth.tls import client_context
from dfc.catalog import AccessControl, Catalog
from dfc.models import SEInfo
from tests.auth.pki import TestPKI, key
from tests.servers._proc import ManagedProcess, free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[2]
ISSUER = "https://iam.junotest.org/"
ALICE_SUB = "alice-sub"
ALICE = "/DC=org/DC=junotest/O=JUNO/CN=Alice Tester"
BOB = "/DC=org/DC=junotest/O=JUNO/CN=Bob Other"
PROD = "/juno/production/Role=production"
VO_ADMIN = "/juno/admin/Role=VO-Admin"


def seed(url: str, pki: TestPKI, se_root: Path) -> None:
    """Create the catalogue at ``url`` and fill the registry (see the module docstring)."""
    cat = Catalog(url)
    try:
        cat.upgrade()
        with cat.transaction() as tx:
            acl = AccessControl(tx)
            acl.add_group("juno")
            acl.add_group("juno_prod", properties=["production"])
            acl.add_group("juno_admin", properties=["admin"])
            acl.map_fqan("/juno", "juno")
            acl.map_fqan(PROD, "juno_prod", account="junoprd")
            acl.map_fqan(VO_ADMIN, "juno_admin")
            acl.add_user("alice", dns=[ALICE, f"{ISSUER}#{ALICE_SUB}"], group="juno")
            acl.add_user("bob", dns=[BOB], group="juno", account="bob01")
            acl.add_user("carol", dns=[pki.carol.dn], group="juno")
            tx.add_se(SEInfo("DISK", f"file://{se_root}", site="IHEP"))
            tx.mkdir(
                ["/juno/user", "/juno/production"],
                parents=True,
                owner="root",
                group="root",
                mode=0o755,
            )
    finally:
        cat.close()
    se_root.mkdir(parents=True, exist_ok=True)


def jwks_file(path: Path) -> Path:
    """Write the test token issuer's public keys (JWKS) to ``path``."""
    jwk = json.loads(RSAAlgorithm.to_jwk(key("iam").public_key()))
    path.write_text(json.dumps({"keys": [{**jwk, "kid": "k1"}]}))
    return path


def token(audience: str, **overrides: Any) -> str:
    """A WLCG token from the test issuer (claims overridable; None drops a claim)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "wlcg.ver": "1.0",
        "iss": ISSUER,
        "sub": ALICE_SUB,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": "t1",
        "scope": "storage.read:/ storage.create:/user/a/alice storage.modify:/user/a/alice/mod",
        "wlcg.groups": ["/juno"],
    }
    alg = overrides.pop("alg", "RS256")
    kid = overrides.pop("kid", "k1")
    signer = overrides.pop("signer", key("iam"))
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, signer, algorithm=alg, headers={"kid": kid} if kid else {})


def server_config(path: Path, pki: TestPKI, catalog: str, port: int, **extra: Any) -> Path:
    """Write a server configuration for the test PKI."""
    lines = [
        f'catalog = "{catalog}"',
        'host = "127.0.0.1"',
        f"port = {port}",
        f'url = "https://localhost:{port}"',
        f'hostcert = "{pki.host.cert_path}"',
        f'hostkey = "{pki.host.key_path}"',
        f'ca_dir = "{pki.ca_dir}"',
        f'vomsdir = "{pki.vomsdir}"',
        "threads = 4",
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    lines += [
        "[tokens]",
        f'audiences = ["https://localhost:{port}"]',
        "[[tokens.issuers]]",
        f'issuer = "{ISSUER}"',
        f'jwks = "{jwks_file(path.with_name("jwks.json"))}"',
        'vo = "juno"',
        'base_path = "/juno"',
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


class DfcServer:
    """A ``dfc server`` subprocess on a free port."""

    def __init__(self, config: Path, port: int, ca_dir: Path) -> None:
        self.port = port
        self.url = f"https://localhost:{port}"
        self.ca_dir = ca_dir
        self.log = config.with_suffix(".log")
        env = {"PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        self.process = ManagedProcess(
            f"dfc server on port {port}",
            [sys.executable, "-m", "dfc", "server", "--config", str(config)],
            log_path=self.log,
            ready=self._healthy,
            cwd=config.parent,
            env=env,
        )

    def _healthy(self) -> bool:
        try:
            return request(self, None, "GET", "/api/v1/health").status == 200
        except (OSError, http.client.HTTPException):
            return False

    def start(self) -> None:
        """Start and wait until healthy."""
        self.process.start()

    def stop(self) -> None:
        """Stop (SIGTERM, then SIGKILL)."""
        self.process.stop()

    def logs(self) -> str:
        """The whole server log."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def start_server(tmp: Path, pki: TestPKI, catalog: str, **extra: Any) -> Iterator[DfcServer]:
    """Run a server for the catalogue (a generator for fixtures: stops at the end)."""
    port = free_port()
    config = server_config(tmp / f"server-{port}.toml", pki, catalog, port, **extra)
    server = DfcServer(config, port, pki.ca_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Reply:
    """An HTTP answer."""

    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def context(server: DfcServer, proxy: Path | None = None) -> ssl.SSLContext:
    """A client TLS context trusting the test CA, presenting ``proxy`` if given."""
    return client_context(ca_dir=server.ca_dir, proxy=proxy)


def request(
    server: DfcServer,
    proxy: Path | None,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request on a fresh connection (TLS errors propagate as ``ssl.SSLError``)."""
    conn = http.client.HTTPSConnection(
        "localhost", server.port, context=context(server, proxy), timeout=30
    )
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Reply(resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()})
    finally:
        conn.close()


def op(
    server: DfcServer,
    proxy: Path | None,
    operation: str,
    /,
    headers: dict[str, str] | None = None,
    **args: Any,
) -> Reply:
    """Call a catalogue operation the way the remote client does."""
    body = _wire.dumps({"args": args})
    return request(server, proxy, "POST", f"/api/v1/catalog/{operation}", body, headers)


def refused(reply_or_error: Reply | BaseException) -> str:
    """How a request was refused: ``401``/``403``/..., or ``tls`` for a handshake refusal."""
    if isinstance(reply_or_error, Reply):
        return str(reply_or_error.status)
    return "tls"


def attempt(
    server: DfcServer, proxy: Path | None, operation: str, /, **kwargs: Any
) -> Reply | Exception:
    """Like :func:`op`, but a TLS refusal is returned instead of raised."""
    headers = kwargs.pop("headers", None)
    try:
        return op(server, proxy, operation, headers, **kwargs)
    except (ssl.SSLError, ConnectionResetError, http.client.RemoteDisconnected) as exc:
        return exc


def snapshot(url: str) -> tuple[object, ...]:
    """Everything in the catalogue: entries with replicas, SEs, the registry."""
    cat = Catalog(url)
    try:
        with cat.reader() as tx:
            entries = list(tx.walk("/"))
            files = [e.lfn for e in entries if not e.is_dir]
            full = tx.stat(files).succeeded if files else {}
            acl = AccessControl(tx)
            return (
                [(e.lfn, e.owner, e.group, e.mode) for e in entries],
                sorted((k, v.replicas, v.size) for k, v in full.items()),
                tx.list_ses(),
                acl.list_users(),
                acl.list_groups(),
                acl.list_fqan_rules(),
            )
    finally:
        cat.close()
