"""Schema management, transactions and error translation."""

from __future__ import annotations

import sqlite3
import threading
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from dfc.catalog import HEAD, Catalog, _version
from dfc.errors import CatalogError, CatalogUnavailable, LFNNotFound
from dfc.models import SEInfo
from tests.catalog.helpers import GROUP, OWNER, add, mkdirs, rec

if TYPE_CHECKING:
    from pathlib import Path


def _stamp(cat: Catalog, revision: str) -> None:
    with cat.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def test_upgrade_is_idempotent_and_creates_root(catalog: Catalog) -> None:
    catalog.upgrade()
    catalog.upgrade()
    catalog.check_schema()
    assert catalog.schema_revision() == HEAD
    with catalog.reader() as tx:
        root = tx.lookup("/")
    assert root.is_dir
    assert root.ctime.tzinfo is not None
    assert root.ctime.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_upgrade_creates_sqlite_file_and_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "catalog.db"
    cat = Catalog(f"sqlite:///{path}")
    try:
        cat.upgrade()
        assert path.is_file()
        cat.check_schema()
    finally:
        cat.close()


def _page_size_and_journal(path: Path) -> tuple[int, str]:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA page_size").fetchone()[0], con.execute(
            "PRAGMA journal_mode"
        ).fetchone()[0]
    finally:
        con.close()


def test_new_sqlite_catalogue_has_16k_pages_and_an_older_keeps_its_own(tmp_path: Path) -> None:
    new, old = tmp_path / "new.db", tmp_path / "old.db"
    con = sqlite3.connect(old)  # a catalogue file made with SQLite's default pages
    con.execute("PRAGMA page_size=4096")
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    for path in (new, old):
        cat = Catalog(f"sqlite:///{path}")
        try:
            cat.upgrade()
            with cat.transaction() as tx:
                tx.add_se(SEInfo("DISK", "file:///disk"))
                add(tx, rec("/a/f1"), rec("/a/f2"))
            with cat.reader() as tx:
                assert sorted(e.lfn for e in tx.list_dir("/a")) == ["/a/f1", "/a/f2"]
        finally:
            cat.close()
    assert _page_size_and_journal(new) == (16384, "wal")
    assert _page_size_and_journal(old) == (4096, "wal")


def test_check_schema_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "none" / "catalog.db"
    cat = Catalog(f"sqlite:///{path}")
    with pytest.raises(CatalogError, match="not initialised; run `dfc init`"):
        cat.check_schema()
    assert not path.exists()
    cat.close()


def test_check_schema_on_empty_database(catalog_url: str) -> None:
    cat = Catalog(catalog_url)
    try:
        if catalog_url.startswith("sqlite"):
            cat.engine.connect().close()  # an empty but existing file
        with pytest.raises(CatalogError, match="not initialised; run `dfc init`"):
            cat.check_schema()
    finally:
        cat.close()


