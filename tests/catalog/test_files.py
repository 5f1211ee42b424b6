"""add_files and remove_files: idempotence rules, errors, bulk partial results."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from dfc.errors import (
    InvalidArgument,
    IsADirectory,
    MetadataMismatch,
    NotADirectory,
    ReplicaExists,
    SENotFound,
)
from dfc.models import FileRecord, Replica
from tests.catalog.helpers import GROUP, OWNER, add, mkdirs, rec

if TYPE_CHECKING:
    from dfc.catalog import Catalog, CatalogTx


def test_add_creates_parents_with_given_identity(tx: CatalogTx) -> None:
    res = tx.add_files([rec("/juno/raw/run1/f")], owner="bob", group="phys")
    assert res.ok
    assert list(res.succeeded) == ["/juno/raw/run1/f"]
    d = tx.lookup("/juno/raw/run1")
    assert (d.owner, d.group, d.mode) == ("bob", "phys", 0o775)
    f = tx.lookup("/juno/raw/run1/f")
    assert (f.owner, f.group, f.mode, f.status) == ("bob", "phys", 0o644, "good")


def test_record_identity_overrides_default(tx: CatalogTx) -> None:
    r = replace(rec("/f"), owner="carol", group="ops", mode=0o600)
    add(tx, r)
    f = tx.lookup("/f")
    assert (f.owner, f.group, f.mode) == ("carol", "ops", 0o600)


def test_checksums_are_normalised(tx: CatalogTx) -> None:
    add(tx, rec("/f", adler32="ABCD", xxh3="0xFF"))
    f = tx.lookup("/f")
    assert (f.adler32, f.xxh3) == ("0000abcd", "00000000000000ff")


@pytest.mark.parametrize(
    ("adler32", "xxh3", "stored"),
    [
        ("ABCD1234", "00000000000000ff", ("abcd1234", "00000000000000ff")),
        ("0000abcd", "0XFF", ("0000abcd", "00000000000000ff")),
        ("0000abcd", None, ("0000abcd", None)),
        ("0000abcd", "", ("0000abcd", None)),
        (0xABCD, "00000000000000ff", ("0000abcd", "00000000000000ff")),
        # the right length for a line of its own, yet not one: checked alone
        ("abc\nabcd", "00000000000000ff", None),
        ("abcdabcd\nabcdabcd", "00000000000000ff", None),
        ("0000abcd", "00000000000000ff\n00000000000000ff", None),
        (" abcdef\n", "00000000000000ff", ("00abcdef", "00000000000000ff")),
    ],
)
def test_one_odd_checksum_among_normal_ones(
    tx: CatalogTx, adler32: Any, xxh3: str | None, stored: tuple[str, str | None] | None
) -> None:
    """Normal checksums are checked a chunk at a time; one odd value is still seen."""
    records = [rec(f"/d/f{i}", adler32=f"{i:08x}", xxh3=f"{i:016x}") for i in range(20)]
    records.insert(7, replace(rec("/d/odd"), adler32=adler32, xxh3=xxh3))
    res = tx.add_files(records, owner=OWNER, group=GROUP)
    assert len(res.succeeded) == 20 + (stored is not None)
    if stored is None:
        assert isinstance(res.failed["/d/odd"], InvalidArgument)
        assert not tx.stat(["/d/odd"]).succeeded
    else:
        f = tx.lookup("/d/odd")
        assert (f.adler32, f.xxh3) == stored
    f = tx.lookup("/d/f19")
    assert (f.adler32, f.xxh3) == ("00000013", "0000000000000013")


def test_replicas_of_plain_and_other_records_in_one_call(tx: CatalogTx) -> None:
    """Replicas at the LFN (or an empty path) and elsewhere, good and bad, in one chunk."""
    records = [rec(f"/p/f{i}", ses=("DISK", "TAPE")) for i in range(10)]
    records.append(FileRecord("/p/empty", 1, "1", None, "g1", (Replica("DISK", ""),)))
    records.append(
        FileRecord(
            "/p/other",
            1,
            "1",
            None,
            "g2",
            (Replica("DISK", "/moved/x"), Replica("TAPE", "/p/other", status="bad")),
        )
    )
    assert tx.add_files(records, owner=OWNER, group=GROUP).ok
    got = tx.replicas([r.lfn for r in records]).succeeded
    assert [(r.se, r.path, r.status) for r in got["/p/f3"]] == [
        ("DISK", "/p/f3", "good"),
        ("TAPE", "/p/f3", "good"),
    ]
    assert [(r.se, r.path) for r in got["/p/empty"]] == [("DISK", "/p/empty")]
    assert [(r.se, r.path, r.status) for r in got["/p/other"]] == [
        ("DISK", "/moved/x", "good"),
        ("TAPE", "/p/other", "bad"),
    ]
    # registered again, the same records are a success and add nothing
    assert tx.add_files(records, owner=OWNER, group=GROUP).ok
    assert tx.se_replica_count("DISK") == 12


def test_empty_guid_gets_one(tx: CatalogTx) -> None:
    add(tx, FileRecord("/f", 1, "1", None, ""))
    guid = tx.lookup("/f").guid
    assert guid
    # an empty GUID matches whatever is registered
    assert tx.add_files([FileRecord("/f", 1, "1", None, "")], owner=OWNER, group=GROUP).ok
    assert tx.lookup("/f").guid == guid


def test_identical_again_is_success_and_adds_new_replicas(tx: CatalogTx) -> None:
    add(tx, rec("/f", adler32="0001abcd"))
    # adler32 compared as integers: leading zeros do not matter
    again = rec("/f", adler32="1ABCD", ses=("DISK", "TAPE"))
    res = tx.add_files([again], owner=OWNER, group=GROUP)
    assert res.ok
    assert [r.se for r in tx.lookup("/f").replicas] == ["DISK", "TAPE"]
    assert tx.add_files([again], owner=OWNER, group=GROUP).ok
    assert len(tx.lookup("/f").replicas) == 2


def test_identical_again_with_other_replica_path(tx: CatalogTx) -> None:
    add(tx, rec("/f"))
    other = replace(rec("/f"), replicas=(Replica("DISK", "/elsewhere"),))
    res = tx.add_files([other], owner=OWNER, group=GROUP)
    assert isinstance(res.failed["/f"], ReplicaExists)
    assert tx.lookup("/f").replicas[0].path == "/f"


@pytest.mark.parametrize(
    "change",
    [{"size": 11}, {"adler32": "0001abce"}, {"guid": "other"}, {"xxh3": "2"}],
)
def test_mismatch(tx: CatalogTx, change: dict[str, Any]) -> None:
    add(tx, rec("/f", xxh3="1"))
    res = tx.add_files([replace(rec("/f", xxh3="1"), **change)], owner=OWNER, group=GROUP)
    assert isinstance(res.failed["/f"], MetadataMismatch)
    assert tx.lookup("/f").size == 10


def test_overwrite_replaces_file_and_replicas(tx: CatalogTx) -> None:
    add(tx, rec("/f", ses=("DISK", "TAPE")))
    new = rec("/f", size=99, guid="new", ses=("TAPE",))
    res = tx.add_files([new], owner=OWNER, group=GROUP, overwrite=True)
    assert res.ok
    f = tx.lookup("/f")
    assert (f.size, f.guid, [r.se for r in f.replicas]) == (99, "new", ["TAPE"])
    assert tx.se_replica_count("DISK") == 0


def test_directory_at_lfn(tx: CatalogTx) -> None:
    mkdirs(tx, "/d")
    res = tx.add_files([rec("/d")], owner=OWNER, group=GROUP, overwrite=True)
    assert isinstance(res.failed["/d"], IsADirectory)


def test_file_where_parent_should_be(tx: CatalogTx) -> None:
    add(tx, rec("/a/f"))
    res = tx.add_files([rec("/a/f/g"), rec("/a/f/h/i")], owner=OWNER, group=GROUP)
    assert isinstance(res.failed["/a/f/g"], NotADirectory)
    assert isinstance(res.failed["/a/f/h/i"], NotADirectory)
    assert "/a/f" in str(res.failed["/a/f/h/i"])


def test_unknown_se_and_bad_records(tx: CatalogTx) -> None:
    res = tx.add_files(
        [
            rec("/ok"),
            rec("/unknown-se", ses=("NOPE",)),
            rec("/neg", size=-1),
            rec("/bad-adler", adler32="xyz"),
            FileRecord("/two", 1, "1", None, "g", (Replica("DISK", "/a"), Replica("DISK", "/b"))),
            FileRecord("/status", 1, "1", None, "g", (Replica("DISK", "/a", status="lost"),)),
            FileRecord("/relative", 1, "1", None, "g", (Replica("DISK", "rel"),)),
        ],
        owner=OWNER,
        group=GROUP,
    )
    assert list(res.succeeded) == ["/ok"]
    assert isinstance(res.failed.pop("/unknown-se"), SENotFound)
    assert all(isinstance(e, InvalidArgument) for e in res.failed.values())
    assert set(res.failed) == {"/neg", "/bad-adler", "/two", "/status", "/relative"}
    assert not tx.stat(["/unknown-se", "/neg"]).succeeded


def test_bulk_partial_results_never_abort_others(tx: CatalogTx) -> None:
    add(tx, rec("/d/exists"))
    mkdirs(tx, "/d/dir")
    records = [rec(f"/d/new{i}") for i in range(5)]
    records += [rec("/d/exists", size=1), rec("/d/dir"), rec("/d/new2/under")]
    res = tx.add_files(records, owner=OWNER, group=GROUP)
    assert set(res.succeeded) == {f"/d/new{i}" for i in range(5)}
    assert set(res.failed) == {"/d/exists", "/d/dir", "/d/new2/under"}
    assert len(list(tx.list_dir("/d"))) == 7


def test_same_lfn_twice_in_one_call(tx: CatalogTx) -> None:
    res = tx.add_files(
        [rec("/f"), rec("/f", ses=("TAPE",)), rec("/f", size=5)], owner=OWNER, group=GROUP
    )
    assert isinstance(res.failed["/f"], MetadataMismatch)
    assert [r.se for r in tx.lookup("/f").replicas] == ["DISK", "TAPE"]


def test_many_files_many_directories(tx: CatalogTx) -> None:
    records = [rec(f"/m/d{i % 7}/sub{i % 3}/f{i}", ses=("DISK", "TAPE")) for i in range(5000)]
    res = tx.add_files(records, owner=OWNER, group=GROUP)
    assert res.ok
    assert len(res.succeeded) == 5000
    assert sum(1 for e in tx.walk("/m", files_only=True)) == 5000
    assert tx.se_replica_count("TAPE") == 5000
    assert tx.add_files(records, owner=OWNER, group=GROUP).ok  # idempotent in bulk


def test_add_updates_directory_mtime(tx: CatalogTx) -> None:
    mkdirs(tx, "/d")
    before = tx.lookup("/d").mtime
    add(tx, rec("/d/f"))
    after = tx.lookup("/d").mtime
    assert after > before
    tx.remove_files(["/d/f"])
    assert tx.lookup("/d").mtime > after


def test_remove_files(tx: CatalogTx) -> None:
    add(tx, rec("/d/a", ses=("DISK", "TAPE")), rec("/d/b"))
    res = tx.remove_files(["/d/a", "/d/missing", "/d", "/d/a"])
    assert set(res.succeeded) == {"/d/a", "/d/missing"}
    assert isinstance(res.failed["/d"], IsADirectory)
    assert [e.lfn for e in tx.list_dir("/d")] == ["/d/b"]
    assert tx.se_replica_count("TAPE") == 0
    assert tx.se_replica_count("DISK") == 1


def test_remove_then_re_add(tx: CatalogTx) -> None:
    add(tx, rec("/f"))
    tx.remove_files(["/f"])
    add(tx, rec("/f", size=3))
    assert tx.lookup("/f").size == 3


def test_write_outside_transaction_visible_to_next(catalog: Catalog) -> None:
    with catalog.transaction() as tx:
        add(tx, rec("/f", ses=()))
    with catalog.reader() as tx:
        assert tx.lookup("/f").size == 10


def test_bulk_mix_of_new_identical_and_mismatching_over_chunks(tx: CatalogTx) -> None:
    # Registered before: every third file; half of those now come with another size.
    old = [rec(f"/m/d{i % 7}/f{i:05d}") for i in range(0, 4500, 3)]
    add(tx, *old)
    again = [
        rec(f"/m/d{i % 7}/f{i:05d}", size=11 if i % 2 else 10, ses=("DISK", "TAPE"))
        for i in range(4500)
    ]
    res = tx.add_files(again, owner=OWNER, group=GROUP)
    clash = {f"/m/d{i % 7}/f{i:05d}" for i in range(0, 4500, 3) if i % 2}
    assert set(res.failed) == clash
    assert all(isinstance(e, MetadataMismatch) for e in res.failed.values())
    assert len(res.succeeded) == 4500 - len(clash)
    got = tx.replicas([r.lfn for r in again]).succeeded
    for r in again:
        ses = [rep.se for rep in got[r.lfn]]
        assert ses == (["DISK"] if r.lfn in clash else ["DISK", "TAPE"]), r.lfn
    assert tx.stat([r.lfn for r in again]).ok
    assert tx.se_replica_count("TAPE") == 4500 - len(clash)


def test_directory_made_earlier_in_the_same_call_is_not_a_file(tx: CatalogTx) -> None:
    # /s/x becomes a directory (for /s/x/y) before the record /s/x is looked at.
    filler = [rec(f"/s/fill{i:05d}") for i in range(2500)]
    res = tx.add_files(
        [rec("/s/x/y"), *filler, rec("/s/x"), rec("/s/z/w"), *filler[:10], rec("/s/z")],
        owner=OWNER,
        group=GROUP,
    )
    assert isinstance(res.failed["/s/x"], IsADirectory)
    assert isinstance(res.failed["/s/z"], IsADirectory)
    assert len(res.succeeded) == 2502
    assert tx.lookup("/s/x").type == "directory"


def test_lfns_naming_directories_among_many_subdirectories(tx: CatalogTx) -> None:
    # More subdirectories than records: the lookup falls back to the LFNs themselves.
    mkdirs(tx, *[f"/t/sub{i:04d}" for i in range(300)])
    res = tx.add_files([rec("/t/sub0007"), rec("/t/new")], owner=OWNER, group=GROUP)
    assert isinstance(res.failed["/t/sub0007"], IsADirectory)
    assert list(res.succeeded) == ["/t/new"]


def test_replica_rows_of_every_shape_of_bulk_registration(tx: CatalogTx) -> None:
    # Calls whose replicas are all "good" at their LFNs at the same SEs (from 4 files
    # on, their rows are made in SQL), at the top directory too, a call of fewer
    # files, and a call mixing other shapes.
    shapes = [
        [rec(f"/p{i}", ses=("DISK", "TAPE")) for i in range(5)],
        [rec(f"/q/f{i}", ses=("DISK", "TAPE")) for i in range(2)],
        [rec(f"/p/d{i % 3}/f{i}", ses=("DISK", "TAPE")) for i in range(30)],
        [rec(f"/p/t{i}", ses=("TAPE",)) for i in range(4)],
        [rec(f"/p/none{i}", ses=()) for i in range(4)],
        [
            rec("/x/plain", ses=("DISK", "TAPE")),
            rec("/x/other-ses", ses=("TAPE",)),
            replace(rec("/x/moved"), replicas=(Replica("DISK", "/old/place"),)),
            replace(
                rec("/x/bad"), replicas=(Replica("DISK", ""), Replica("TAPE", "", status="bad"))
            ),
        ],
    ]
    for records in shapes:
        add(tx, *records)
    every = [r for records in shapes for r in records]
    want = {r.lfn: [(p.se, p.path or r.lfn, p.status) for p in r.replicas] for r in every}
    got = tx.replicas(list(want)).succeeded
    assert {lfn: [(r.se, r.path, r.status) for r in reps] for lfn, reps in got.items()} == want
    assert tx.se_replica_count("TAPE") == 5 + 2 + 30 + 4 + 3
    assert tx.se_replica_count("DISK") == 5 + 2 + 30 + 3
    assert tx.du("/") == tx.du("/", from_files=True)
    assert tx.usage_mismatches("/") == []
