"""Migrations: an older catalogue with data upgrades (and downgrades) without loss.

Each test runs on SQLite and PostgreSQL (the ``catalog_url`` fixture).
"""

from __future__ import annotations

import re
from calendar import timegm
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.command import downgrade
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect, text

from dfc.catalog import HEAD, Catalog, _migrate
from dfc.catalog.identities import AccessControl
from dfc.catalog.schema import metadata
from dfc.models import SEInfo
from tests.catalog.helpers import add, rec

if TYPE_CHECKING:
    from pathlib import Path


def _at(cat: Catalog, revision: str) -> None:
    with cat._connect(write=True) as conn, conn.begin():
        _migrate.upgrade(conn, revision)


def _down(cat: Catalog, revision: str) -> None:
    with cat._connect(write=True) as conn, conn.begin():
        downgrade(_migrate._config(conn), revision)


def _replicas(cat: Catalog, lfns: list[str]) -> dict[str, list[tuple[str, str, str]]]:
    with cat.reader() as tx:
        res = tx.replicas(lfns)
    assert res.ok, res.failed
    return {lfn: [(r.se, r.pfn, r.status) for r in reps] for lfn, reps in res.succeeded.items()}


@pytest.fixture
def old_catalog(catalog_url: str) -> Catalog:
    """A catalogue at revision 0004 (replicas with a surrogate id) holding 50 files."""
    cat = Catalog(catalog_url)
    _at(cat, "0004")
    with cat.transaction() as tx:
        tx.add_se(SEInfo("DISK", "file:///data/disk/", site="IHEP"))
        tx.add_se(SEInfo("TAPE", "root://tape.example.org//store", site="CNAF"))
        tx.mkdir(["/juno/old"], parents=True, owner="alice", group="juno")
        add(tx, *(rec(f"/juno/old/f{i:02d}", ses=("TAPE", "DISK")) for i in range(50)))
    return cat


def test_upgrade_keys_replicas_by_file_and_se(old_catalog: Catalog) -> None:
    lfns = [f"/juno/old/f{i:02d}" for i in range(50)]
    before = _replicas(old_catalog, lfns)
    old_catalog.upgrade()
    assert old_catalog.schema_revision() == HEAD
    assert _replicas(old_catalog, lfns) == before
    insp = inspect(old_catalog.engine)
    assert insp.get_pk_constraint("replicas")["constrained_columns"] == ["file_id", "se_id"]
    assert "id" not in {c["name"] for c in insp.get_columns("replicas")}
    if old_catalog.engine.dialect.name == "sqlite":
        with old_catalog.engine.connect() as conn:
            ddl = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'replicas'")
            ).scalar_one()
        assert "WITHOUT ROWID" in ddl
    # The upgraded table works for every write path: add, remove one replica, remove a file.
    with old_catalog.transaction() as tx:
        add(tx, rec("/juno/old/new", ses=("DISK", "TAPE")))
        assert tx.remove_replicas([("/juno/old/f00", "TAPE")]).ok
        assert tx.remove_files(["/juno/old/f01"]).ok
    got = _replicas(old_catalog, ["/juno/old/f00", "/juno/old/new"])
    assert [se for se, _, _ in got["/juno/old/f00"]] == ["DISK"]
    assert [se for se, _, _ in got["/juno/old/new"]] == ["DISK", "TAPE"]
    old_catalog.close()


def test_downgrade_and_upgrade_again_keep_the_replicas(old_catalog: Catalog) -> None:
    lfns = [f"/juno/old/f{i:02d}" for i in range(50)]
    before = _replicas(old_catalog, lfns)
    old_catalog.upgrade()
    _down(old_catalog, "0004")
    assert old_catalog.schema_revision() == "0004"
    insp = inspect(old_catalog.engine)
    assert insp.get_pk_constraint("replicas")["constrained_columns"] == ["id"]
    assert _replicas(old_catalog, lfns) == before
    old_catalog.upgrade()
    assert _replicas(old_catalog, lfns) == before
    old_catalog.close()


def test_migrated_schema_matches_the_tables_the_code_uses(catalog: Catalog) -> None:
    """The core tables declared in ``dfc.catalog.schema`` are what the migrations make.

    (The other tables are only reached through SQL text, so they are not declared.)
    """

    dialect = catalog.engine.dialect.name

    def declared(obj: object, name: str | None, type_: str, *_: object) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in metadata.tables

    with catalog.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": declared})
        assert compare_metadata(ctx, _on(dialect)) == []


def _on(dialect: str) -> MetaData:
    """The declared tables with only the indexes and constraints made on ``dialect``
    (the others are declared with ``.ddl_if(dialect=...)``)."""
    out = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        elsewhere = {
            item.name
            for item in [*table.indexes, *table.constraints]
            if item._ddl_if is not None and item._ddl_if.dialect != dialect
        }
        copy = table.to_metadata(out)  # (the copy does not keep ddl_if)
        copy.indexes -= {ix for ix in copy.indexes if ix.name in elsewhere}
        copy.constraints -= {c for c in copy.constraints if c.name in elsewhere}
    return out


