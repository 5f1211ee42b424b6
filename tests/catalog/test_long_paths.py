"""LFNs up to 4,096 bytes work on both backends, in every query over paths.

PostgreSQL's B-tree entries hold ~2,700 bytes: since migration 0006 its path keys
are unique by hash exclusion constraints and its subtree ranges use a B-tree on
the path's first characters (see ``dfc.catalog._base.indexed_prefix``).
"""

from __future__ import annotations

import random
import string
import time
from typing import TYPE_CHECKING

import pytest

from dfc.catalog import AccessControl, TransferQueue
from dfc.catalog import Catalog as CatalogClass
from dfc.catalog._scope import subtree
from dfc.errors import AlreadyExists, InvalidArgument, InvalidLFN
from dfc.lfn import MAX_PATH, validate
from tests.catalog.helpers import GROUP, OWNER, add, mkdirs, rec

if TYPE_CHECKING:
    from dfc.catalog import Catalog, CatalogTx


def _name(rng: random.Random, k: int = 250) -> str:
    """Random letters: nothing for an index to compress."""
    return "".join(rng.choices(string.ascii_letters + string.digits, k=k))


def _long_dir(components: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    return "/" + "/".join(_name(rng) for _ in range(components))


def _fill(path: str, total: int = MAX_PATH) -> str:
    """The LFN of a file in directory ``path`` that is exactly ``total`` bytes long."""
    return f"{path}/{'f' * (total - len(path) - 1)}"


DEEP = _long_dir(16)  # 4,016 bytes
LFN = _fill(DEEP)


def test_a_4096_byte_lfn_everywhere(tx: CatalogTx) -> None:
    assert len(LFN.encode()) == MAX_PATH
    mkdirs(tx, DEEP)
    assert tx.mkdir([DEEP], parents=True, owner=OWNER, group=GROUP).ok  # exists: fine
    add(tx, rec(LFN, guid="g-long", ses=("DISK", "TAPE")))
    add(tx, rec(LFN, guid="g-long", ses=("DISK", "TAPE")))  # identical again: fine
    assert tx.stat([LFN]).succeeded[LFN].size == 10
    assert [e.lfn for e in tx.list_dir(DEEP)] == [LFN]
    top = DEEP[: DEEP.index("/", 1)]
    walked = [e.lfn for e in tx.walk(top)]
    assert walked[-1] == LFN and len(walked) == 16  # 15 directories below top, 1 file
    assert list(tx.find(top, ["Size>0"])) == [LFN]
    assert tx.du(top).files == 1
    tx.recount_usage(top)
    assert tx.usage_mismatches(top) == []
    assert [r.lfn for r in tx.replicas_at("TAPE", top)] == [LFN]
    assert [d.lfn for d in tx.dump(top) if d.lfn == LFN]


def test_uniqueness_holds_for_long_paths(catalog: Catalog) -> None:
    with catalog.transaction() as tx:
        mkdirs(tx, DEEP)
    with pytest.raises(AlreadyExists), catalog.transaction() as tx:
        tx._q(  # a second row for the same path, bypassing dfc's own checks
            "INSERT INTO directories (path, parent_id, owner, grp, mode, ctime, mtime) "
            "SELECT path, parent_id, owner, grp, mode, ctime, mtime FROM directories "
            "WHERE path = ?",
            [DEEP],
        )
    with catalog.reader() as tx:
        assert tx.stat([DEEP]).ok


def test_long_paths_in_metadata_moves_and_permissions(tx: CatalogTx) -> None:
    mkdirs(tx, DEEP)
    add(tx, rec(LFN, guid="g-long"))
    assert tx.meta_index("process", "string", "dir")
    assert tx.meta_set([(DEEP, {"process": "Muon"})]).ok
    assert tx.meta_get(LFN)["process"].value == "Muon"
    top = DEEP[: DEEP.index("/", 1)]
    assert list(tx.find(top, ["process=Muon"])) == [LFN]
    # Rename one component to another of the same length: paths stay <= 4,096 bytes.
    parent, _, last = DEEP.rpartition("/")
    moved = f"{parent}/{last[::-1]}"
    tx.move(DEEP, moved)
    assert tx.stat([_fill(moved)]).ok and tx.stat([LFN]).failed
    assert tx.meta_get(_fill(moved))["process"].value == "Muon"
    assert AccessControl(tx).chmod([top], 0o750, recursive=True).ok
    assert tx.stat([moved]).succeeded[moved].mode & 0o777 == 0o750
    assert tx.stat([_fill(moved)]).succeeded[_fill(moved)].mode & 0o777 == 0o750


def test_long_dataset_names_and_queued_transfers(tx: CatalogTx) -> None:
    mkdirs(tx, DEEP)
    add(tx, rec(LFN, guid="g-long"))
    name = _fill(DEEP, MAX_PATH - 3) + "-ds"
    ds = tx.dataset_add(name, [DEEP, "Size>0"], owner=OWNER, group=GROUP)
    assert ds.files == 1
    with pytest.raises(AlreadyExists):
        tx.dataset_add(name, [DEEP, "Size>0"], owner=OWNER, group=GROUP)
    queue = TransferQueue(tx)
    job = queue.create_job(
        owner=OWNER,
        group=GROUP,
        priority=3,
        source=None,
        description="",
        retries=None,
        now=time.time(),
    )
    top = DEEP[: DEEP.index("/", 1)]
    assert queue.add_tree(job, top, "TAPE") == 1
    assert queue.add_tree(job, top, "TAPE") == 0  # queued once per job and SE
    assert queue.add_lfns(job, [LFN], "TAPE") == []
    assert [f.lfn for f in queue.files(job)] == [LFN]


def test_paths_sharing_the_indexed_prefix_stay_apart(tx: CatalogTx) -> None:
    """Directories that agree on their first 512 characters and differ later."""
    stem = _long_dir(3)  # ~750 characters
    inside, sibling = f"{stem}/x", f"{stem}-x"
    mkdirs(tx, inside, sibling)
    add(tx, rec(f"{inside}/a", guid="a"), rec(f"{sibling}/b", guid="b"), rec(f"{stem}/c", guid="c"))
    assert list(tx.find(stem, ["Size>0"])) == [f"{stem}/c", f"{inside}/a"]
    assert [e.lfn for e in tx.walk(stem)] == [f"{stem}/c", inside, f"{inside}/a"]
    assert tx.du(stem).files == 2
    assert tx.du(sibling).files == 1


def test_the_limits_are_checked_at_the_edge() -> None:
    assert validate(LFN) == LFN
    with pytest.raises(InvalidLFN, match="longer than 4096 bytes"):
        validate(LFN + "f")
    with pytest.raises(InvalidLFN, match="component"):
        validate(f"/a/{'x' * 256}")
    assert validate(f"/a/{'é' * 127}")  # 254 bytes


@pytest.mark.postgres
def test_postgres_plans_use_the_path_indexes(postgres_schema_url: str) -> None:
    """The exclusion constraint serves lookups, the prefix B-tree subtree ranges."""
    catalog = CatalogClass(postgres_schema_url)
    catalog.upgrade()
    try:
        with catalog.transaction() as tx:
            mkdirs(tx, *(f"/d{i:04d}/sub" for i in range(2000)))
            tx._q("ANALYZE directories")
            below, params = subtree("d", "/d0042", sqlite=False)
            lookup = tx._fetchall("EXPLAIN SELECT id FROM directories WHERE path = ?", ["/d0042"])
            ranged = tx._fetchall(f"EXPLAIN SELECT d.id FROM directories d WHERE {below}", params)
    finally:
        catalog.close()
    assert "ex_directories_path" in str(lookup)
    assert "ix_directories_path_prefix" in str(ranged)


def test_other_overlong_index_keys_are_a_clear_error(catalog: Catalog) -> None:
    """A DN passes its check at 1,024 characters; in four-byte characters it is 4 KB."""
    rng = random.Random(3)  # random characters: nothing for an index to compress
    dn = "/CN=" + "".join(chr(rng.randrange(0x20000, 0x2A6E0)) for _ in range(1020))
    if catalog.engine.dialect.name == "sqlite":
        with catalog.transaction() as tx:
            assert AccessControl(tx).add_user("bob", dns=[dn]).dns == (dn,)
        return
    with (
        pytest.raises(InvalidArgument, match="value too long for a PostgreSQL index"),
        catalog.transaction() as tx,
    ):
        AccessControl(tx).add_user("bob", dns=[dn])
    with catalog.reader() as tx:
        assert "bob" not in {u.name for u in AccessControl(tx).list_users()}