def test_check_schema_older_revision(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend this dfc knows a newer revision than the one in the database.
    monkeypatch.setattr(_version, "REVISIONS", (*_version.REVISIONS, "9999"))
    monkeypatch.setattr(_version, "HEAD", "9999")
    with pytest.raises(CatalogError, match=r"older than this dfc; run `dfc init` to upgrade"):
        catalog.check_schema()


def test_check_schema_unknown_revision(catalog: Catalog) -> None:
    _stamp(catalog, "abcdef")
    with pytest.raises(CatalogError, match="unknown to this dfc"):
        catalog.check_schema()


def test_url_masks_password() -> None:
    cat = Catalog("postgresql+psycopg://user:secret@127.0.0.1:1/db")
    assert "secret" not in cat.url
    assert "user" in cat.url
    assert "secret" not in repr(cat)
    cat.close()


def test_invalid_url() -> None:
    with pytest.raises(CatalogError):
        Catalog("not a url")


def test_transaction_rolls_back_on_exception(catalog: Catalog) -> None:
    class Boom(Exception):
        pass

    def fail_midway() -> None:
        with catalog.transaction() as tx:
            mkdirs(tx, "/juno/a")
            add(tx, rec("/juno/a/f", ses=()))
            raise Boom

    with pytest.raises(Boom):
        fail_midway()
    with catalog.reader() as tx:
        assert not tx.stat(["/juno", "/juno/a/f"]).succeeded
        with pytest.raises(LFNNotFound):
            tx.lookup("/juno")


def test_transaction_commits(catalog: Catalog) -> None:
    with catalog.transaction() as tx:
        mkdirs(tx, "/juno")
    with catalog.reader() as tx:
        assert tx.lookup("/juno").is_dir


def test_reader_is_read_only(catalog: Catalog) -> None:
    with pytest.raises(CatalogError, match=r"read-only|readonly"), catalog.reader() as tx:
        tx.mkdir(["/x"], parents=True, owner=OWNER, group=GROUP)
    with catalog.reader() as tx, pytest.raises(LFNNotFound):
        tx.lookup("/x")


def test_pooled_connection_switches_between_reader_and_writer(catalog_url: str) -> None:
    # One pooled connection serves writer, reader, writer, reader: each gets its mode.
    cat = Catalog(catalog_url, pool_size=1)
    try:
        cat.upgrade()
        for i in range(2):
            with cat.transaction() as tx:
                mkdirs(tx, f"/w{i}")
            with pytest.raises(CatalogError, match=r"read-only|readonly"), cat.reader() as tx:
                tx.mkdir([f"/r{i}"], parents=True, owner=OWNER, group=GROUP)
        with cat.reader() as tx:
            assert tx.stat(["/w0", "/w1"]).ok
            assert not tx.stat(["/r0", "/r1"]).succeeded
    finally:
        cat.close()


@pytest.mark.parametrize("size", [0, -3])
def test_invalid_pool_size(size: int) -> None:
    with pytest.raises(CatalogError, match="pool size"):
        Catalog("sqlite://", pool_size=size)


def test_unreachable_server_is_catalog_unavailable() -> None:
    from tests.servers._proc import free_port

    cat = Catalog(f"postgresql+psycopg://u@127.0.0.1:{free_port()}/db")
    try:
        with pytest.raises(CatalogUnavailable) as info:
            cat.check_schema()
        assert info.value.retryable
    finally:
        cat.close()


def test_sqlite_locked_is_catalog_unavailable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    first = Catalog(url)
    second = Catalog(url, busy_timeout=0.05)
    first.upgrade()
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with first.transaction() as tx:
            mkdirs(tx, "/held")
            holding.set()
            release.wait(10)

    worker = threading.Thread(target=hold)
    worker.start()
    try:
        assert holding.wait(10)
        with pytest.raises(CatalogUnavailable, match="locked"), second.transaction() as tx:
            mkdirs(tx, "/other")
        with second.reader() as tx:  # WAL: readers are not blocked by the writer
            assert tx.lookup("/").is_dir
    finally:
        release.set()
        worker.join()
        first.close()
        second.close()


def test_uninitialised_database_query_is_catalog_error(catalog_url: str) -> None:
    cat = Catalog(catalog_url)
    try:
        with pytest.raises(CatalogError, match="not initialised"), cat.reader() as tx:
            tx.lookup("/")
    finally:
        cat.close()


def test_translate_maps_integrity_error(catalog: Catalog) -> None:
    from dfc.catalog._errors import translate
    from dfc.errors import AlreadyExists

    sql = text(
        "INSERT INTO storage_elements (name, url, site, read_allowed, write_allowed) "
        "VALUES ('X', 'u', '', true, true), ('X', 'u', '', true, true)"
    )
    with (
        pytest.raises(AlreadyExists, match="constraint"),
        translate(),
        catalog.engine.begin() as conn,
    ):
        conn.execute(sql)


def test_translate_maps_other_errors(catalog: Catalog) -> None:
    from dfc.catalog._errors import translate

    with (
        pytest.raises(CatalogError, match="catalogue error"),
        translate(),
        catalog.engine.begin() as conn,
    ):
        conn.execute(text("SELECT no_such_column FROM directories"))


@pytest.mark.postgres
def test_fresh_database_per_test(postgres_url: str) -> None:
    cat = Catalog(postgres_url)
    try:
        with pytest.raises(CatalogError, match="not initialised"):
            cat.check_schema()
        cat.upgrade()
        cat.check_schema()
    finally:
        cat.close()
