"""``dfc proxy``, ``whoami``, ``admin``, ``chmod``/``chown``/``chgrp`` and ``server`` commands."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import serialization

from tests.server.helpers import REPO

if TYPE_CHECKING:
    from pathlib import Path

    from tests.auth.pki import TestPKI
    from tests.conftest import CLI

ALICE = "/DC=org/DC=junotest/O=JUNO/CN=Alice Tester"


@pytest.fixture
def grid(pki: TestPKI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("X509_CERT_DIR", str(pki.ca_dir))
    monkeypatch.setenv("X509_VOMS_DIR", str(pki.vomsdir))
    monkeypatch.setenv("X509_USER_PROXY", str(tmp_path / "x509up"))
    monkeypatch.setenv("X509_USER_CERT", str(pki.alice.cert_path))
    encrypted = tmp_path / "userkey.pem"
    encrypted.write_bytes(
        pki.alice.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret phrase"),
        )
    )
    encrypted.chmod(0o400)
    monkeypatch.setenv("X509_USER_KEY", str(encrypted))
    return tmp_path / "x509up"


def test_proxy_init_and_info(cli: CLI, grid: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "secret phrase")
    out = cli.ok("proxy", "init", "--valid", "2").out
    assert out.startswith(f"Your proxy {grid} is valid until")
    assert stat.S_IMODE(grid.stat().st_mode) == 0o600
    info = cli.ok("proxy", "info").out
    assert f"identity  : {ALICE}" in info and "RFC 3820 compliant impersonation proxy" in info
    assert "verified  : yes" in info and "timeleft  : 1:5" in info
    data = json.loads(cli.ok("proxy", "info", "--json").out)
    assert (data["identity"], data["limited"], data["chain_verified"]) == (ALICE, False, True)
    monkeypatch.setattr("sys.stdin", io.StringIO("secret phrase\n"))
    cli.ok("proxy", "init", "--limited", "--pwstdin", "--out", str(grid.with_name("lim")))
    limited = json.loads(
        cli.ok("proxy", "info", "--json", "--file", str(grid.with_name("lim"))).out
    )
    assert limited["limited"] is True and "limited" in limited["type"]


def test_proxy_init_wrong_passphrase(cli: CLI, grid: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "wrong")
    run = cli("proxy", "init")
    assert run.code == 13 and "dfc: wrong passphrase" in run.err and not grid.exists()


def test_proxy_info_with_voms_attributes(cli: CLI, grid: Path, pki: TestPKI) -> None:
    grid.write_bytes(pki.proxy("alice", fqans=["/juno", "/juno/production/Role=production"]))
    out = cli.ok("proxy", "info").out
    assert "=== VO juno extension information (verified) ===" in out
    assert "attribute : /juno/production/Role=production" in out
    rogue = pki.proxy("alice", ac=pki.ac("alice", signer=pki.rogue, fqans=["/juno/admin"]))
    grid.write_bytes(rogue)
    run = cli("proxy", "info")
    assert run.code == 13 and "rogue.junotest.org" in run.err, run.err


def test_whoami_admin_and_permissions_embedded(cli: CLI) -> None:
    cli.ok("init")
    who = json.loads(cli.ok("whoami", "--json").out)
    assert who["via"] == "local" and who["properties"] == ["admin"]
    cli.ok("admin", "group", "add", "juno_prod", "-p", "production")
    cli.ok("admin", "user", "add", "alice", "--dn", ALICE, "--group", "juno", "--account", "a1")
    cli.ok("admin", "group", "adduser", "juno_prod", "alice")
    cli.ok("admin", "map", "add", "/juno/production/Role=production/Capability=NULL",
           "juno_prod", "--account", "junoprd")  # fmt: skip
    users = json.loads(cli.ok("admin", "user", "list", "--json").out)
    alice = next(u for u in users if u["name"] == "alice")
    assert (alice["dns"], alice["account"], alice["groups"]) == ([ALICE], "a1", ["juno_prod"])
    rules = cli.ok("admin", "map", "list").out
    assert rules.split() == ["/juno/production/Role=production", "juno_prod", "junoprd"]
    assert "members=alice" in cli.ok("admin", "group", "list").out
    run = cli("admin", "user", "add", "bob", "--dn", ALICE)
    assert run.code == 17 and "mapped to another user" in run.err
    run = cli("admin", "user", "add", "bob", "-p", "superuser")
    assert run.code == 22 and "unknown properties" in run.err
    cli.ok("mkdir", "-p", "/juno/user/a/alice/d")
    cli.ok("chown", "-R", "alice:juno", "/juno/user/a/alice")
    cli.ok("chgrp", "juno_prod", "/juno/user/a/alice/d")
    cli.ok("chmod", "700", "/juno/user/a/alice/d")
    line = cli.ok("ls", "-l", "/juno/user/a/alice").out
    assert line.startswith("drwx------") and " alice    juno_prod " in line
    assert cli("chmod", "8", "/juno").code == 2
    assert cli("chmod", "755", "/juno/none").code == 2
    cli.ok("admin", "group", "deluser", "juno_prod", "alice")
    cli.ok("admin", "map", "rm", "/juno/production/Role=production")
    cli.ok("admin", "user", "rm", "alice", "--dn", ALICE)
    cli.ok("admin", "user", "rm", "alice")
    cli.ok("admin", "group", "rm", "juno_prod")
    assert cli("admin", "group", "rm", "juno_prod").code == 2


def test_gridmap_import(cli: CLI, tmp_path: Path) -> None:
    cli.ok("init")
    gridmap = tmp_path / "grid-mapfile"
    gridmap.write_text(
        "# comment\n"
        f'"{ALICE}" alice,alice2\n'
        '"/DC=org/DC=junotest/O=JUNO/CN=Bob Other" bob\n'
        '"/DC=org/DC=junotest/O=JUNO/CN=Pool User" .juno\n'
        "garbage\n"
    )
    out = cli.ok("admin", "map", "import", str(gridmap))
    assert out.out == "added 2, updated 0, skipped 2\n"
    assert "pool account .juno" in out.err and "line 5" in out.err
    again = json.loads(cli.ok("admin", "map", "import", str(gridmap), "--json").out)
    assert again["added"] == [] and again["updated"] == []
    assert cli("admin", "map", "import", str(tmp_path / "none")).code == 5


def _server(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "dfc", "server", *args], capture_output=True, text=True,
        env=env, timeout=60, check=False,
    )  # fmt: skip


def test_server_command_errors(tmp_path: Path, pki: TestPKI) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('host = "127.0.0.1"\n')
    run = _server("--config", str(bad))
    assert run.returncode == 22 and "'catalog' (the database URL) is required" in run.stderr
    cfg = tmp_path / "server.toml"
    cfg.write_text(
        f'catalog = "sqlite:///{tmp_path}/none.db"\nport = 0\n'
        f'hostcert = "{pki.host.cert_path}"\nhostkey = "{pki.host.key_path}"\n'
        f'ca_dir = "{pki.ca_dir}"\nvomsdir = "{pki.vomsdir}"\n'
    )
    run = _server("--config", str(cfg))
    assert run.returncode == 5 and "not initialised" in run.stderr
    assert _server("--config", str(tmp_path / "missing.toml")).returncode == 2
