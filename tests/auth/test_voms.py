"""VOMS attribute certificate verification: accepted ACs and every attack."""

from __future__ import annotations

import datetime as dt
import shutil
from typing import TYPE_CHECKING

import pytest

from dfc.auth.chain import validate_chain
from dfc.auth.errors import VOMSError
from dfc.auth.proxy import load_proxy, make_proxy
from dfc.auth.voms import read_voms_attributes, verify_voms
from tests.auth.pki import (
    ROGUE_HOST,
    TestPKI,
    _extension,
    acseq,
    issue_ac,
    key,
    now,
    pem,
)

if TYPE_CHECKING:
    from pathlib import Path

    from dfc.auth.voms import VOMSAttributes

FQANS = ["/juno/Role=NULL/Capability=NULL", "/juno/production/Role=production/Capability=NULL"]


def verify(
    pki: TestPKI, proxy_pem: bytes, *, vomsdir: Path | None = None, **kw: object
) -> list[VOMSAttributes]:
    chain = load_proxy(proxy_pem).chain
    identity = validate_chain(chain, ca_dir=pki.ca_dir)
    return verify_voms(
        identity.certificates,
        holder=identity.end_entity,
        vomsdir=vomsdir or pki.vomsdir,
        ca_dir=pki.ca_dir,
        **kw,  # type: ignore[arg-type]
    )


# ----------------------------------------------------------------------------- accepted


def test_voms_proxy(pki: TestPKI) -> None:
    (attrs,) = verify(pki, pki.proxy("alice", fqans=FQANS))
    assert attrs.vo == "juno"
    assert attrs.fqans == ("/juno", "/juno/production/Role=production")
    assert attrs.issuer == "/DC=org/DC=junotest/CN=voms.junotest.org"
    assert attrs.uri == "voms.junotest.org:15000"
    assert attrs.verified


def test_primary_fqan_order_is_kept(pki: TestPKI) -> None:
    (attrs,) = verify(pki, pki.proxy("alice", fqans=FQANS[::-1]))
    assert attrs.fqans[0] == "/juno/production/Role=production"


def test_old_holder_format(pki: TestPKI) -> None:
    # voms-proxy-fake's default names the holder by its subject, VOMS-AA by its issuer
    ac = pki.ac("alice", holder_name="subject", fqans=["/juno"])
    assert verify(pki, pki.proxy("alice", ac=ac))[0].fqans == ("/juno",)


def test_ac_in_an_intermediate_proxy(pki: TestPKI) -> None:
    voms_proxy = load_proxy(pki.proxy("alice", fqans=FQANS))
    assert voms_proxy.key is not None
    delegated = make_proxy(
        voms_proxy.chain[0], voms_proxy.key, chain=voms_proxy.chain[1:], proxy_key=key("proxy2")
    )  # type: ignore[arg-type]
    assert verify(pki, delegated)[0].fqans[1] == "/juno/production/Role=production"


def test_no_ac_means_no_attributes(pki: TestPKI) -> None:
    assert verify(pki, pki.proxy("alice")) == []


def test_two_vos(pki: TestPKI, tmp_path: Path) -> None:
    vomsdir = tmp_path / "vomsdir"
    shutil.copytree(pki.vomsdir, vomsdir)
    (vomsdir / "dyb").mkdir()
    shutil.copy(
        vomsdir / "juno" / "voms.junotest.org.lsc", vomsdir / "dyb" / "voms.junotest.org.lsc"
    )
    ac1 = pki.ac("alice", fqans=["/juno"])
    ac2 = pki.ac("alice", fqans=["/dyb/Role=NULL"], vo="dyb")
    proxy = make_proxy(
        pki.alice.cert, pki.alice.key, voms_extension=acseq(ac1, ac2), proxy_key=pki.proxy_key
    )
    attrs = verify(pki, proxy, vomsdir=vomsdir)
    assert [(a.vo, a.fqans) for a in attrs] == [("juno", ("/juno",)), ("dyb", ("/dyb",))]
    assert [a.vo for a in verify(pki, proxy, vomsdir=vomsdir, vos={"dyb"})] == ["dyb"]


def test_voms_certificate_from_pem_without_lsc(pki: TestPKI, tmp_path: Path) -> None:
    vomsdir = tmp_path / "vomsdir"
    (vomsdir / "juno").mkdir(parents=True)
    (vomsdir / "juno" / "voms.pem").write_bytes(pem(pki.voms.cert))
    ac = pki.ac("alice", fqans=["/juno"], embedded=[])
    assert verify(pki, pki.proxy("alice", ac=ac), vomsdir=vomsdir)[0].fqans == ("/juno",)


