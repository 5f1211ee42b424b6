"""Directories, stat, list_dir and walk."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dfc.errors import (
    AlreadyExists,
    DirectoryNotEmpty,
    LFNNotFound,
    NotADirectory,
    PermissionDenied,
)
from tests.catalog.helpers import GROUP, OWNER, add, mkdirs, rec

if TYPE_CHECKING:
    from dfc.catalog import Catalog, CatalogTx

# Names that break naive LIKE prefix queries, sorting or encoding.
ODD = [
    "with space",
    "naïve-ünïcødé",
    "日本語",
    "100%",
    "a_b",
    "a%b",
    "under_score",
    "back\\slash",
    "quote'\"",
    "UPPER",
    "upper",
    "-dash",
    "emoji-🙂",
]


def test_mkdir_parents_and_attributes(tx: CatalogTx) -> None:
    res = tx.mkdir(["/juno/a/b"], parents=True, owner="bob", group="phys", mode=0o750)
    assert res.ok
    for path in ("/juno", "/juno/a", "/juno/a/b"):
        entry = tx.lookup(path)
        assert (entry.type, entry.owner, entry.group, entry.mode, entry.size) == (
            "directory",
            "bob",
            "phys",
            0o750,
            0,
        )
        assert entry.ctime.tzinfo is not None


def test_mkdir_existing_is_success(tx: CatalogTx) -> None:
    mkdirs(tx, "/juno")
    before = tx.lookup("/juno")
    res = tx.mkdir(["/juno", "/", "/juno"], parents=False, owner="x", group="y")
    assert res.ok
    assert set(res.succeeded) == {"/juno", "/"}
    assert tx.lookup("/juno").owner == before.owner


def test_mkdir_missing_parent_without_parents(tx: CatalogTx) -> None:
    res = tx.mkdir(["/a/b", "/c", "/c/d"], parents=False, owner=OWNER, group=GROUP)
    assert isinstance(res.failed["/a/b"], LFNNotFound)
    assert set(res.succeeded) == {"/c", "/c/d"}  # a parent made by the same call counts
    with pytest.raises(LFNNotFound):
        tx.lookup("/a")


def test_mkdir_file_in_the_way(tx: CatalogTx) -> None:
    add(tx, rec("/d/f"))
    res = tx.mkdir(["/d/f", "/d/f/x/y", "/d/ok"], parents=True, owner=OWNER, group=GROUP)
    assert isinstance(res.failed["/d/f"], AlreadyExists)
    assert isinstance(res.failed["/d/f/x/y"], NotADirectory)
    assert "/d/f" in str(res.failed["/d/f/x/y"])
    assert list(res.succeeded) == ["/d/ok"]
    res = tx.mkdir(["/d/f/z"], parents=False, owner=OWNER, group=GROUP)
    assert isinstance(res.failed["/d/f/z"], NotADirectory)


def test_mkdir_updates_parent_mtime(tx: CatalogTx) -> None:
    mkdirs(tx, "/p")
    before = tx.lookup("/p").mtime
    mkdirs(tx, "/p/q")
    assert tx.lookup("/p").mtime > before


def test_rmdir(tx: CatalogTx) -> None:
    mkdirs(tx, "/a/b/c", "/e")
    add(tx, rec("/f/file"))
    res = tx.rmdir(["/a/b", "/missing", "/f/file", "/", "/f", "/e"])
    assert isinstance(res.failed["/a/b"], DirectoryNotEmpty)
    assert isinstance(res.failed["/f/file"], NotADirectory)
    assert isinstance(res.failed["/"], PermissionDenied)
    assert isinstance(res.failed["/f"], DirectoryNotEmpty)
    assert set(res.succeeded) == {"/missing", "/e"}
    # deeper first: a directory and its only subdirectory go together
    assert tx.rmdir(["/a", "/a/b", "/a/b/c"]).ok
    assert not tx.stat(["/a", "/e"]).succeeded
    assert [e.lfn for e in tx.list_dir("/")] == ["/f"]


def test_stat_bulk(tx: CatalogTx) -> None:
    add(tx, rec("/d/f1", ses=("TAPE", "DISK")), rec("/d/f2", ses=()))
    res = tx.stat(["/d", "/d/f1", "/d/f2", "/nope", "/d/f1/x"])
    assert res.succeeded["/d"].is_dir
    f1 = res.succeeded["/d/f1"]
    assert (f1.type, f1.size, f1.adler32, f1.guid, f1.owner, f1.mode) == (
        "file",
        10,
        "0001abcd",
        "guid-/d/f1",
        OWNER,
        0o644,
    )
    assert [r.se for r in f1.replicas] == ["DISK", "TAPE"]
    assert f1.replicas[0].pfn == "file:///data/disk/d/f1"
    assert f1.replicas[1].pfn == "root://tape.example.org//store/d/f1"
    assert res.succeeded["/d/f2"].replicas == ()
    assert set(res.failed) == {"/nope", "/d/f1/x"}
    assert all(isinstance(e, LFNNotFound) for e in res.failed.values())


def test_lookup_missing(tx: CatalogTx) -> None:
    with pytest.raises(LFNNotFound, match="/x"):
        tx.lookup("/x")


def test_stat_many_items_over_chunks(tx: CatalogTx) -> None:
    n = 4500  # more than two chunks
    tx.add_files([rec(f"/big/f{i:05d}") for i in range(n)], owner=OWNER, group=GROUP)
    lfns = [f"/big/f{i:05d}" for i in range(0, n)] + ["/big/none"]
    res = tx.stat(lfns)
    assert len(res.succeeded) == n
    assert list(res.failed) == ["/big/none"]


def test_list_dir_sorted_dirs_and_files(tx: CatalogTx) -> None:
    mkdirs(tx, "/d/b-dir", "/d/z-dir", "/d/B")
    add(tx, rec("/d/a"), rec("/d/c", ses=("DISK", "TAPE")), rec("/d/y"), rec("/d/b-dir/inner"))
    entries = list(tx.list_dir("/d"))
    assert [e.lfn for e in entries] == ["/d/B", "/d/a", "/d/b-dir", "/d/c", "/d/y", "/d/z-dir"]
    assert [e.type for e in entries] == [
        "directory",
        "file",
        "directory",
        "file",
        "file",
        "directory",
    ]
    assert all(e.replicas == () for e in entries)
    with_reps = {e.lfn: e for e in tx.list_dir("/d", with_replicas=True)}
    assert [r.se for r in with_reps["/d/c"].replicas] == ["DISK", "TAPE"]
    assert [r.se for r in with_reps["/d/a"].replicas] == ["DISK"]
    assert with_reps["/d/b-dir"].replicas == ()
    assert [e.lfn for e in tx.list_dir("/d", with_replicas=True)] == [e.lfn for e in entries]


def test_list_dir_root_and_empty(tx: CatalogTx) -> None:
    assert list(tx.list_dir("/")) == []
    mkdirs(tx, "/e")
    add(tx, rec("/top"))
    assert [e.lfn for e in tx.list_dir("/")] == ["/e", "/top"]
    assert list(tx.list_dir("/e")) == []


def test_list_dir_errors_before_iteration(tx: CatalogTx) -> None:
    add(tx, rec("/f"))
    with pytest.raises(NotADirectory):
        tx.list_dir("/f")  # raised by the call itself, not on first next()
    with pytest.raises(LFNNotFound):
        tx.list_dir("/missing")
    with pytest.raises(NotADirectory):
        tx.walk("/f")
    with pytest.raises(LFNNotFound):
        tx.walk("/missing")


def test_list_dir_streams(catalog: Catalog) -> None:
    n = 5000
    with catalog.transaction() as tx:
        tx.add_files([rec(f"/s/f{i:05d}", ses=()) for i in range(n)], owner=OWNER, group=GROUP)
    with catalog.reader() as tx:
        it = tx.list_dir("/s")
        first = [next(it) for _ in range(3)]
        assert [e.lfn for e in first] == ["/s/f00000", "/s/f00001", "/s/f00002"]
        rest = list(it)
        assert len(rest) == n - 3
        assert rest[-1].lfn == f"/s/f{n - 1:05d}"
        # an abandoned iterator does not break the transaction
        partial = tx.list_dir("/s", with_replicas=True)
        next(partial)
        del partial
        assert tx.lookup("/s/f00010").size == 10


@pytest.mark.parametrize("name", ODD)
def test_odd_names_round_trip(tx: CatalogTx, name: str) -> None:
    d = f"/odd/{name}"
    add(tx, rec(f"{d}/{name}"), rec(f"/odd/{name}x"))
    entry = tx.lookup(f"{d}/{name}")
    assert entry.lfn == f"{d}/{name}"
    assert entry.replicas[0].path == f"{d}/{name}"
    assert [e.lfn for e in tx.list_dir(d)] == [f"{d}/{name}"]
    assert [e.lfn for e in tx.walk(d)] == [f"{d}/{name}"]


def test_names_are_case_sensitive_and_sorted_by_code_point(tx: CatalogTx) -> None:
    for name in ODD:
        add(tx, rec(f"/o/{name}"))
    assert [e.lfn.removeprefix("/o/") for e in tx.list_dir("/o")] == sorted(ODD)
    assert tx.lookup("/o/UPPER").lfn == "/o/UPPER"


def test_like_wildcards_do_not_leak_into_prefix_queries(tx: CatalogTx) -> None:
    # "/a_b" and "/a%b" must not match siblings "/axb", "/aXXb", nor "/A_B".
    for top in ("/a_b", "/a%b", "/axb", "/aXXb", "/A_B", "/a_b0", "/a_b c"):
        add(tx, rec(f"{top}/f"))
    assert [e.lfn for e in tx.walk("/a_b")] == ["/a_b/f"]
    assert [e.lfn for e in tx.walk("/a%b")] == ["/a%b/f"]
    tx.move("/a_b", "/moved")
    assert tx.lookup("/axb/f").lfn == "/axb/f"
    assert tx.lookup("/a_b0/f").lfn == "/a_b0/f"
    assert [e.lfn for e in tx.walk("/moved")] == ["/moved/f"]


def test_walk_tree_order(tx: CatalogTx) -> None:
    mkdirs(tx, "/w/empty")
    add(
        tx,
        rec("/w/z"),
        rec("/w/a/x"),
        rec("/w/a b/y"),
        rec("/w/a/sub/deep"),
        rec("/w/a0"),
        rec("/top"),
    )
    got = [e.lfn for e in tx.walk("/w")]
    assert got == [
        "/w/a",
        "/w/a/sub",
        "/w/a/sub/deep",
        "/w/a/x",
        "/w/a b",
        "/w/a b/y",
        "/w/a0",
        "/w/empty",
        "/w/z",
    ]
    assert [e.lfn for e in tx.walk("/w", files_only=True)] == [
        "/w/a/sub/deep",
        "/w/a/x",
        "/w/a b/y",
        "/w/a0",
        "/w/z",
    ]
    everything = [e.lfn for e in tx.walk("/")]
    assert everything[0] == "/top"
    assert everything[1:] == ["/w", *got]
    assert [e.type for e in tx.walk("/w/a")] == ["directory", "file", "file"]


def test_find_guid(tx: CatalogTx) -> None:
    add(tx, rec("/g/f", guid="G-1", ses=("DISK", "TAPE")))
    entry = tx.find_guid("G-1")
    assert entry.lfn == "/g/f"
    assert len(entry.replicas) == 2
    with pytest.raises(LFNNotFound):
        tx.find_guid("G-2")
