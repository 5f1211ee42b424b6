"""Interoperability with the real grid tools (Debian voms-clients, globus-proxy-utils, voms-dev).

- proxies made by the real ``voms-proxy-fake`` and ``grid-proxy-init`` are judged by our
  verifier as the grid would (good ones accepted, legacy/draft/independent/rogue refused);
- proxies and VOMS ACs made by our code are accepted by the reference implementations:
  ``openssl verify -allow_proxy_certs``, the VOMS C++ API (``vomscheck``, built from
  ``vomscheck.cc`` against ``voms-dev``), ``voms-proxy-info`` and ``grid-proxy-info``;
  and our bad ACs are refused by the VOMS C++ API too.

``scripts/install-auth-deps`` installs the tools. Outside CI a missing tool skips; under
``CI=true`` it fails.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest

from dfc.auth.chain import validate_chain
from dfc.auth.errors import CertificateExpired, InvalidProxy, VOMSError
from dfc.auth.proxy import ProxyType, load_proxy, make_proxy, proxy_info
from dfc.auth.voms import find_voms_extension
from tests.auth.fixtures import grid_env, need_tool
from tests.auth.pki import VOMS_HOST, VOMS_PORT, TestPKI, key, now

ALICE = "/DC=org/DC=junotest/O=JUNO/CN=Alice Tester"
FQANS = ["/juno/Role=NULL/Capability=NULL", "/juno/production/Role=production/Capability=NULL"]


def run(pki: TestPKI, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    tool = need_tool(str(args[0]))
    return subprocess.run(
        [tool, *map(str, args[1:])],
        env=grid_env(pki, HOME=pki.root),
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


@pytest.fixture(scope="module")
def vomscheck(pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference VOMS AC validator, compiled against the VOMS C++ API."""
    compiler = need_tool("g++")
    if not Path("/usr/include/voms/voms_api.h").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("voms-dev not installed (run scripts/install-auth-deps)")
        pytest.skip("voms-dev not installed (run scripts/install-auth-deps)")
    out = tmp_path_factory.mktemp("vomscheck") / "vomscheck"
    source = Path(__file__).with_name("vomscheck.cc")
    subprocess.run(
        [compiler, "-o", out, source, "-lvomsapi", "-lssl", "-lcrypto"], check=True, timeout=300
    )
    return out


def fake(pki: TestPKI, name: str, *options: str, user: str = "alice", signer: str = "voms") -> Path:
    """A proxy made by the real voms-proxy-fake."""
    out = pki.root / "proxies" / name
    out.parent.mkdir(exist_ok=True)
    cred, server = pki.user(user), pki.user(signer)
    run(
        pki,
        "voms-proxy-fake",
        "-q",
        "-rfc",
        "-cert", cred.cert_path, "-key", cred.key_path,
        "-hostcert", server.cert_path, "-hostkey", server.key_path,
        "-voms", "juno",
        "-uri", f"{VOMS_HOST if signer == 'voms' else 'rogue.junotest.org'}:{VOMS_PORT}",
        *options,
        "-out", out,
    )  # fmt: skip
    return out


def check_with_vomscheck(
    pki: TestPKI, vomscheck: Path, proxy: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [vomscheck, proxy], env=grid_env(pki), capture_output=True, text=True, timeout=60
    )


# ----------------------------------------------------------------------------- their proxies, our verifier


@pytest.mark.parametrize("holder_format", [[], ["-newformat"]])
def test_voms_proxy_fake_accepted(pki: TestPKI, holder_format: list[str]) -> None:
    options = [f for fqan in FQANS for f in ("-fqan", fqan)] + holder_format
    path = fake(pki, f"vpf{len(holder_format)}", *options)
    info = proxy_info(path, ca_dir=pki.ca_dir, vomsdir=pki.vomsdir)
    assert info.identity == ALICE
    assert info.type is ProxyType.IMPERSONATION
    assert info.fqans == ("/juno", "/juno/production/Role=production")
    assert all(v.verified for v in info.voms)


def test_voms_proxy_fake_limited(pki: TestPKI) -> None:
    info = proxy_info(
        fake(pki, "vpf_limited", "-limited", "-fqan", "/juno"),
        ca_dir=pki.ca_dir,
        vomsdir=pki.vomsdir,
    )
    assert info.limited
    assert info.type is ProxyType.LIMITED


