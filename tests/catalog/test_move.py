"""move: files and directory trees; replica paths never change."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dfc.errors import AlreadyExists, InvalidArgument, LFNNotFound, NotADirectory, PermissionDenied
from tests.catalog.helpers import add, mkdirs, rec

if TYPE_CHECKING:
    from dfc.catalog import CatalogTx


def test_move_file(tx: CatalogTx) -> None:
    add(tx, rec("/a/f", ses=("DISK", "TAPE")))
    mkdirs(tx, "/b")
    before = tx.lookup("/a/f")
    tx.move("/a/f", "/b/g")
    after = tx.lookup("/b/g")
    assert (after.guid, after.size) == (before.guid, before.size)
    assert [r.path for r in after.replicas] == ["/a/f", "/a/f"]
    assert [r.pfn for r in after.replicas] == [r.pfn for r in before.replicas]
    with pytest.raises(LFNNotFound):
        tx.lookup("/a/f")
    assert list(tx.list_dir("/a")) == []


def test_move_tree(tx: CatalogTx) -> None:
    add(tx, rec("/src/x/1"), rec("/src/x/y/2"), rec("/src/3"), rec("/srcother/4"))
    mkdirs(tx, "/src/empty", "/dst")
    tx.move("/src", "/dst/moved")
    got = [e.lfn for e in tx.walk("/dst/moved")]
    assert got == [
        "/dst/moved/3",
        "/dst/moved/empty",
        "/dst/moved/x",
        "/dst/moved/x/1",
        "/dst/moved/x/y",
        "/dst/moved/x/y/2",
    ]
    assert tx.lookup("/dst/moved/x/y/2").replicas[0].path == "/src/x/y/2"
    assert tx.lookup("/srcother/4").lfn == "/srcother/4"  # a sibling with the same prefix
    assert [e.lfn for e in tx.list_dir("/")] == ["/dst", "/srcother"]
    # the moved tree is fully usable: new files, listing, removal
    add(tx, rec("/dst/moved/x/y/new"))
    assert [e.lfn for e in tx.list_dir("/dst/moved/x/y")] == [
        "/dst/moved/x/y/2",
        "/dst/moved/x/y/new",
    ]
    tx.move("/dst/moved", "/back")
    assert tx.lookup("/back/x/1").type == "file"


def test_rename_in_place_with_unicode(tx: CatalogTx) -> None:
    add(tx, rec("/d/ä/f"))
    tx.move("/d/ä", "/d/日本")
    assert [e.lfn for e in tx.walk("/d")] == ["/d/日本", "/d/日本/f"]


def test_move_errors(tx: CatalogTx) -> None:
    add(tx, rec("/a/f"), rec("/b/g"))
    with pytest.raises(AlreadyExists):
        tx.move("/a/f", "/b/g")
    with pytest.raises(AlreadyExists):
        tx.move("/a", "/b")
    with pytest.raises(AlreadyExists):
        tx.move("/a", "/")
    with pytest.raises(LFNNotFound):
        tx.move("/a/f", "/nope/f")
    with pytest.raises(NotADirectory):
        tx.move("/a/f", "/b/g/h")
    with pytest.raises(LFNNotFound):
        tx.move("/nope", "/x")
    with pytest.raises(InvalidArgument):
        tx.move("/a", "/a/sub")
    with pytest.raises(InvalidArgument):
        tx.move("/a", "/a")
    with pytest.raises(PermissionDenied):
        tx.move("/", "/x")
    assert tx.lookup("/a/f").lfn == "/a/f"


def test_move_updates_parent_mtimes(tx: CatalogTx) -> None:
    add(tx, rec("/a/f"))
    mkdirs(tx, "/b")
    a, b = tx.lookup("/a").mtime, tx.lookup("/b").mtime
    tx.move("/a/f", "/b/f")
    assert tx.lookup("/a").mtime > a
    assert tx.lookup("/b").mtime > b
