"""Datasets: dynamic queries, freeze/release, check/update, annotations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dfc.errors import AlreadyExists, InvalidQuery, LFNNotFound, NotFound
from tests.catalog.helpers import GROUP, OWNER, add, mkdirs, rec

if TYPE_CHECKING:
    from dfc.catalog import CatalogTx


@pytest.fixture
def data(tx: CatalogTx) -> CatalogTx:
    tx.meta_index("process", "string", "dir")
    tx.meta_index("runH", "int", "file")
    add(
        tx, *[rec(f"/prd/{p}/f{i}", size=10 * (i + 1)) for p in ("muon", "laser") for i in range(3)]
    )
    tx.meta_set([("/prd/muon", {"process": "Muon"}), ("/prd/laser", {"process": "Laser"})])
    tx.meta_set([(f"/prd/muon/f{i}", {"runH": i}) for i in range(3)]).raise_first()
    return tx


def _add(tx: CatalogTx, name: str, *words: str) -> None:
    tx.dataset_add(name, list(words), owner=OWNER, group=GROUP)


def test_dynamic_dataset_follows_the_catalogue(data: CatalogTx) -> None:
    ds = data.dataset_add("/ds/muon", ["/prd", "process=Muon"], owner=OWNER, group=GROUP)
    assert (ds.status, ds.files, ds.bytes, ds.query) == ("dynamic", 3, 60, "/prd process=Muon")
    assert len(ds.hash) == 32 and ds.owner == OWNER
    assert data.lookup("/ds").is_dir  # parent created, as in DIRAC
    assert list(data.dataset_files("/ds/muon")) == ["/prd/muon/f0", "/prd/muon/f1", "/prd/muon/f2"]
    add(data, rec("/prd/muon/f9", size=5))
    assert list(data.dataset_files("/ds/muon"))[-1] == "/prd/muon/f9"
    check = data.dataset_check("/ds/muon")
    assert check.changed and (check.old_files, check.new_files) == (3, 4)
    assert (check.old_bytes, check.new_bytes) == (60, 65)
    assert data.dataset_show("/ds/muon").files == 3  # check changes nothing
    assert data.dataset_update("/ds/muon").changed
    assert not data.dataset_check("/ds/muon").changed
    assert data.dataset_show("/ds/muon").files == 4


def test_freeze_and_release(data: CatalogTx) -> None:
    _add(data, "/ds/m", "runH>=1")
    frozen = data.dataset_freeze("/ds/m")
    assert (frozen.status, frozen.files) == ("frozen", 2)
    assert data.dataset_freeze("/ds/m") == frozen  # again: nothing changes
    add(data, rec("/prd/muon/f5"))
    data.meta_set([("/prd/muon/f5", {"runH": 7})]).raise_first()
    assert list(data.dataset_files("/ds/m")) == ["/prd/muon/f1", "/prd/muon/f2"]
    assert not data.dataset_check("/ds/m").changed
    # members survive a rename and drop out when removed
    mkdirs(data, "/moved")
    data.move("/prd/muon/f1", "/moved/f1")
    data.remove_files(["/prd/muon/f2"])
    assert list(data.dataset_files("/ds/m")) == ["/moved/f1"]
    check = data.dataset_check("/ds/m")
    assert (check.old_files, check.new_files) == (2, 1)
    released = data.dataset_release("/ds/m")
    assert released.status == "dynamic"
    assert list(data.dataset_files("/ds/m")) == ["/moved/f1", "/prd/muon/f5"]


def test_show_list_annotate_rm(data: CatalogTx) -> None:
    _add(data, "/ds/b", "process=Laser")
    _add(data, "/ds/a", "/prd/muon", "runH=0,2")
    _add(data, "/other/c", "Size>0")
    assert [d.name for d in data.dataset_list()] == ["/ds/a", "/ds/b", "/other/c"]
    assert [d.name for d in data.dataset_list("/ds")] == ["/ds/a", "/ds/b"]
    assert data.dataset_show("/ds/a").files == 2
    assert data.dataset_annotate("/ds/a", "for the muon paper").annotation == "for the muon paper"
    assert data.dataset_annotate("/ds/a", "").annotation is None
    assert data.dataset_rm("/ds/a") is True
    assert data.dataset_rm("/ds/a") is False
    with pytest.raises(NotFound, match="/ds/a: no such dataset"):
        data.dataset_show("/ds/a")


def test_errors(data: CatalogTx) -> None:
    _add(data, "/ds/x", "process=Muon")
    with pytest.raises(AlreadyExists, match="Dataset /ds/x already exists"):
        _add(data, "/ds/x", "process=Muon")
    with pytest.raises(AlreadyExists, match="a file or directory has that name"):
        _add(data, "/prd/muon", "process=Muon")
    with pytest.raises(InvalidQuery, match="the query has no terms"):
        _add(data, "/ds/y", "/prd")
    with pytest.raises(InvalidQuery, match="Metadata field nope not defined"):
        _add(data, "/ds/y", "nope=1")
    with pytest.raises(LFNNotFound):
        _add(data, "/ds/y", "/nowhere", "runH=1")
    for call in (data.dataset_files, data.dataset_check, data.dataset_freeze):
        with pytest.raises(NotFound):
            call("/ds/none")
    # a field removed since: a clear error when the dataset is used
    data.meta_unindex("process")
    with pytest.raises(InvalidQuery, match="Metadata field process not defined"):
        data.dataset_check("/ds/x")
