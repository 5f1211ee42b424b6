"""Authorisation in the API layer: POSIX-like bits, policies, homes, credentials.

Every rule is checked on a real (SQLite) catalogue through the guarded transaction,
the way both embedded mode and the server use it.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dfc.api._authz import Policy, under
from dfc.api._guarded import ApiTx, GuardedTx
from dfc.api._remote import RemoteTx
from dfc.auth import Identity, InsufficientRights, ReadOnlyCredential, ScopeDenied
from dfc.auth.tokens import TokenScopes
from dfc.catalog import CatalogTx
from dfc.errors import ConfigError, InvalidArgument, InvalidLFN, LFNNotFound
from dfc.lfn import validate as lfn_validate
from dfc.models import FileRecord, Replica, SEInfo
from tests.server.helpers import ALICE, BOB, ISSUER, PROD, VO_ADMIN

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from dfc.catalog import Catalog

    Guarded = Callable[[Identity], AbstractContextManager[GuardedTx]]

HOME = "/juno/user/a/alice"


def x509(dn: str, *fqans: str, limited: bool = False) -> Identity:
    base = Identity.local("x", fqans=fqans)
    return Identity(
        dn=dn, vo=base.vo, fqans=base.fqans, groups=base.groups, roles=base.roles,
        limited=limited, via="x509",
    )  # fmt: skip


ALICE_ID = x509(ALICE, "/juno")
BOB_ID = x509(BOB, "/juno")
ADMIN = Identity.local("root")


def rec(lfn: str, size: int = 10, **kw: object) -> FileRecord:
    return FileRecord(lfn, size, "0000000a", None, "", (Replica("DISK", ""),), **kw)  # type: ignore[arg-type]


def test_every_catalogue_operation_is_guarded_and_forwarded() -> None:
    public = {
        name
        for cls in (CatalogTx, ApiTx)
        for name, _ in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }
    for cls in (GuardedTx, RemoteTx):
        missing = sorted(n for n in public if getattr(cls, n) is getattr(CatalogTx, n, None)
                         or getattr(cls, n) is getattr(ApiTx, n, None))  # fmt: skip
        assert not missing, f"{cls.__name__} does not override {missing}"


def test_unwrapped_operations_fail_closed(guarded: Guarded) -> None:
    with guarded(ALICE_ID) as tx, pytest.raises(AttributeError):
        CatalogTx.stat(tx, ["/juno"])  # the base has no connection: nothing runs unchecked


def test_home_created_on_first_use_and_owned(guarded: Guarded) -> None:
    with guarded(ALICE_ID) as tx:
        res = tx.mkdir([f"{HOME}/run1"], parents=True, owner="mallory", group="evil", mode=0o777)
        assert res.ok, res.failed
        home, run1 = (tx.lookup(p) for p in (HOME, f"{HOME}/run1"))
        assert (home.owner, home.group, home.mode) == ("alice", "juno", 0o755)
        assert (run1.owner, run1.group, run1.mode) == ("alice", "juno", 0o755)  # umask 022
        assert tx.lookup("/juno/user/a").owner == "root"
        assert tx.add_files([rec(f"{HOME}/run1/f.root", owner="mallory")], owner="x", group="y").ok
        assert tx.lookup(f"{HOME}/run1/f.root").owner == "alice"


def test_no_writing_in_someone_elses_home_or_the_vo_root(guarded: Guarded) -> None:
    with guarded(BOB_ID) as tx:
        assert tx.mkdir(["/juno/user/b/bob/x"], parents=True, owner="", group="").ok
    with guarded(ALICE_ID) as tx:
        assert tx.mkdir([HOME], parents=False, owner="", group="").ok
        res = tx.mkdir(
            ["/juno/user/b/bob/y", "/juno/data", "/juno/user/a/alice2", "/atlas"],
            parents=True, owner="", group="",
        )  # fmt: skip
        assert not res.succeeded
        assert all(isinstance(e, InsufficientRights) for e in res.failed.values())
        assert "protected" in str(res.failed["/juno/data"])
        assert "no write permission on /juno/user/a" in str(res.failed["/juno/user/a/alice2"])
        add = tx.add_files([rec("/juno/user/b/bob/x/f"), rec(f"{HOME}/f")], owner="", group="")
        assert list(add.succeeded) == [f"{HOME}/f"]
        assert isinstance(add.failed["/juno/user/b/bob/x/f"], InsufficientRights)
        with pytest.raises(InsufficientRights):
            tx.move("/juno/user/b/bob/x", f"{HOME}/x")
        with pytest.raises(InsufficientRights):
            tx.move(f"{HOME}/f", "/juno/user/b/bob/f")
        tx.move(f"{HOME}/f", f"{HOME}/g")
        assert isinstance(tx.rmdir(["/juno/user"]).failed["/juno/user"], InsufficientRights)


def test_production_role(guarded: Guarded) -> None:
    with guarded(x509(ALICE, "/juno", PROD)) as tx:
        assert tx.mkdir(["/juno/production/muon/prd001"], parents=True, owner="", group="").ok
        assert tx.whoami().account is None
    with guarded(x509(ALICE, PROD, "/juno")) as tx:  # the primary FQAN chooses the account
        assert tx.whoami().account == "junoprd"
    with guarded(BOB_ID) as tx:
        res = tx.mkdir(["/juno/production/muon/x"], parents=True, owner="", group="")
        assert "only /juno/production/Role=production" in str(res.failed["/juno/production/muon/x"])
        assert tx.stat(["/juno/production/muon"]).ok  # reading is for everyone
    with guarded(ADMIN) as tx:
        tx.add_member("juno_prod", "bob")  # a production manager by group property
    with guarded(BOB_ID) as tx:
        assert tx.mkdir(["/juno/production/muon/x"], parents=True, owner="", group="").ok


def test_read_bits_hide_and_prune(guarded: Guarded) -> None:
    with guarded(ALICE_ID) as tx:
        tx.mkdir([f"{HOME}/private/deep", f"{HOME}/pub"], parents=True, owner="", group="")
        tx.add_files([rec(f"{HOME}/private/deep/f"), rec(f"{HOME}/pub/f")], owner="", group="")
        assert tx.chmod([f"{HOME}/private"], 0o700).ok
    with guarded(BOB_ID) as tx:
        assert tx.stat([f"{HOME}/private"]).ok  # visible in a readable directory
        with pytest.raises(InsufficientRights, match="no read permission"):
            list(tx.list_dir(f"{HOME}/private"))
        denied = tx.stat([f"{HOME}/private/deep/f", f"{HOME}/private/none"])
        assert all(isinstance(e, InsufficientRights) for e in denied.failed.values())
        assert isinstance(tx.replicas([f"{HOME}/private/deep/f"]).failed[f"{HOME}/private/deep/f"],
                          InsufficientRights)  # fmt: skip
        seen = [e.lfn for e in tx.walk(HOME)]
        assert seen == [f"{HOME}/private", f"{HOME}/pub", f"{HOME}/pub/f"]
        assert [e.lfn for e in tx.walk(HOME, files_only=True)] == [f"{HOME}/pub/f"]
    with guarded(ADMIN) as tx:
        assert len(list(tx.walk(HOME))) == 5


def test_chmod_owner_only_chown_admin_only(guarded: Guarded) -> None:
    with guarded(ALICE_ID) as tx:
        tx.mkdir([f"{HOME}/d"], parents=True, owner="", group="")
    with guarded(BOB_ID) as tx:
        assert isinstance(tx.chmod([f"{HOME}/d"], 0o777).failed[f"{HOME}/d"], InsufficientRights)
        with pytest.raises(InsufficientRights, match="administrators only"):
            tx.chown([f"{HOME}/d"], owner="bob")
    with guarded(ALICE_ID) as tx:
        with pytest.raises(InsufficientRights):
            tx.chown([f"{HOME}/d"], group="juno_prod")
        assert tx.chmod([f"{HOME}/d"], 0o750).ok
        with pytest.raises(InvalidArgument):
            tx.chmod([f"{HOME}/d"], 0o10000)
    with guarded(ADMIN) as tx:
        assert tx.chown([HOME], owner="bob", group="juno_prod", recursive=True).ok
        assert (tx.lookup(f"{HOME}/d").owner, tx.lookup(f"{HOME}/d").group) == ("bob", "juno_prod")
        assert tx.lookup(f"{HOME}/d").mode == 0o750
    with guarded(ALICE_ID) as tx:
        assert isinstance(tx.chmod([HOME], 0o700, recursive=True).failed[HOME], InsufficientRights)


def test_limited_proxy_reads_but_never_writes(guarded: Guarded) -> None:
    with guarded(x509(ALICE, "/juno", PROD, limited=True)) as tx:
        assert tx.stat(["/juno/user"]).ok
        res = tx.mkdir([f"{HOME}/x", "/juno/production/x"], parents=True, owner="", group="")
        assert all(isinstance(e, ReadOnlyCredential) for e in res.failed.values())
        assert len(res.failed) == 2
        assert tx.stat([HOME]).failed  # the home was not created either
        with pytest.raises(ReadOnlyCredential):
            tx.add_user("eve")


def test_unregistered_identity_reads_only(guarded: Guarded) -> None:
    with guarded(x509("/DC=org/DC=junotest/O=JUNO/CN=Nobody", "/juno")) as tx:
        who = tx.whoami()
        assert (who.user, who.group, who.groups) == (None, "juno", ("juno",))
        assert tx.stat(["/juno/user"]).ok
        res = tx.mkdir(["/juno/user/n/nobody"], parents=True, owner="", group="")
        assert "not registered" in str(res.failed["/juno/user/n/nobody"])


def test_token_scopes(guarded: Guarded) -> None:
    scopes = TokenScopes.parse(
        "storage.read:/ storage.create:/user/a/alice storage.modify:/user/a/alice/mod",
        base_path="/juno",
    )
    token = Identity(
        dn=f"{ISSUER}#alice-sub", vo="juno", fqans=("/juno",), groups=("/juno",), via="token",
        user="alice-sub", issuer=ISSUER, scopes=scopes,
    )  # fmt: skip
    with guarded(token) as tx:
        assert tx.whoami().user == "alice"
        assert tx.add_files([rec(f"{HOME}/new"), rec(f"{HOME}/mod/new")], owner="", group="").ok
        again = tx.add_files([rec(f"{HOME}/new", size=11)], owner="", group="", overwrite=True)
        assert isinstance(again.failed[f"{HOME}/new"], ScopeDenied)  # create may not overwrite
        assert isinstance(tx.remove_files([f"{HOME}/new"]).failed[f"{HOME}/new"], ScopeDenied)
        assert tx.remove_files([f"{HOME}/mod/new"]).ok
        out = tx.mkdir([f"{HOME}2", "/juno/user/b/x"], parents=True, owner="", group="")
        assert all(isinstance(e, ScopeDenied) for e in out.failed.values()) and len(out.failed) == 2
        with pytest.raises(ScopeDenied):
            tx.add_se(SEInfo("X", "file:///x"))


def test_token_without_read_scope_sees_nothing_outside() -> None:
    scopes = TokenScopes.parse("storage.read:/user/a/alice", base_path="/juno")
    assert scopes is not None and scopes.allows("read", HOME) and not scopes.allows("read", "/juno")


def test_administration_needs_admin(guarded: Guarded) -> None:
    with guarded(ALICE_ID) as tx:
        for call in (
            lambda: tx.add_user("eve"),
            lambda: tx.list_users(),
            lambda: tx.add_group("g"),
            lambda: tx.map_fqan("/juno", "juno"),
            lambda: tx.import_gridmap(""),
            lambda: tx.add_se(SEInfo("X", "file:///x")),
            lambda: tx.update_se("DISK", read=False),
            lambda: tx.remove_se("DISK"),
        ):
            with pytest.raises(InsufficientRights, match="administrators only"):
                call()
        assert [s.name for s in tx.list_ses()] == ["DISK"]
    with guarded(x509(ALICE, "/juno", VO_ADMIN)) as tx:  # admin through an FQAN rule
        assert tx.add_user("eve", dns=["/DC=org/CN=Eve"]).name == "eve"
        assert "admin" in tx.whoami().properties
    with guarded(ADMIN) as tx:
        assert {u.name for u in tx.list_users()} >= {"alice", "bob", "eve", "root"}


def test_invalid_names_fail_per_item(guarded: Guarded) -> None:
    with guarded(ALICE_ID) as tx:
        res = tx.stat(["/juno/../etc/passwd", "relative", "/juno/user"])
        assert list(res.succeeded) == ["/juno/user"]
        assert all(
            isinstance(res.failed[k], InvalidLFN) for k in ("/juno/../etc/passwd", "relative")
        )
        with pytest.raises(InvalidLFN):
            tx.move("/juno/user/a/alice/../../b", "/x")
        with pytest.raises(LFNNotFound):
            tx.lookup("/juno/none")


def test_access_asks_before_bytes_move(guarded: Guarded) -> None:
    with guarded(ALICE_ID) as tx:
        tx.add_files([rec(f"{HOME}/f")], owner="", group="")
    with guarded(BOB_ID) as tx:
        lfns = [f"{HOME}/f", f"{HOME}/g", "/juno/user/b/bob/f"]
        assert list(tx.access(lfns, "read").succeeded) == lfns[:2] + lfns[2:]
        assert list(tx.access(lfns, "create").failed) == [f"{HOME}/f", f"{HOME}/g"]
        assert list(tx.access(lfns, "remove").failed) == [f"{HOME}/f"]
        assert list(tx.access(lfns, "write").failed) == [f"{HOME}/f"]
        with pytest.raises(InvalidArgument):
            tx.access(lfns, "delete")  # type: ignore[arg-type]


def test_policy_from_config() -> None:
    policy = Policy.from_config(
        {"protected": ["/", "/lhcb"], "homes": "/lhcb/user", "umask": 0o027,
         "roles": {"/lhcb/prod": ["/lhcb/Role=production"]}}
    )  # fmt: skip
    assert policy.home("bob") == "/lhcb/user/b/bob"
    assert policy.role_for("/lhcb/prod/x") == ("/lhcb/prod", ("/lhcb/Role=production",))
    assert policy.role_for("/lhcb/prod") is None and policy.role_for("/lhcb/production") is None
    assert Policy.from_config({"homes": ""}).home("bob") is None
    for bad in ({"x": 1}, {"protected": "/"}, {"umask": "022"}, {"roles": {"/a": []}},
                {"roles": {"/a/../b": ["/a"]}}, {"roles": {"/a": ["not-fqan"]}}):  # fmt: skip
        with pytest.raises(ConfigError):
            Policy.from_config(bad)
    assert under("/juno/user", "/juno") and not under("/junox", "/juno") and under("/a", "/")


def test_facade_checks_before_touching_storage(catalog: Catalog, tmp_path: object) -> None:
    from pathlib import Path

    from dfc import DFC, Settings

    base = Path(str(tmp_path))
    settings = Settings.load(catalog=str(catalog.engine.url))
    src = base / "data.bin"
    src.write_bytes(b"x" * 100)
    with DFC(settings, identity=Identity.local("alice", fqans=["/juno"])) as alice:
        assert alice.put([src], f"{HOME}/run/", se="DISK").ok
    on_disk = base / "se" / HOME.lstrip("/") / "run" / "data.bin"
    assert on_disk.read_bytes() == b"x" * 100
    with DFC(settings, identity=Identity.local("bob", fqans=["/juno"])) as bob:
        res = bob.rm([f"{HOME}/run/data.bin"])
        assert isinstance(res.failed[f"{HOME}/run/data.bin"], InsufficientRights)
        put = bob.put([src], f"{HOME}/run/other.bin", se="DISK")
        assert isinstance(put.failed[f"{HOME}/run/other.bin"], InsufficientRights)
    assert on_disk.exists() and not (on_disk.parent / "other.bin").exists()


def test_every_guarded_operation_is_served() -> None:
    from dfc.api._service import OPS

    public = {
        name
        for cls in (CatalogTx, ApiTx)
        for name, _ in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }
    assert set(OPS) == public


@given(st.text(alphabet=st.sampled_from(["/", ".", "a", "é", "\x00", "\x7f", " "]), max_size=12))
def test_the_fast_lfn_check_agrees_with_the_rules(name: str) -> None:
    from dfc.api._bulk import validate_all
    from dfc.models import BulkResult

    try:
        lfn_validate(name)
        expected = [name]
    except InvalidLFN:
        expected = []
    assert validate_all([name], BulkResult()) == expected
