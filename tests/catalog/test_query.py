"""Queries compiled to SQL: the same answers on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dfc.errors import InvalidQuery, LFNNotFound, NotADirectory
from tests.catalog.helpers import add, mkdirs, rec

if TYPE_CHECKING:
    from dfc.catalog import CatalogTx

A_MUON = ["/exp/A/muon/f1.root", "/exp/A/muon/f2.root", "/exp/A/muon/f3.log"]
A_LASER = ["/exp/A/laser/l1.root"]
B_MUON = ["/exp/B/muon/b1.root"]
SIBLING = ["/exp/A-x/ax.root"]
OTHER = ["/exp/other/o1.root"]
EVERYTHING = sorted(A_MUON + A_LASER + B_MUON + SIBLING + OTHER)


@pytest.fixture
def tree(tx: CatalogTx) -> CatalogTx:
    for name, type_, level in [
        ("sv", "string", "dir"),
        ("process", "string", "dir"),
        ("year", "int", "dir"),
        ("runH", "int", "file"),
        ("tag", "string", "file"),
        ("quality", "float", "file"),
        ("taken", "date", "file"),
    ]:
        assert tx.meta_index(name, type_, level)  # type: ignore[arg-type]
    add(
        tx,
        rec("/exp/A/muon/f1.root", size=100),
        rec("/exp/A/muon/f2.root", size=200, ses=("DISK", "TAPE")),
        rec("/exp/A/muon/f3.log", size=300),
        rec("/exp/A/laser/l1.root", size=400, ses=("TAPE",)),
        rec("/exp/A-x/ax.root", size=500),
        rec("/exp/B/muon/b1.root", size=600, adler32="0001abce"),
        rec("/exp/other/o1.root", size=700, ses=()),
    )
    res = tx.meta_set(
        [
            ("/exp/A", {"sv": "J22", "year": 2022}),
            ("/exp/B", {"sv": "J23", "year": 2023}),
            ("/exp/A/muon", {"process": "Muon"}),
            ("/exp/A/laser", {"process": "Laser"}),
            ("/exp/B/muon", {"process": "Muon"}),
            (
                "/exp/A/muon/f1.root",
                {"runH": 1, "tag": "v1", "quality": 0.1, "taken": "2019-06-01"},
            ),
            (
                "/exp/A/muon/f2.root",
                {"runH": 2, "tag": "v2", "quality": 0.9, "taken": "2021-01-01"},
            ),
            ("/exp/A/muon/f3.log", {"runH": 3, "tag": "V3"}),
            ("/exp/A/laser/l1.root", {"runH": 10, "tag": "a_b%"}),
            ("/exp/B/muon/b1.root", {"runH": 5, "tag": "a[b]c"}),
        ]
    )
    assert res.ok, res.failed
    return tx


CASES = [
    (["process=Muon"], A_MUON + B_MUON),
    (["sv=J22", "process=Muon"], A_MUON),
    (["sv=J22"], A_LASER + A_MUON),
    (["sv!=J22"], B_MUON),
    (["sv=Missing"], SIBLING + OTHER),
    (["process=Any"], A_LASER + A_MUON + B_MUON),
    (["process=Muon,Laser", "sv=J22"], A_LASER + A_MUON),
    (["process=Muon", "process=Laser"], A_LASER + A_MUON + B_MUON),
    (["process!=Muon,Laser"], []),
    (["year>2022"], B_MUON),
    (["year>=2022", "year<2023"], A_LASER + A_MUON),
    (["sv=J2*"], A_LASER + A_MUON + B_MUON),
    (["sv=J2?", "process=Laser"], A_LASER),
    (["runH>2"], ["/exp/A/muon/f3.log", *A_LASER, *B_MUON]),
    (["runH=1,2"], ["/exp/A/muon/f1.root", "/exp/A/muon/f2.root"]),
    (["runH!=1,2"], ["/exp/A/muon/f3.log", *A_LASER, *B_MUON]),
    (["runH>=2", "runH<=3"], ["/exp/A/muon/f2.root", "/exp/A/muon/f3.log"]),
    (["runH=Missing"], SIBLING + OTHER),
    (["runH=Any", "sv=Missing"], []),
    (["tag=v*"], ["/exp/A/muon/f1.root", "/exp/A/muon/f2.root"]),  # case-sensitive
    (["tag!=v*"], ["/exp/A/muon/f3.log", *A_LASER, *B_MUON]),
    (["tag=a_b*"], A_LASER),  # '_' and '%' are literal
    (["tag=a?b*"], A_LASER + B_MUON),
    (["tag=a?b"], []),
    (["tag=a[b]*"], B_MUON),  # '[' is literal
    (["tag=V3,a_b%"], ["/exp/A/muon/f3.log", *A_LASER]),
    (["quality<0.5"], ["/exp/A/muon/f1.root"]),
    (["taken>2020-01-01"], ["/exp/A/muon/f2.root"]),
    (["taken<2020-01-01T00:00:00+01:00"], ["/exp/A/muon/f1.root"]),
    (["Name=*.root", "process=Muon"], ["/exp/A/muon/f1.root", "/exp/A/muon/f2.root", *B_MUON]),
    (["Name=f?.*"], A_MUON),
    (["FileName=F*"], []),
    (["Size>=400", "Size<700"], A_LASER + SIBLING + B_MUON),
    (["SE=TAPE"], ["/exp/A/muon/f2.root", *A_LASER]),
    (["SE!=DISK"], A_LASER + OTHER),
    (["SE=Missing"], OTHER),
    (["SE=Any", "SE!=TAPE"], ["/exp/A/muon/f1.root", "/exp/A/muon/f3.log", *SIBLING, *B_MUON]),
    (
        ["SE=DI*", "SE=TAPE", "runH>1"],
        ["/exp/A/muon/f2.root", "/exp/A/muon/f3.log", *A_LASER, *B_MUON],
    ),
    (["Checksum=1ABCE"], B_MUON),
    (["Owner=alice", "Group=juno", "Status=good", "Size=700"], OTHER),
    (["GUID=guid-/exp/other/o1.root"], OTHER),
    (
        ["CreationDate>2000-01-01", "ModificationDate>2000-01-01", "Size=100"],
        ["/exp/A/muon/f1.root"],
    ),
    (["CreationDate<2000-01-01"], []),
    (["Path=/exp/B", "Size>0"], B_MUON),
    (["Path=/exp/A/muon", "Path=/exp/A", "Size>0"], A_MUON),
]


def test_find(tree: CatalogTx) -> None:
    # One catalogue for all cases: building it dominates the run time.
    for terms, expected in CASES:
        assert list(tree.find("/", terms)) == sorted(expected), terms
        assert tree.find_count("/", terms)[0] == len(expected), terms


def test_results_are_streamed_in_lfn_order(tree: CatalogTx) -> None:
    assert list(tree.find("/", ["Size>0"])) == EVERYTHING


def test_scope_and_inheritance_from_above_the_scope(tree: CatalogTx) -> None:
    # /exp/A/muon inherits sv from /exp/A, which is above the search path.
    assert list(tree.find("/exp/A/muon", ["sv=J22"])) == A_MUON
    assert list(tree.find("/exp/A", ["Size>0"])) == A_LASER + A_MUON  # not /exp/A-x
    assert list(tree.find("/exp/B", ["sv=J22"])) == []


def test_empty_query_finds_nothing(tree: CatalogTx) -> None:
    assert list(tree.find("/", [])) == []
    assert list(tree.find_dirs("/", [])) == []
    assert tree.find_count("/", ["Path=/exp"]) == (0, 0)


def test_find_dirs_and_count(tree: CatalogTx) -> None:
    assert list(tree.find_dirs("/", ["process=Muon"])) == ["/exp/A/muon", "/exp/B/muon"]
    assert list(tree.find_dirs("/", ["Name=*.root"])) == [
        "/exp/A-x",
        "/exp/A/laser",
        "/exp/A/muon",
        "/exp/B/muon",
        "/exp/other",
    ]
    assert tree.find_count("/", ["sv=J22"]) == (4, 1000)


def test_root_directory_value_is_inherited_everywhere(tree: CatalogTx) -> None:
    assert tree.meta_index("site", "string", "dir")
    # /exp/A sets sv already; a field set nowhere else may go on /
    assert tree.meta_set([("/", {"site": "IHEP"})]).ok
    assert list(tree.find("/", ["site=IHEP"])) == EVERYTHING
    assert list(tree.find("/exp/B", ["site=IHEP"])) == B_MUON
    assert tree.meta_tags("/exp", "site") == ["IHEP"]


def test_meta_tags(tree: CatalogTx) -> None:
    assert tree.meta_tags("/", "process") == ["Laser", "Muon"]
    assert tree.meta_tags("/", "process", ["runH>3"]) == ["Laser", "Muon"]
    assert tree.meta_tags("/", "process", ["runH<3"]) == ["Muon"]
    assert tree.meta_tags("/exp/B", "sv") == ["J23"]
    assert tree.meta_tags("/", "runH", ["sv=J22"]) == [1, 2, 3, 10]
    assert tree.meta_tags("/", "quality") == [0.1, 0.9]
    assert [d.year for d in tree.meta_tags("/", "taken")] == [2019, 2021]  # type: ignore[union-attr]
    assert tree.meta_tags("/", "SE", ["process=Muon"]) == ["DISK", "TAPE"]
    assert tree.meta_tags("/", "Size", ["sv=J23"]) == [600]
    assert tree.meta_tags("/", "User", ["Size=100"]) == ["alice"]
    with pytest.raises(InvalidQuery, match="Metadata field nope not defined"):
        tree.meta_tags("/", "nope")


def test_errors(tree: CatalogTx) -> None:
    with pytest.raises(InvalidQuery, match="Metadata field Foo not defined"):
        tree.find("/", ["Foo=1"])
    with pytest.raises(InvalidQuery, match="runH: 'x' is not an int"):
        tree.find("/", ["runH=x"])
    with pytest.raises(LFNNotFound):
        tree.find("/nowhere", ["runH=1"])
    with pytest.raises(NotADirectory):
        tree.find("/exp/other/o1.root", ["runH=1"])
    with pytest.raises(LFNNotFound):
        tree.find("/", ["Path=/nowhere", "runH=1"])


def test_moved_tree_inherits_from_its_new_place(tree: CatalogTx) -> None:
    mkdirs(tree, "/exp/B/old")
    tree.move("/exp/A/laser", "/exp/B/old/laser")
    assert list(tree.find("/", ["sv=J23", "process=Laser"])) == ["/exp/B/old/laser/l1.root"]
    assert list(tree.find("/", ["sv=J22", "process=Laser"])) == []