def test_voms_proxy_fake_rogue_server_refused(pki: TestPKI) -> None:
    path = fake(pki, "vpf_rogue", "-fqan", "/juno/admin/Role=VO-Admin", signer="rogue")
    with pytest.raises(VOMSError, match=r"rogue\.junotest\.org is not trusted"):
        proxy_info(path, ca_dir=pki.ca_dir, vomsdir=pki.vomsdir)


def test_voms_proxy_fake_expired_ac_refused(pki: TestPKI) -> None:
    path = fake(pki, "vpf_acexp", "-fqan", "/juno", "-pastac", "24:00", "-vomslife", "1")
    with pytest.raises(VOMSError, match="expired"):
        proxy_info(path, ca_dir=pki.ca_dir, vomsdir=pki.vomsdir)


def test_voms_proxy_fake_expired_proxy_refused(pki: TestPKI) -> None:
    path = fake(pki, "vpf_exp", "-fqan", "/juno", "-pastproxy", "24:00", "-hours", "1")
    with pytest.raises(CertificateExpired):
        proxy_info(path, ca_dir=pki.ca_dir, vomsdir=pki.vomsdir)


def test_voms_proxy_fake_path_length(pki: TestPKI) -> None:
    parent = fake(pki, "vpf_pl0", "-path-length", "0", "-fqan", "/juno")
    assert proxy_info(parent, ca_dir=pki.ca_dir).path_length == 0
    child = pki.root / "proxies" / "vpf_pl0_child"
    run(pki, "grid-proxy-init", "-q", "-rfc", "-cert", parent, "-key", parent, "-out", child)
    with pytest.raises(InvalidProxy, match="path length"):
        validate_chain(load_proxy(child).chain, ca_dir=pki.ca_dir)


@pytest.mark.parametrize(
    ("option", "error"),
    [("-old", "legacy"), ("-draft", "draft"), ("-rfc -independent", "independent")],
)
def test_grid_proxy_init_refused_kinds(pki: TestPKI, option: str, error: str) -> None:
    out = pki.root / "proxies" / f"gpi{option.replace(' ', '')}"
    run(
        pki,
        "grid-proxy-init",
        "-q",
        *option.split(),
        "-cert",
        pki.alice.cert_path,
        "-key",
        pki.alice.key_path,
        "-out",
        out,
    )
    with pytest.raises(InvalidProxy, match=error):
        validate_chain(load_proxy(out).chain, ca_dir=pki.ca_dir)


def test_grid_proxy_init_rfc_accepted(pki: TestPKI) -> None:
    out = pki.root / "proxies" / "gpi_rfc"
    run(
        pki,
        "grid-proxy-init",
        "-q",
        "-rfc",
        "-cert",
        pki.alice.cert_path,
        "-key",
        pki.alice.key_path,
        "-out",
        out,
    )
    identity = validate_chain(load_proxy(out).chain, ca_dir=pki.ca_dir, require_crls=True)
    assert (identity.dn, identity.limited) == (ALICE, False)


# ----------------------------------------------------------------------------- our proxies, their verifiers


def test_openssl_accepts_our_proxies(pki: TestPKI) -> None:
    voms = pki.proxy("alice", fqans=FQANS)
    parent = load_proxy(voms)
    assert parent.key is not None
    delegated = make_proxy(
        parent.chain[0], parent.key, chain=parent.chain[1:], proxy_key=key("proxy2")
    )  # type: ignore[arg-type]
    for name, data in [
        ("o_plain", pki.proxy("alice")),
        ("o_voms", voms),
        ("o_deleg", delegated),
        ("o_lim", pki.proxy("alice", limited=True)),
    ]:
        path = pki.write(name, data)
        result = run(
            pki,
            "openssl",
            "verify",
            "-allow_proxy_certs",
            "-crl_check_all",
            "-CApath",
            pki.ca_dir,
            "-untrusted",
            path,
            path,
            check=False,
        )
        assert result.returncode == 0, (name, result.stdout, result.stderr)
    carol = pki.write("o_carol", pki.proxy("carol"))
    result = run(
        pki,
        "openssl",
        "verify",
        "-allow_proxy_certs",
        "-crl_check_all",
        "-CApath",
        pki.ca_dir,
        "-untrusted",
        carol,
        carol,
        check=False,
    )
    assert result.returncode != 0
    assert "revoked" in result.stdout + result.stderr


