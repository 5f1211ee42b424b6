"""The storage-element registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dfc.errors import AlreadyExists, InvalidArgument, SENotFound
from dfc.models import SEInfo
from tests.catalog.helpers import add, rec

if TYPE_CHECKING:
    from dfc.catalog import CatalogTx


def test_add_get_list(tx: CatalogTx) -> None:
    se = tx.add_se(SEInfo("A-SE", "s3://bucket/x", site="JINR", read=False))
    assert se == SEInfo("A-SE", "s3://bucket/x", site="JINR", read=False, write=True)
    assert tx.get_se("A-SE") == se
    assert [s.name for s in tx.list_ses()] == ["A-SE", "DISK", "TAPE"]


def test_identical_re_add_succeeds(tx: CatalogTx) -> None:
    again = tx.add_se(SEInfo("DISK", "file:///data/disk/", site="other"))
    assert again.site == "IHEP"  # the registered SE, unchanged


def test_same_name_other_url(tx: CatalogTx) -> None:
    with pytest.raises(AlreadyExists, match="DISK"):
        tx.add_se(SEInfo("DISK", "file:///elsewhere"))


@pytest.mark.parametrize("name", ["", " X", "a/b", "x" * 65])
def test_invalid_name(tx: CatalogTx, name: str) -> None:
    with pytest.raises(InvalidArgument):
        tx.add_se(SEInfo(name, "file:///x"))


def test_empty_url(tx: CatalogTx) -> None:
    with pytest.raises(InvalidArgument):
        tx.add_se(SEInfo("X", ""))


def test_get_missing(tx: CatalogTx) -> None:
    with pytest.raises(SENotFound, match="NOPE"):
        tx.get_se("NOPE")


def test_update(tx: CatalogTx) -> None:
    se = tx.update_se("DISK", read=False, write=False, site="CNAF")
    assert (se.read, se.write, se.site, se.url) == (False, False, "CNAF", "file:///data/disk/")
    se = tx.update_se("DISK", url="file:///new", read=True)
    assert (se.url, se.read, se.write) == ("file:///new", True, False)
    assert tx.update_se("DISK") == se
    with pytest.raises(SENotFound):
        tx.update_se("NOPE", read=True)
    with pytest.raises(InvalidArgument):
        tx.update_se("DISK", url="")


def test_url_change_changes_pfns(tx: CatalogTx) -> None:
    add(tx, rec("/f"))
    tx.update_se("DISK", url="root://new//base")
    assert tx.replicas(["/f"]).succeeded["/f"][0].pfn == "root://new//base/f"


def test_remove_and_replica_count(tx: CatalogTx) -> None:
    add(tx, rec("/a"), rec("/b", ses=("DISK", "TAPE")))
    assert tx.se_replica_count("DISK") == 2
    assert tx.se_replica_count("TAPE") == 1
    with pytest.raises(InvalidArgument, match="SE DISK still holds 2 replicas"):
        tx.remove_se("DISK")
    tx.remove_replicas([("/a", "DISK"), ("/b", "DISK")])
    tx.remove_se("DISK")
    assert [s.name for s in tx.list_ses()] == ["TAPE"]
    with pytest.raises(SENotFound):
        tx.remove_se("DISK")
    with pytest.raises(SENotFound):
        tx.se_replica_count("DISK")
