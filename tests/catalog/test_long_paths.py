"""LFNs up to 4,096 bytes; on PostgreSQL a too long directory path is a clear error."""

from __future__ import annotations

import random
import string
from typing import TYPE_CHECKING

import pytest

from dfc.errors import InvalidLFN
from tests.catalog.helpers import add, mkdirs, rec

if TYPE_CHECKING:
    from dfc.catalog import Catalog, CatalogTx


def _long_dir(components: int) -> str:
    rng = random.Random(7)  # random letters: nothing for an index to compress
    alphabet = string.ascii_letters + string.digits
    return "/" + "/".join("".join(rng.choices(alphabet, k=250)) for _ in range(components))


def test_paths_up_to_the_index_limit_work_everywhere(tx: CatalogTx) -> None:
    path = _long_dir(9)  # ~2,260 bytes: under PostgreSQL's index entry limit
    mkdirs(tx, path)
    lfn = f"{path}/{'f' * 250}"
    add(tx, rec(lfn, guid="g-long"))
    assert tx.stat([lfn]).ok
    assert [e.lfn for e in tx.list_dir(path)] == [lfn]


def test_longer_directory_paths(catalog: Catalog) -> None:
    path = _long_dir(15)  # ~3,770 bytes: a valid LFN
    if catalog.engine.dialect.name == "sqlite":
        with catalog.transaction() as tx:
            mkdirs(tx, path)
            add(tx, rec(f"{path}/f", guid="g-long", ses=()))
            assert tx.stat([f"{path}/f"]).ok
        return
    with (
        pytest.raises(InvalidLFN, match="too long for a PostgreSQL catalogue"),
        catalog.transaction() as tx,
    ):
        tx.mkdir([path], parents=True, owner="o", group="g")
    with catalog.reader() as tx:  # nothing was left behind
        assert [e.lfn for e in tx.list_dir("/")] == []