def test_grid_proxy_info_reads_our_proxy(pki: TestPKI) -> None:
    plain = pki.write("gpi_info", pki.proxy("alice"))
    limited = pki.write("gpi_info_lim", pki.proxy("alice", limited=True))
    assert (
        run(pki, "grid-proxy-info", "-file", plain, "-type").stdout.strip()
        == "RFC 3820 compliant impersonation proxy"
    )
    assert (
        run(pki, "grid-proxy-info", "-file", limited, "-type").stdout.strip()
        == "RFC 3820 compliant limited proxy"
    )
    assert run(pki, "grid-proxy-info", "-file", plain, "-identity").stdout.strip() == ALICE


def test_voms_proxy_info_reads_our_ac(pki: TestPKI) -> None:
    path = pki.write("vpi", pki.proxy("alice", fqans=FQANS))
    out = run(pki, "voms-proxy-info", "--all", "--file", path).stdout
    assert f"identity  : {ALICE}" in out
    assert "=== VO juno extension information ===" in out
    assert "issuer    : /DC=org/DC=junotest/CN=voms.junotest.org" in out
    for fqan in FQANS:
        assert f"attribute : {fqan}" in out
    assert f"uri       : {VOMS_HOST}:{VOMS_PORT}" in out


@pytest.mark.parametrize("holder_name", ["issuer", "subject"])
def test_voms_api_accepts_our_acs(pki: TestPKI, vomscheck: Path, holder_name: str) -> None:
    path = pki.write(
        f"vc_{holder_name}",
        pki.proxy("alice", ac=pki.ac("alice", fqans=FQANS, holder_name=holder_name)),
    )
    result = check_with_vomscheck(pki, vomscheck, path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"ACCEPT VO=juno server=/DC=org/DC=junotest/CN={VOMS_HOST}",
        *(f"fqan {f}" for f in FQANS),
    ]


def test_voms_api_accepts_our_delegated_proxy(pki: TestPKI, vomscheck: Path) -> None:
    parent = load_proxy(pki.proxy("alice", fqans=FQANS))
    assert parent.key is not None
    delegated = make_proxy(
        parent.chain[0], parent.key, chain=parent.chain[1:], proxy_key=key("proxy2")
    )  # type: ignore[arg-type]
    result = check_with_vomscheck(pki, vomscheck, pki.write("vc_deleg", delegated))
    assert result.returncode == 0, result.stdout


def test_voms_api_refuses_what_we_refuse(pki: TestPKI, vomscheck: Path) -> None:
    old = now() - dt.timedelta(days=1)
    stolen = find_voms_extension(load_proxy(pki.proxy("bob", fqans=FQANS)).chain)
    cases = {
        "rogue": pki.proxy("alice", ac=pki.ac("alice", signer=pki.rogue, fqans=["/juno/admin"])),
        "expired": pki.proxy(
            "alice", ac=pki.ac("alice", not_before=old, not_after=old + dt.timedelta(hours=1))
        ),
        "stolen": make_proxy(
            pki.alice.cert, pki.alice.key, voms_extension=stolen, proxy_key=pki.proxy_key
        ),
        "foreign": pki.proxy("alice", ac=pki.ac("alice", fqans=["/atlas/Role=NULL"])),
        "tampered": pki.proxy(
            "alice",
            ac=pki.ac("alice", fqans=["/juno/Role=NULL"]).replace(
                b"/juno/Role=NULL", b"/juno/Role=admi"
            ),
        ),
    }
    for name, data in cases.items():
        path = pki.write(f"vc_bad_{name}", data)
        result = check_with_vomscheck(pki, vomscheck, path)
        assert result.returncode != 0, (name, result.stdout)
        assert result.stdout.startswith("REJECT"), (name, result.stdout)
        chain = validate_chain(load_proxy(path).chain, ca_dir=pki.ca_dir)
        from dfc.auth.voms import verify_voms

        with pytest.raises(VOMSError):
            verify_voms(
                chain.certificates, holder=chain.end_entity, vomsdir=pki.vomsdir, ca_dir=pki.ca_dir
            )


def test_voms_proxy_fake_without_fqan_refused(pki: TestPKI) -> None:
    # The VOMS C++ API accepts an AC with no FQAN at all; we refuse it (fail closed: a VO
    # membership without any group is never what a VOMS server issues).
    with pytest.raises(VOMSError, match="carries no FQAN"):
        proxy_info(fake(pki, "vpf_nofqan"), ca_dir=pki.ca_dir, vomsdir=pki.vomsdir)
