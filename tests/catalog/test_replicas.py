"""Replica registration, removal, status and the bulk lookup."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dfc.errors import (
    InvalidArgument,
    IsADirectory,
    LFNNotFound,
    ReplicaExists,
    ReplicaNotFound,
    SENotFound,
)
from dfc.models import Replica, SEInfo
from tests.catalog.helpers import GROUP, OWNER, add, mkdirs, rec

if TYPE_CHECKING:
    from dfc.catalog import CatalogTx


def test_add_replicas(tx: CatalogTx) -> None:
    add(tx, rec("/a", ses=()), rec("/b", ses=("DISK",)))
    res = tx.add_replicas(
        [
            ("/a", Replica("TAPE", "/phys/a")),
            ("/a", Replica("DISK", "")),  # empty path: the LFN
            ("/b", Replica("DISK", "/b")),  # the same again: success
        ]
    )
    assert res.ok
    reps = tx.replicas(["/a"]).succeeded["/a"]
    assert [(r.se, r.path, r.pfn) for r in reps] == [
        ("DISK", "/a", "file:///data/disk/a"),
        ("TAPE", "/phys/a", "root://tape.example.org//store/phys/a"),
    ]


def test_add_replica_errors(tx: CatalogTx) -> None:
    add(tx, rec("/a"), rec("/c"))
    mkdirs(tx, "/d")
    res = tx.add_replicas(
        [
            ("/a", Replica("DISK", "/other")),
            ("/missing", Replica("DISK", "/x")),
            ("/d", Replica("DISK", "/d")),
            ("/c", Replica("NOPE", "/c")),
            ("/c", Replica("TAPE", "/c", status="weird")),
        ]
    )
    assert isinstance(res.failed["/a"], ReplicaExists)
    assert isinstance(res.failed["/missing"], LFNNotFound)
    assert isinstance(res.failed["/d"], IsADirectory)
    assert isinstance(res.failed["/c"], (SENotFound, InvalidArgument))
    assert not res.succeeded
    assert [r.se for r in tx.lookup("/c").replicas] == ["DISK"]


def test_add_replica_partial(tx: CatalogTx) -> None:
    add(tx, rec("/a", ses=()), rec("/b", ses=()))
    res = tx.add_replicas([("/a", Replica("TAPE", "/a")), ("/b", Replica("NOPE", "/b"))])
    assert list(res.succeeded) == ["/a"]
    assert isinstance(res.failed["/b"], SENotFound)
    assert [r.se for r in tx.lookup("/a").replicas] == ["TAPE"]


def test_remove_replicas(tx: CatalogTx) -> None:
    add(tx, rec("/a", ses=("DISK", "TAPE")))
    mkdirs(tx, "/d")
    res = tx.remove_replicas(
        [("/a", "DISK"), ("/a", "DISK"), ("/a", "NOPE"), ("/missing", "DISK"), ("/d", "DISK")]
    )
    assert set(res.succeeded) == {"/a", "/missing"}
    assert isinstance(res.failed["/d"], IsADirectory)
    assert [r.se for r in tx.lookup("/a").replicas] == ["TAPE"]
    assert tx.remove_replicas([("/a", "TAPE")]).ok  # the last one too, at this level
    assert tx.lookup("/a").replicas == ()


def test_set_replica_status(tx: CatalogTx) -> None:
    add(tx, rec("/a", ses=("DISK", "TAPE")), rec("/b"))
    mkdirs(tx, "/d")
    res = tx.set_replica_status(
        [
            ("/a", "TAPE", "bad"),
            ("/b", "TAPE", "bad"),
            ("/b", "DISK", "lost"),
            ("/missing", "DISK", "bad"),
            ("/d", "DISK", "bad"),
        ]
    )
    assert list(res.succeeded) == ["/a"]
    assert isinstance(res.failed["/b"], (ReplicaNotFound, InvalidArgument))
    assert isinstance(res.failed["/missing"], LFNNotFound)
    assert isinstance(res.failed["/d"], IsADirectory)
    statuses = {r.se: r.status for r in tx.lookup("/a").replicas}
    assert statuses == {"DISK": "good", "TAPE": "bad"}
    assert tx.set_replica_status([("/a", "TAPE", "good")]).ok
    one = tx.set_replica_status([("/b", "TAPE", "bad")])
    assert isinstance(one.failed["/b"], ReplicaNotFound)
    two = tx.set_replica_status([("/b", "DISK", "lost")])
    assert isinstance(two.failed["/b"], InvalidArgument)
    three = tx.set_replica_status([("/b", "NOPE", "bad")])
    assert isinstance(three.failed["/b"], SENotFound)


def test_replicas_bulk(tx: CatalogTx) -> None:
    n = 4200
    tx.add_files(
        [rec(f"/r/{i % 5}/f{i}", ses=("TAPE", "DISK") if i % 2 else ()) for i in range(n)],
        owner=OWNER,
        group=GROUP,
    )
    lfns = [f"/r/{i % 5}/f{i}" for i in range(n)]
    res = tx.replicas([*lfns, "/r/0", "/r/nope"])
    assert len(res.succeeded) == n
    assert res.succeeded["/r/0/f0"] == []
    assert [r.se for r in res.succeeded["/r/1/f1"]] == ["DISK", "TAPE"]
    assert res.succeeded["/r/1/f1"][0].pfn == "file:///data/disk/r/1/f1"
    assert isinstance(res.failed["/r/0"], IsADirectory)
    assert isinstance(res.failed["/r/nope"], LFNNotFound)


@pytest.mark.parametrize("url", ["file:///data/disk", "file:///data/disk/"])
def test_pfn_joins_without_double_slash(tx: CatalogTx, url: str) -> None:
    tx.update_se("DISK", url=url)
    add(tx, rec("/x/y"))
    assert tx.replicas(["/x/y"]).succeeded["/x/y"][0].pfn == "file:///data/disk/x/y"


def test_bulk_lookup_lists_replicas_by_se_name_whatever_the_se_ids(tx: CatalogTx) -> None:
    # Registered after DISK and TAPE, so their ids run against name order.
    for name in ("ZETA", "MIDDLE", "ALPHA"):
        tx.add_se(SEInfo(name, f"file:///data/{name.lower()}/"))
    add(
        tx,
        rec("/o/a", ses=("ZETA", "DISK", "ALPHA", "TAPE", "MIDDLE")),
        rec("/o/b", ses=("MIDDLE",)),
        rec("/o/c", ses=("TAPE", "ALPHA")),
    )
    got = tx.replicas(["/o/c", "/o/a", "/o/b"]).succeeded
    assert list(got) == ["/o/c", "/o/a", "/o/b"]
    assert {lfn: [r.se for r in reps] for lfn, reps in got.items()} == {
        "/o/a": ["ALPHA", "DISK", "MIDDLE", "TAPE", "ZETA"],
        "/o/b": ["MIDDLE"],
        "/o/c": ["ALPHA", "TAPE"],
    }
