"""Usage counters: always equal to a recount, never negative (property-based), and du."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from dfc.catalog import Catalog, _migrate
from dfc.catalog._records import SEUsage
from dfc.errors import AlreadyExists, DFCError, LFNNotFound
from dfc.models import Replica, SEInfo
from tests.catalog.helpers import GROUP, OWNER, add, mkdirs, rec

if TYPE_CHECKING:
    from dfc.catalog import CatalogTx

SES = ("DISK", "TAPE", "CNAF")
DIRS = ("/u", "/u/a", "/u/a/b", "/u-x", "/v")
LFNS = tuple(f"{d}/f{i}" for d in DIRS for i in range(3))
PATHS = LFNS + DIRS

_RECOUNT = (
    "SELECT dir_id, 0, COUNT(*), SUM(size) FROM files GROUP BY dir_id "
    "UNION ALL SELECT f.dir_id, r.se_id, COUNT(*), SUM(f.size) FROM replicas r "
    "JOIN files f ON f.id = r.file_id GROUP BY f.dir_id, r.se_id"
)

ses = st.sets(st.sampled_from(SES), max_size=3).map(sorted)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.sampled_from(LFNS), st.integers(0, 3), ses, st.booleans()),
        st.tuples(st.just("replicate"), st.sampled_from(LFNS), st.sampled_from(SES)),
        st.tuples(st.just("rm"), st.sampled_from(LFNS)),
        st.tuples(st.just("rm_se"), st.sampled_from(LFNS), st.sampled_from(SES)),
        st.tuples(
            st.just("mv"), st.sampled_from(PATHS), st.sampled_from(("/", *DIRS)), st.integers(0, 1)
        ),
        st.tuples(st.just("meta"), st.sampled_from(PATHS), st.integers(0, 2)),
        st.tuples(st.just("rmdir"), st.sampled_from(DIRS)),
    ),
    min_size=3,
    max_size=30,
)
#: What each example starts from: files with 0-3 replicas.
START = st.lists(st.tuples(st.sampled_from(LFNS), st.integers(0, 3), ses), max_size=12)


def _apply(tx: CatalogTx, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "put":
        _, lfn, size, where, overwrite = op
        record = rec(lfn, size=size * 1000 + 7, ses=tuple(where))
        tx.add_files([record], owner=OWNER, group=GROUP, overwrite=overwrite)
    elif kind == "replicate":
        tx.add_replicas([(op[1], Replica(op[2], ""))])
    elif kind == "rm":
        tx.remove_files([op[1]])
    elif kind == "rm_se":
        tx.remove_replicas([(op[1], op[2])])
    elif kind == "mv":
        tx.move(op[1], f"{op[2].rstrip('/')}/m{op[3]}")
    elif kind == "meta":
        tx.meta_set([(op[1], {"runH" if op[1] in LFNS else "sv": op[2]})])
    else:
        tx.rmdir([op[1]])


def _check(catalog: Catalog) -> None:
    with catalog.reader() as tx:
        stored = {
            (d, s): (n, b)
            for d, s, n, b in tx._fetchall("SELECT dir_id, se_id, files, bytes FROM dir_usage")
            if n or b
        }
        counted = {(d, s): (int(n), int(b)) for d, s, n, b in tx._fetchall(_RECOUNT)}
        assert stored == counted
        low = tx._fetchall("SELECT MIN(files), MIN(bytes) FROM dir_usage")[0]
        assert all(v is None or v >= 0 for v in low)
        assert tx.usage_mismatches("/") == []
        assert tx.du("/") == tx.du("/", from_files=True)


def _wipe(catalog: Catalog) -> None:
    with catalog.transaction() as tx:
        for sql in (
            "DELETE FROM files",
            "DELETE FROM dir_meta_int",
            "DELETE FROM dir_usage",
            "DELETE FROM directories WHERE path <> '/'",
        ):
            tx._q(sql)


def _property(catalog: Catalog, examples: int) -> None:
    with catalog.transaction() as tx:
        for se in SES:
            tx.add_se(SEInfo(se, f"file:///{se.lower()}"))
        tx.meta_index("sv", "int", "dir")
        tx.meta_index("runH", "int", "file")

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(start=START, ops=OPS)
    def run(start: list[tuple[str, int, list[str]]], ops: list[tuple[Any, ...]]) -> None:
        _wipe(catalog)
        with catalog.transaction() as tx:
            for lfn, size, where in start:
                tx.add_files([rec(lfn, size=size, ses=tuple(where))], owner=OWNER, group=GROUP)
        _check(catalog)
        for op in ops:
            try:
                with catalog.transaction() as tx:
                    _apply(tx, op)
            except DFCError:
                pass  # refused operations change nothing
            _check(catalog)

    run()


def test_counters_equal_a_recount_sqlite(tmp_path: Any) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.upgrade()
    try:
        _property(catalog, examples=200)
    finally:
        catalog.close()


@pytest.mark.postgres
def test_counters_equal_a_recount_postgres(postgres_schema_url: str) -> None:
    catalog = Catalog(postgres_schema_url)
    catalog.upgrade()
    try:
        _property(catalog, examples=25)
    finally:
        catalog.close()


# ---------------------------------------------------------------- du
@pytest.fixture
def tree(tx: CatalogTx) -> CatalogTx:
    add(
        tx,
        rec("/t/a/f1", size=10, ses=("DISK", "TAPE")),
        rec("/t/a/f2", size=20),
        rec("/t/a/b/f3", size=30, ses=("TAPE",)),
        rec("/t/f4", size=40, ses=()),
        rec("/t-x/f5", size=50),
    )
    mkdirs(tx, "/t/empty")
    return tx


def test_du(tree: CatalogTx) -> None:
    u = tree.du("/t")
    assert (u.files, u.bytes, u.directories) == (4, 100, 3)
    assert u.ses == {"DISK": SEUsage(2, 30), "TAPE": SEUsage(2, 40)}
    assert (u.replicas, u.physical_bytes) == (4, 70)
    own = tree.du("/t", own=True)
    assert (own.files, own.bytes, own.directories, own.ses) == (1, 40, 2, {})
    assert tree.du("/").files == 5
    assert tree.du("/t/a/b").ses == {"TAPE": SEUsage(1, 30)}
    f = tree.du("/t/a/f1")
    assert (f.files, f.bytes, f.directories, list(f.ses)) == (1, 10, 0, ["DISK", "TAPE"])
    with pytest.raises(LFNNotFound):
        tree.du("/nowhere")
    for path in ("/", "/t", "/t/a", "/t/empty", "/t-x"):
        assert tree.du(path) == tree.du(path, from_files=True)
        assert tree.du(path, own=True) == tree.du(path, own=True, from_files=True)


def test_recount_repairs(tree: CatalogTx) -> None:
    tree._q("UPDATE dir_usage SET files = files + 5 WHERE se_id = 0")
    assert tree.usage_mismatches("/t")
    tree.recount_usage("/t/a")
    assert [m[0] for m in tree.usage_mismatches("/")] == ["/t", "/t-x"]
    tree.recount_usage("/")
    assert tree.usage_mismatches("/") == []


def test_counters_cannot_go_negative(catalog: Catalog) -> None:
    with catalog.transaction() as tx:
        add(tx, rec("/n/f", ses=()))

    def corrupt() -> None:
        with catalog.transaction() as tx:
            tx._q("UPDATE dir_usage SET files = files - 2")

    with pytest.raises(AlreadyExists, match="constraint"):
        corrupt()


def test_upgrade_counts_existing_files(catalog_url: str) -> None:
    """A catalogue created before the counters existed gets them at upgrade."""
    catalog = Catalog(catalog_url)
    try:
        with catalog.engine.begin() as conn:
            _migrate.upgrade(conn, "0001")
            conn.execute(
                text(
                    "INSERT INTO storage_elements (name, url, site, read_allowed, write_allowed) "
                    "VALUES ('DISK', 'file:///d', '', true, true)"
                )
            )
            root = conn.execute(text("SELECT id FROM directories WHERE path = '/'")).scalar()
            conn.execute(
                text(
                    "INSERT INTO files (dir_id, name, size, adler32, guid, status, owner, grp, "
                    "mode, ctime, mtime) VALUES (:d, 'f', 123, '00000001', 'g', 'good', 'a', "
                    "'b', 420, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"d": root},
            )
            conn.execute(
                text(
                    "INSERT INTO replicas (file_id, se_id, path, status, ctime) "
                    "SELECT f.id, s.id, '/f', 'good', CURRENT_TIMESTAMP "
                    "FROM files f, storage_elements s"
                )
            )
        catalog.upgrade()
        with catalog.reader() as tx:
            u = tx.du("/")
        assert (u.files, u.bytes, u.ses) == (1, 123, {"DISK": SEUsage(1, 123)})
    finally:
        catalog.close()


# ---------------------------------------------------------------- dump
def test_dump(tree: CatalogTx) -> None:
    got = list(tree.dump("/t"))
    # directory by directory (path order), files by name; never /t-x
    assert [e.lfn for e in got] == ["/t/f4", "/t/a/f1", "/t/a/f2", "/t/a/b/f3"]
    f1 = got[1]
    assert (f1.size, f1.adler32, f1.xxh3) == (10, "0001abcd", None)
    assert f1.replicas == (
        ("DISK", "file:///data/disk/t/a/f1"),
        ("TAPE", "root://tape.example.org//store/t/a/f1"),
    )
    assert got[0].replicas == ()
    assert [e.lfn for e in tree.dump("/t/a/f2")] == ["/t/a/f2"]
    assert len(list(tree.dump("/"))) == 5
    with pytest.raises(LFNNotFound):
        tree.dump("/nowhere")


def test_dump_streams_past_a_batch(catalog: Catalog) -> None:
    with catalog.transaction() as tx:
        tx.add_se(SEInfo("DISK", "file:///d"))
        add(tx, *[rec(f"/big/d{i % 3}/f{i:05d}") for i in range(6000)])
    with catalog.reader() as tx:
        lfns = [e.lfn for e in tx.dump("/big")]
    assert len(lfns) == 6000
    assert lfns == sorted(lfns, key=lambda p: (p.rsplit("/", 1)[0], p.rsplit("/", 1)[1]))