def test_each_backend_gets_its_own_path_indexes(catalog: Catalog) -> None:
    """PostgreSQL's B-tree entries cannot hold a 4,096-byte path (migration 0006)."""
    insp = inspect(catalog.engine)
    indexes = {ix["name"]: ix for ix in insp.get_indexes("directories")}
    if catalog.engine.dialect.name == "sqlite":
        assert [c["column_names"] for c in insp.get_unique_constraints("directories")] == [["path"]]
        assert indexes["ix_directories_parent_id_path"]["column_names"] == ["parent_id", "path"]
        return
    assert insp.get_unique_constraints("directories") == []
    assert indexes["ex_directories_path"]["dialect_options"]["postgresql_using"] == "hash"
    assert indexes["ix_directories_path_prefix"]["expressions"] == ["substr(path, 1, 512)"]
    with catalog.engine.connect() as conn:
        kinds = conn.execute(
            text("SELECT conname FROM pg_constraint WHERE contype = 'x' ORDER BY conname")
        ).scalars()
        assert list(kinds) == [
            "ex_datasets_name",
            "ex_directories_path",
            "ex_fts_files_job_id_dest_se_lfn",
        ]


_TEXT_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")


def _stored(cat: Catalog, sql: str) -> list[Any]:
    with cat.engine.connect() as conn:
        return [row[0] for row in conn.execute(text(sql))]


def _visible(cat: Catalog) -> tuple[Any, ...]:
    """Every kind of time the API shows: directory, file, metadata date, dataset."""
    with cat.reader() as tx:
        d, f = tx.lookup("/t"), tx.lookup("/t/f")
        meta = tx.meta_get("/t/f")
        ds = tx.dataset_show("/t/ds")
    return (
        d.ctime,
        d.mtime,
        f.ctime,
        f.mtime,
        meta["taken"].value,
        meta["born"].value,
        ds.ctime,
        ds.mtime,
    )


def test_sqlite_times_become_integer_microseconds_and_back(tmp_path: Path) -> None:
    """Migration 0007 (SQLite): every time as exact integer microseconds since 1970."""
    cat = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    cat.upgrade()
    with cat.transaction() as tx:
        tx.add_se(SEInfo("DISK", "file:///data/disk/"))
        tx.meta_index("taken", "date", "file")
        tx.meta_index("born", "date", "file")
        add(tx, rec("/t/f"))
        when = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
        early = datetime(1965, 3, 1, 12, 0, 0, 500000, tzinfo=UTC)
        assert tx.meta_set([("/t/f", {"taken": when, "born": early})]).ok
        tx.dataset_add("/t/ds", ["/t", "taken>2020-01-01"], owner="alice", group="juno")
        AccessControl(tx).add_group("juno")
        AccessControl(tx).add_user("alice", group="juno")
    before = _visible(cat)
    tables = (
        "directories",
        "files",
        "replicas",
        "meta_fields",
        "file_meta_date",
        "datasets",
        "auth_users",
        "auth_groups",
    )
    columns = {"file_meta_date": "value"}
    stored = {t: f"SELECT {columns.get(t, 'ctime')} FROM {t}" for t in tables}
    for sql in stored.values():
        assert all(isinstance(v, int) for v in _stored(cat, sql)), sql
    assert sorted(_stored(cat, stored["file_meta_date"])) == [
        timegm((1965, 3, 1, 12, 0, 0)) * 10**6 + 500_000,  # before 1970: negative
        timegm((2024, 3, 1, 12, 0, 0)) * 10**6 + 123_456,
    ]
    _down(cat, "0006")  # SQLAlchemy's text form again, as dfc wrote it before
    for sql in stored.values():
        values = _stored(cat, sql)
        assert values and all(_TEXT_TIME.fullmatch(v) for v in values), (sql, values)
    assert "1965-03-01 12:00:00.500000" in _stored(cat, stored["file_meta_date"])
    with cat.engine.begin() as conn:  # a value written without its fraction
        conn.execute(text("UPDATE datasets SET mtime = '2025-06-30 23:59:59'"))
        # and one that is no time at all (as old dfc wrote year 24: no zero padding)
        conn.execute(text("UPDATE meta_fields SET ctime = '24-03-01 00:00:00.000000' WHERE id = 1"))
    cat.upgrade()
    assert "24-03-01 00:00:00.000000" in _stored(cat, stored["meta_fields"])  # kept as it was
    with cat.engine.begin() as conn:
        conn.execute(text("UPDATE meta_fields SET ctime = 0 WHERE id = 1"))
    after = _visible(cat)
    assert after[:7] == before[:7]
    assert after[7] == datetime(2025, 6, 30, 23, 59, 59, tzinfo=UTC)
    for sql in stored.values():
        assert all(isinstance(v, int) for v in _stored(cat, sql)), sql
    # Queries compare integers with integers: the dataset still finds its file.
    with cat.reader() as tx:
        assert list(tx.dataset_files("/t/ds")) == ["/t/f"]
    cat.close()