def test_lsc_with_alternative_chains(pki: TestPKI, tmp_path: Path) -> None:
    vomsdir = tmp_path / "vomsdir"
    (vomsdir / "juno").mkdir(parents=True)
    (vomsdir / "juno" / "voms.junotest.org.lsc").write_text(
        '"/DC=org/DC=junotest/CN=old.voms"\n"/DC=org/DC=junotest/CN=JUNO Test CA"\n'
        "------ NEXT CHAIN ------\n"
        f'"{pki.voms.dn}"\n"{pki.ca.dn}"\n'
    )
    assert verify(pki, pki.proxy("alice", fqans=["/juno"]), vomsdir=vomsdir)[0].verified


def test_read_without_verifying(pki: TestPKI) -> None:
    ac = pki.ac("alice", signer=pki.rogue, host=ROGUE_HOST, fqans=["/juno/admin/Role=VO-Admin"])
    (attrs,) = read_voms_attributes(load_proxy(pki.proxy("alice", ac=ac)).chain)
    assert attrs.fqans == ("/juno/admin/Role=VO-Admin",)
    assert not attrs.verified


# ----------------------------------------------------------------------------- attacks


def test_expired_ac(pki: TestPKI) -> None:
    start = now() - dt.timedelta(days=1)
    ac = pki.ac("alice", not_before=start, not_after=start + dt.timedelta(hours=1))
    with pytest.raises(VOMSError, match=r"attribute certificate expired at"):
        verify(pki, pki.proxy("alice", ac=ac))


def test_ac_not_yet_valid(pki: TestPKI) -> None:
    start = now() + dt.timedelta(hours=1)
    ac = pki.ac("alice", not_before=start)
    with pytest.raises(VOMSError, match=r"not valid before"):
        verify(pki, pki.proxy("alice", ac=ac))


def test_ac_clock_skew_tolerated(pki: TestPKI) -> None:
    ac = pki.ac("alice", not_before=now() + dt.timedelta(minutes=2))
    assert verify(pki, pki.proxy("alice", ac=ac))[0].verified


def test_rogue_voms_server(pki: TestPKI) -> None:
    ac = pki.ac("alice", signer=pki.rogue, host=ROGUE_HOST, fqans=["/juno/admin/Role=VO-Admin"])
    with pytest.raises(VOMSError, match=r"rogue.junotest.org is not trusted"):
        verify(pki, pki.proxy("alice", ac=ac))


def test_rogue_voms_server_posing_as_the_real_one(pki: TestPKI) -> None:
    ac = pki.ac("alice", signer=pki.rogue, fqans=["/juno/admin/Role=VO-Admin"])
    with pytest.raises(VOMSError, match=r"does not match .*voms.junotest.org.lsc"):
        verify(pki, pki.proxy("alice", ac=ac))


def test_rogue_signature_with_real_certificate_embedded(pki: TestPKI) -> None:
    ac = issue_ac(pki.alice.cert, pki.voms.cert, pki.rogue.key, fqans=["/juno/admin"])
    with pytest.raises(VOMSError, match=r"signature does not verify"):
        verify(pki, pki.proxy("alice", ac=ac))


def test_rogue_pem_fallback(pki: TestPKI, tmp_path: Path) -> None:
    vomsdir = tmp_path / "vomsdir"
    (vomsdir / "juno").mkdir(parents=True)
    (vomsdir / "juno" / "voms.pem").write_bytes(pem(pki.voms.cert))
    ac = pki.ac("alice", signer=pki.rogue, fqans=["/juno/admin"], embedded=[])
    with pytest.raises(VOMSError, match=r"does not verify with any VOMS server certificate"):
        verify(pki, pki.proxy("alice", ac=ac), vomsdir=vomsdir)


def test_voms_server_from_untrusted_ca(pki: TestPKI, tmp_path: Path) -> None:
    from tests.auth.pki import grid_name, issue_cert

    evil_voms = issue_cert(
        grid_name("voms.junotest.org", org=None),
        key("rogue").public_key(),
        pki.ca2.cert,
        pki.ca2.key,
        kind="voms",
    )
    vomsdir = tmp_path / "vomsdir"
    (vomsdir / "juno").mkdir(parents=True)
    (vomsdir / "juno" / "voms.junotest.org.lsc").write_text(f"{pki.voms.dn}\n{pki.ca2.dn}\n")
    ac = issue_ac(pki.alice.cert, evil_voms, key("rogue"), fqans=["/juno/admin"])
    with pytest.raises(VOMSError, match=r"not trusted: .*Evil CA"):
        verify(pki, pki.proxy("alice", ac=ac), vomsdir=vomsdir)


