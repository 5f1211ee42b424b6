"""Big SQLite commits leave the write-ahead log's checkpoint to a background thread."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
from typing import TYPE_CHECKING, Any

import pytest

from dfc.catalog import Catalog, _checkpoint
from dfc.catalog import db as dfc_db
from dfc.errors import CatalogError, LFNNotFound
from dfc.models import FileRecord, Replica, SEInfo
from tests.catalog.helpers import GROUP, OWNER
from tests.servers._proc import missing

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# Two replicas each: a file is three changed rows.
BIG = _checkpoint.BIG_COMMIT_ROWS // 3 + 10


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "catalog.db"


@pytest.fixture(params=["", "?timeout=30"], ids=["sqlite3", "engine"])
def suffix(request: pytest.FixtureRequest) -> str:
    """Nothing, or a URL query: the file opened on ``sqlite3``, or through SQLAlchemy's engine."""
    value: str = request.param
    return value


def _new_catalogue(db: Path, suffix: str) -> Catalog:
    """An upgraded catalogue in ``db`` with SEs A and B (closed again if that fails)."""
    cat = Catalog(f"sqlite:///{db}{suffix}")
    try:
        cat.upgrade()
        with cat.transaction() as tx:
            tx.add_se(SEInfo("A", "file:///a"))
            tx.add_se(SEInfo("B", "file:///b"))
    except BaseException:
        cat.close()
        raise
    return cat


@pytest.fixture
def cat(db: Path, suffix: str) -> Iterator[Catalog]:
    catalog = _new_catalogue(db, suffix)
    con = sqlite3.connect(db)  # the schema into the database file
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    yield catalog
    catalog.close()


def _register(cat: Catalog, prefix: str, count: int) -> None:
    records = [
        FileRecord(f"{prefix}/f{i}", i, "00000001", None, "", (Replica("A", ""), Replica("B", "")))
        for i in range(count)
    ]
    with cat.transaction() as tx:
        assert tx.add_files(records, owner=OWNER, group=GROUP).ok


def _in_database_file(db: Path) -> int:
    """Files in the database file itself: what was checkpointed (the log is ignored)."""
    con = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    try:
        (count,) = con.execute("SELECT count(*) FROM files").fetchone()
    finally:
        con.close()
    return int(count)


