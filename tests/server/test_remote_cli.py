"""The same ``dfc`` commands against a catalogue server: same output, same exit codes.

A flow of commands runs once on an embedded catalogue and once with
``--catalog https://localhost:PORT`` (mutual TLS with alice's VOMS proxy); outputs are
compared after normalising what legitimately differs (owner and group: the local user
in embedded mode, alice on the server; the SE directory; times and GUIDs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from tests.server.helpers import PROD, VO_ADMIN, DfcServer, seed, start_server

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.auth.pki import TestPKI
    from tests.conftest import CLI

HOME = "/juno/user/a/alice"


@dataclass
class Env:
    server: DfcServer
    alice: Path
    bob: Path
    se: Path


@pytest.fixture(scope="module")
def env(pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("remote_cli")
    url = f"sqlite:///{tmp / 'catalog.db'}"
    seed(url, pki, tmp / "se")
    alice = pki.write("cli_alice", pki.proxy("alice", fqans=["/juno", PROD]))
    bob = pki.write("cli_bob", pki.proxy("bob", fqans=["/juno"]))
    for server in start_server(tmp, pki, url):
        yield Env(server, alice, bob, tmp / "se")


@pytest.fixture
def remote(env: Env, monkeypatch: pytest.MonkeyPatch, pki: TestPKI) -> Env:
    monkeypatch.setenv("X509_USER_PROXY", str(env.alice))
    monkeypatch.setenv("X509_CERT_DIR", str(pki.ca_dir))
    monkeypatch.setenv("X509_VOMS_DIR", str(pki.vomsdir))
    return env


def flow(local: Path, base: str) -> list[list[str]]:
    f1 = local / "detsim-001.root"
    f1.write_bytes(bytes(range(256)) * 400)
    out = local / "copy.root"
    return [
        ["mkdir", "-p", f"{base}/run1"],
        ["put", str(f1), f"{base}/run1/", "--se", "DISK"],
        ["put", str(f1), f"{base}/run1/", "--se", "DISK"],
        ["put", str(f1), f"{base}/run1/", "--se", "NOPE"],
        ["ls", f"{base}/run1"],
        ["ls", "-l", f"{base}/run1"],
        ["ls", "--json", f"{base}"],
        ["stat", f"{base}/run1/detsim-001.root"],
        ["stat", "--json", f"{base}/run1/detsim-001.root", f"{base}/none"],
        ["replicas", f"{base}/run1/detsim-001.root"],
        ["replicas", "--json", f"{base}/run1/detsim-001.root"],
        ["mkdir", f"{base}/run1/x/y"],
        ["ls", f"{base}/none"],
        ["ls", "relative/path"],
        ["get", f"{base}/run1/detsim-001.root", str(out)],
        ["get", f"{base}/run1", str(local / "dir")],
        ["mv", f"{base}/run1", f"{base}/run2"],
        ["ls", "-R", f"{base}"],
        ["chmod", "750", f"{base}/run2"],
        ["rm", f"{base}/run2"],
        ["rm", "-r", f"{base}/run2"],
        ["rm", f"{base}/run2/gone.root"],
        ["ls", f"{base}"],
    ]


_TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?(\+00:00)?)?")
_GUID = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")


def normal(text: str, se: Path, local: Path) -> str:
    text = text.replace(str(se), "<SE>").replace(str(local), "<LOCAL>")
    return _GUID.sub("<GUID>", _TIME.sub("<TIME>", text))


def meta_flow(local: Path, base: str) -> list[list[str]]:
    (local / "a.root").write_bytes(b"a" * 10)
    (local / "b.root").write_bytes(b"b" * 20)
    m = f"{base}/meta"
    return [
        ["mkdir", "-p", f"{m}/run1", f"{m}/run2"],
        ["put", str(local / "a.root"), f"{m}/run1/", "--se", "DISK"],
        ["put", str(local / "b.root"), f"{m}/run2/", "--se", "DISK"],
        ["meta", "index", "-d", "runH", "int"],
        ["meta", "index", "-f", "quality", "string"],
        ["meta", "set", f"{m}/run1", "runH=10"],
        ["meta", "set", f"{m}/run2", "runH=20"],
        ["meta", "set", f"{m}/run2/b.root", "quality=good"],
        ["meta", "set", f"{m}/run2", "runH=abc"],
        ["meta", "get", "--json", f"{m}/run2/b.root"],
        ["find", m, "runH>15"],
        ["find", "--count", m, "runH>=10"],
        ["find", "-D", "--json", m, "quality=good"],
        ["find", m, "nosuchfield=1"],
        ["dataset", "add", f"{m}/ds1", m, "runH=10"],
        ["dataset", "files", f"{m}/ds1"],
        ["du", "--json", m],
        ["dump", m],
        ["meta", "rm", f"{m}/run2", "runH"],
        ["find", m, "runH>15"],
        ["dataset", "rm", f"{m}/ds1"],
        ["meta", "index", "-r", "quality"],
        ["meta", "index", "-r", "runH"],
    ]


def run_flow(
    cli: CLI, prefix: list[str], local: Path, se: Path, make: Any = flow
) -> list[tuple[str, int, str, str]]:
    out = []
    for args in make(local, HOME):
        run = cli(*prefix, *args)
        out.append((args[0], run.code, normal(run.out, se, local), normal(run.err, se, local)))
    return out


def test_flows_are_identical_embedded_and_remote(
    cli: CLI, remote: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Embedded, the local user is the identity: call it alice, in group juno, as on the server.
    with monkeypatch.context() as local_user:
        for var in ("LOGNAME", "USER"):
            local_user.setenv(var, "alice")
        local_se = tmp_path / "embedded-se"
        cli.ok("init")
        cli.ok("admin", "user", "add", "alice", "--group", "juno")
        cli.ok("se", "add", "DISK", f"file://{local_se}", "--site", "IHEP")
        embedded_dir = tmp_path / "embedded"
        embedded_dir.mkdir()
        embedded = run_flow(cli, [], embedded_dir, local_se)
    remote_dir = tmp_path / "remote"
    remote_dir.mkdir()
    over_tls = run_flow(cli, ["--catalog", remote.server.url], remote_dir, remote.se)
    assert [r[:2] for r in over_tls] == [r[:2] for r in embedded]
    for emb, rem in zip(embedded, over_tls, strict=True):
        assert rem == emb
    codes = [r[1] for r in embedded]
    assert 0 in codes and 2 in codes  # the flow does fail on purpose
    assert (remote_dir / "copy.root").read_bytes() == bytes(range(256)) * 400


def test_metadata_flows_are_identical(
    cli: CLI, remote: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pki: TestPKI
) -> None:
    with monkeypatch.context() as local_user:
        for var in ("LOGNAME", "USER"):
            local_user.setenv(var, "alice")
        local_se = tmp_path / "embedded-se"
        cli.ok("init")
        cli.ok("admin", "user", "add", "alice", "--group", "juno")
        cli.ok("se", "add", "DISK", f"file://{local_se}", "--site", "IHEP")
        (tmp_path / "embedded").mkdir()
        embedded = run_flow(cli, [], tmp_path / "embedded", local_se, meta_flow)
    admin = pki.write("cli_vo_admin", pki.proxy("alice", fqans=["/juno", VO_ADMIN]))
    monkeypatch.setenv("X509_USER_PROXY", str(admin))
    (tmp_path / "remote").mkdir()
    over_tls = run_flow(cli, ["--catalog", remote.server.url], tmp_path / "remote", remote.se,
                        meta_flow)  # fmt: skip
    for emb, rem in zip(embedded, over_tls, strict=True):
        assert rem == emb
    assert [r[1] for r in embedded].count(0) >= 20


def test_remote_identity_and_refusals(cli: CLI, remote: Env, monkeypatch: pytest.MonkeyPatch,
                                      pki: TestPKI) -> None:  # fmt: skip
    url = ["--catalog", remote.server.url]
    assert cli.ok(*url, "init").out.endswith(f"catalogue ready: {remote.server.url}\n")
    who = cli.ok(*url, "whoami").out
    assert "user      : alice" in who and f"fqans     : /juno, {PROD}" in who
    assert "account   : -" in who and "via       : x509" in who
    assert cli.ok(*url, "mkdir", "-p", "/juno/production/muon").out == ""
    monkeypatch.setenv("X509_USER_PROXY", str(remote.bob))
    run = cli(*url, "mkdir", "/juno/production/muon/bob")
    assert run.code == 13 and "only /juno/production/Role=production" in run.err
    run = cli(*url, "admin", "user", "list")
    assert run.code == 13 and "administrators only" in run.err
    expired = pki.write("cli_expired", pki.proxy("alice", hours=1, when=_past()))
    monkeypatch.setenv("X509_USER_PROXY", str(expired))
    run = cli(*url, "ls", "/juno")
    assert run.code == 13 and "expired at" in run.err
    revoked = pki.write("cli_revoked", pki.proxy("carol", fqans=["/juno"]))
    monkeypatch.setenv("X509_USER_PROXY", str(revoked))
    run = cli(*url, "ls", "/juno")
    assert run.code == 13 and "refused the credential in the TLS handshake" in run.err
    monkeypatch.setenv("X509_USER_PROXY", str(remote.bob.with_name("missing")))
    run = cli(*url, "ls", "/juno")
    assert run.code == 13 and "dfc proxy init" in run.err


def test_server_down(cli: CLI, remote: Env) -> None:
    from tests.servers._proc import free_port

    run = cli("--catalog", f"https://localhost:{free_port()}", "ls", "/")
    assert run.code == 5 and "cannot reach the catalogue server" in run.err


def _past() -> object:
    import datetime as dt

    from tests.auth.pki import now

    return now() - dt.timedelta(days=2)