def test_ac_taken_from_another_users_proxy(pki: TestPKI) -> None:
    bobs_ac = load_proxy(pki.proxy("bob", fqans=FQANS)).chain[0]
    from dfc.auth.voms import find_voms_extension

    stolen = find_voms_extension([bobs_ac])
    assert stolen is not None
    proxy = make_proxy(
        pki.alice.cert, pki.alice.key, voms_extension=stolen, proxy_key=pki.proxy_key
    )
    with pytest.raises(VOMSError, match=r"issued to another certificate"):
        verify(pki, proxy)


def test_ac_for_same_name_other_serial(pki: TestPKI) -> None:
    ac = pki.ac("alice", holder_serial=pki.alice.cert.serial_number + 1)
    with pytest.raises(VOMSError, match=r"issued to another certificate"):
        verify(pki, pki.proxy("alice", ac=ac))


def test_foreign_vo_fqan(pki: TestPKI) -> None:
    ac = pki.ac("alice", fqans=["/juno", "/atlas/Role=production"])
    with pytest.raises(VOMSError, match=r"outside VO 'juno'"):
        verify(pki, pki.proxy("alice", ac=ac))


def test_fqan_prefix_trick(pki: TestPKI) -> None:
    ac = pki.ac("alice", fqans=["/junox/Role=NULL"])
    with pytest.raises(VOMSError, match=r"outside VO"):
        verify(pki, pki.proxy("alice", ac=ac))


@pytest.mark.parametrize(
    "fqan", ["juno", "/juno/", "/juno/../admin", "/juno/Role=a/b", "/juno/Role=", "/ju no"]
)
def test_malformed_fqan(pki: TestPKI, fqan: str) -> None:
    with pytest.raises(VOMSError, match=r"bad FQAN"):
        verify(pki, pki.proxy("alice", ac=pki.ac("alice", fqans=[fqan])))


def test_path_traversal_in_policy_authority(pki: TestPKI) -> None:
    ac = pki.ac("alice", host="../../juno/voms.junotest.org")
    with pytest.raises(VOMSError, match=r"bad VOMS policy authority"):
        verify(pki, pki.proxy("alice", ac=ac))


def test_ac_issuer_not_the_signer(pki: TestPKI) -> None:
    ac = pki.ac("alice", issuer_name=pki.rogue.cert.subject)
    with pytest.raises(VOMSError, match=r"is not its signer"):
        verify(pki, pki.proxy("alice", ac=ac))


def test_signature_algorithms_differ(pki: TestPKI) -> None:
    ac = pki.ac("alice", outer_algorithm="1.2.840.113549.1.1.5")
    with pytest.raises(VOMSError, match=r"signature algorithms differ"):
        verify(pki, pki.proxy("alice", ac=ac))


def test_tampered_ac(pki: TestPKI) -> None:
    ac = pki.ac("alice", fqans=["/juno/Role=NULL"])
    tampered = ac.replace(b"/juno/Role=NULL", b"/juno/Role=admi")
    with pytest.raises(VOMSError, match=r"signature does not verify"):
        verify(pki, pki.proxy("alice", ac=tampered))


def test_unknown_critical_ac_extension(pki: TestPKI) -> None:
    ac = pki.ac("alice", extra_extensions=[_extension("1.2.3.4", b"\x05\x00", critical=True)])
    with pytest.raises(VOMSError, match=r"unknown critical extension 1.2.3.4"):
        verify(pki, pki.proxy("alice", ac=ac))


def test_malformed_ac(pki: TestPKI) -> None:
    proxy = make_proxy(
        pki.alice.cert,
        pki.alice.key,
        voms_extension=b"\x30\x03\x30\x01\x00",
        proxy_key=pki.proxy_key,
    )
    with pytest.raises(VOMSError, match=r"malformed"):
        verify(pki, proxy)


def test_no_trust_for_the_vo(pki: TestPKI, tmp_path: Path) -> None:
    with pytest.raises(VOMSError, match=r"not trusted|no juno/"):
        verify(pki, pki.proxy("alice", fqans=FQANS), vomsdir=tmp_path)


def test_targeted_ac(pki: TestPKI) -> None:
    # Targets ::= SEQUENCE OF Targets; Target ::= CHOICE { targetName [0] GeneralName }
    from tests.auth.pki import _seq, _tlv

    targets = _seq(_seq(_tlv(0xA0, _tlv(0x86, b"catalog.junotest.org"))))
    ac = pki.ac("alice", extra_extensions=[_extension("2.5.29.55", targets, critical=True)])
    proxy = pki.proxy("alice", ac=ac)
    assert verify(pki, proxy, target="catalog.junotest.org")[0].verified
    with pytest.raises(VOMSError, match=r"not targeted at other.host"):
        verify(pki, proxy, target="other.host")