def _requests(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """Record checkpoint requests instead of running them."""
    calls: list[None] = []
    monkeypatch.setattr(_checkpoint.Checkpointer, "request", lambda self: calls.append(None))
    return calls


def test_big_commit_is_checkpointed_in_the_background(cat: Catalog, db: Path) -> None:
    _register(cat, "/big", BIG)
    assert cat.wait_idle(timeout=60)
    assert _in_database_file(db) == BIG
    with cat.reader() as tx:
        assert sum(1 for _ in tx.list_dir("/big")) == BIG


def test_big_commit_does_not_checkpoint_itself_and_restores_sqlites_own(
    db: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite's own checkpoints at 10 log pages: every commit below passes that.
    setup = dfc_db._sqlite_on_connect

    def checkpoint_often(conn: Any, record: Any) -> None:
        setup(conn, record)
        conn.execute("PRAGMA wal_autocheckpoint=10")

    monkeypatch.setattr(dfc_db, "_sqlite_on_connect", checkpoint_often)
    cat = _new_catalogue(db, suffix)
    try:
        assert _in_database_file(db) == 0  # the schema's commits checkpointed
        calls = _requests(monkeypatch)
        _register(cat, "/big", BIG)
        assert len(calls) == 1
        assert _in_database_file(db) == 0  # still only in the log: not checkpointed
        with cat.reader() as tx:  # on the pooled connection that committed
            cursor = tx._conn.connection.cursor()
            assert cursor.execute("PRAGMA wal_autocheckpoint").fetchone() == (10,)
        _register(cat, "/small", 2)  # a small commit after it checkpoints as SQLite does
        assert len(calls) == 1
        assert _in_database_file(db) == BIG + 2
    finally:
        cat.close()


def test_small_and_failed_transactions_ask_for_no_checkpoint(
    cat: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _requests(monkeypatch)
    _register(cat, "/small", 10)

    def big_then_fail() -> None:
        with cat.transaction() as tx:
            records = [
                FileRecord(f"/gone/f{i}", 1, "00000001", None, "", ()) for i in range(BIG * 3)
            ]
            assert tx.add_files(records, owner=OWNER, group=GROUP).ok
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        big_then_fail()
    assert calls == []
    with cat.reader() as tx, pytest.raises(LFNNotFound):
        tx.lookup("/gone")


def test_closed_catalogue_reopens_and_checkpoints_again(cat: Catalog, db: Path) -> None:
    _register(cat, "/one", BIG)
    cat.close()  # waits for a running checkpoint
    _register(cat, "/two", BIG)
    assert cat.wait_idle(timeout=60)
    assert _in_database_file(db) == 2 * BIG


def test_memory_catalogue_has_no_checkpointer() -> None:
    cat = Catalog("sqlite://")
    try:
        cat.upgrade()
        assert cat._checkpointer is None
        assert cat.wait_idle(timeout=0)
    finally:
        cat.close()


def test_forked_child_checkpoints_in_a_thread_of_its_own(cat: Catalog, db: Path) -> None:
    _register(cat, "/parent", BIG)  # the parent's thread is running
    assert cat.wait_idle(timeout=60)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's outcome is its exit status
        status = 1
        try:
            cat.engine.dispose(close=False)  # the parent's connections stay the parent's
            _register(cat, "/child", BIG)
            if cat.wait_idle(timeout=60) and _in_database_file(db) == 2 * BIG:
                status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_big_commits_of_several_writers_with_readers_meanwhile(cat: Catalog, db: Path) -> None:
    errors: list[BaseException] = []
    seen: list[int] = []

    def write(name: str) -> None:
        try:
            for round_ in range(3):
                _register(cat, f"/{name}/r{round_}", BIG)
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(20):
                with cat.reader() as tx:
                    try:
                        seen.append(sum(1 for _ in tx.list_dir("/w0/r0")))
                    except LFNNotFound:
                        seen.append(0)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(f"w{i}",)) for i in range(2)]
    threads.append(threading.Thread(target=read))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert set(seen) <= {0, BIG}  # a reader sees a directory whole or not at all
    assert cat.wait_idle(timeout=60)
    assert _in_database_file(db) == 6 * BIG


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB file system of its own (tmpfs; needs root)."""
    if os.geteuid() != 0:
        missing("mounting a small tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def _fill(cat: Catalog, committed: list[str]) -> None:
    """Register directories of BIG files until a commit fails; note those committed."""
    for round_ in range(100):
        _register(cat, f"/d{round_}", BIG)
        committed.append(f"/d{round_}")
        assert cat.wait_idle(timeout=60)


def test_full_disk_fails_a_commit_cleanly_and_keeps_what_was_committed(
    small_disk: Path, suffix: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = small_disk / "catalog.db"
    cat = _new_catalogue(db, suffix)
    try:
        committed: list[str] = []
        with pytest.raises(CatalogError, match="disk is full") as err:
            _fill(cat, committed)
        assert "\n" not in str(err.value)
        assert committed  # the first big commit fitted
        with cat.reader() as tx:
            for path in committed:
                assert sum(1 for _ in tx.list_dir(path)) == BIG
            with pytest.raises(LFNNotFound):
                tx.lookup(f"/d{len(committed)}")
        # The log that filled the disk could not be checkpointed either: said, not raised.
        assert any("checkpoint" in r.getMessage() for r in caplog.records)
        # Room again: writes work, and the next checkpoint takes in the whole log.
        subprocess.run(["mount", "-o", "remount,size=32m", str(small_disk)], check=True)
        _register(cat, "/after", BIG)
        assert cat.wait_idle(timeout=60)
        assert _in_database_file(db) == (len(committed) + 1) * BIG
    finally:
        cat.close()
