"""Provenance: direct links stored, depths computed both ways."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dfc.errors import InvalidArgument, LFNNotFound
from tests.catalog.helpers import add, rec

if TYPE_CHECKING:
    from dfc.catalog import CatalogTx


def test_chain_depths_as_in_dirac(tx: CatalogTx) -> None:
    add(tx, rec("/p/file1"), rec("/p/file2"), rec("/p/file3"), rec("/p/side"))
    # added in the "wrong" order: depths still follow
    assert tx.ancestry_add([("/p/file3", ["/p/file2"])]).ok
    assert tx.ancestry_add([("/p/file2", ["/p/file1", "/p/side"])]).ok
    assert tx.ancestry_add([("/p/file3", ["/p/file2"])]).ok  # again: fine
    assert tx.ancestors(["/p/file3"], 2).succeeded == {
        "/p/file3": {"/p/file2": 1, "/p/file1": 2, "/p/side": 2}
    }
    assert tx.ancestors(["/p/file3"]).succeeded == {"/p/file3": {"/p/file2": 1}}
    assert tx.descendants(["/p/file1"], 5).succeeded == {"/p/file1": {"/p/file2": 1, "/p/file3": 2}}
    assert tx.descendants(["/p/file3"], 5).succeeded == {"/p/file3": {}}


def test_diamond_takes_the_shortest_depth(tx: CatalogTx) -> None:
    add(tx, rec("/a"), rec("/b"), rec("/c"), rec("/d"))
    tx.ancestry_add([("/d", ["/b", "/a"]), ("/b", ["/a"]), ("/c", ["/b"])]).raise_first()
    assert tx.ancestors(["/d", "/c"], 3).succeeded == {
        "/d": {"/a": 1, "/b": 1},
        "/c": {"/b": 1, "/a": 2},
    }


def test_errors(tx: CatalogTx) -> None:
    add(tx, rec("/x"), rec("/y"), rec("/z"))
    tx.ancestry_add([("/y", ["/x"]), ("/z", ["/y"])]).raise_first()
    res = tx.ancestry_add(
        [("/x", ["/z"]), ("/x", ["/x"]), ("/none", ["/x"]), ("/y", ["/x", "/missing"])]
    )
    assert isinstance(res.failed["/x"], InvalidArgument)
    assert isinstance(res.failed["/none"], LFNNotFound)
    assert "ancestor /missing: no such file" in str(res.failed["/y"])
    assert isinstance(tx.ancestors(["/none"]).failed["/none"], LFNNotFound)
    with pytest.raises(InvalidArgument, match="depth"):
        tx.ancestors(["/x"], 0)


def test_links_go_with_their_files(tx: CatalogTx) -> None:
    add(tx, rec("/x"), rec("/y"))
    tx.ancestry_add([("/y", ["/x"])]).raise_first()
    tx.remove_files(["/x"]).raise_first()
    assert tx.ancestors(["/y"]).succeeded == {"/y": {}}
