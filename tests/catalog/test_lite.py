"""A SQLite catalogue file on ``sqlite3`` alone: SQLAlchemy only when a Core statement needs it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from typing import TYPE_CHECKING

import pytest

from dfc.catalog import Catalog, resolve_principal
from dfc.catalog._lite import lite_database
from dfc.catalog.identities import AccessControl
from dfc.errors import AlreadyExists, CatalogError, CatalogUnavailable, LFNNotFound
from dfc.models import FileRecord, Replica, SEInfo
from tests.catalog.helpers import GROUP, OWNER

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "catalog.db"


@pytest.fixture
def cat(db: Path) -> Iterator[Catalog]:
    catalog = Catalog(f"sqlite:///{db}")
    catalog.upgrade()
    with catalog.transaction() as tx:
        tx.add_se(SEInfo("A", "file:///a"))
    try:
        yield catalog
    finally:
        catalog.close()


def _record(lfn: str) -> FileRecord:
    return FileRecord(lfn, 3, "00000001", None, "", (Replica("A", ""),))


def _python(code: str) -> str:
    """Run ``code`` in a fresh interpreter; return what it printed."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///catalog.db", "catalog.db"),
        ("sqlite:////data/dfc/catalog.db", "/data/dfc/catalog.db"),
        ("sqlite+pysqlite:////data/c.db", "/data/c.db"),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:c.db?mode=ro&uri=true", None),
        ("sqlite:////data/c.db?timeout=5", None),
        ("sqlite:////data/a%20b.db", None),
        ("sqlite+aiosqlite:////data/c.db", None),
        ("postgresql+psycopg://u@h/db", None),
    ],
)
def test_which_urls_are_opened_on_sqlite3(url: str, path: str | None) -> None:
    assert lite_database(url) == path


def test_namespace_work_imports_no_sqlalchemy(cat: Catalog, db: Path) -> None:
    printed = _python(
        f"""
        import sys
        from dfc.catalog import Catalog, resolve_principal
        from dfc.models import FileRecord, Replica

        cat = Catalog("sqlite:///{db}")
        cat.check_schema()
        with cat.transaction() as tx:
            tx.mkdir(["/d"], parents=True, owner="u", group="g")
            rec = FileRecord("/d/f", 3, "00000001", None, "", (Replica("A", ""),))
            assert tx.add_files([rec], owner="u", group="g").ok
        with cat.reader() as tx:
            resolve_principal(tx, "local:u")
            assert [e.lfn for e in tx.list_dir("/d", with_replicas=True)] == ["/d/f"]
            assert tx.lookup("/d/f").replicas[0].se == "A"
            assert [s.name for s in tx.list_ses()] == ["A"]
        cat.close()
        print(sorted(m for m in sys.modules if m.split(".")[0] == "sqlalchemy"))
        """
    )
    assert printed == "[]"


def test_cli_put_ls_get_import_no_sqlalchemy(tmp_path: Path) -> None:
    local = tmp_path / "in.dat"
    local.write_bytes(b"payload")
    env = {
        **os.environ,
        "PYTHONPATH": ROOT,
        "DFC_CONFIG": str(tmp_path / "c.toml"),
        "DFC_DATA_DIR": str(tmp_path / "data"),
    }
    env.pop("DFC_CATALOG", None)
    dfc = [sys.executable, "-m", "dfc"]
    for argv in (
        ["init"],
        ["se", "add", "A", f"file://{tmp_path}/se"],
        ["se", "add", "B", f"file://{tmp_path}/se-b"],
    ):
        subprocess.run([*dfc, *argv], env=env, check=True, capture_output=True)
    # Each command in an interpreter of its own, which says at exit what it loaded.
    run = (
        "import atexit, runpy, sys\n"
        "atexit.register(lambda: print('sqlalchemy', 'sqlalchemy' in sys.modules))\n"
        "sys.argv = ['dfc', *sys.argv[1:]]\n"
        "runpy.run_module('dfc', run_name='__main__')\n"
    )
    for argv in (
        ["put", str(local), "/in.dat", "--se", "A"],
        ["ls", "-l", "/"],
        ["stat", "/in.dat"],
        ["get", "/in.dat", str(tmp_path / "out.dat")],
        ["replicate", "/in.dat", "--to", "B"],
        ["chmod", "600", "/in.dat"],
        ["rm", "--se", "A", "/in.dat"],
    ):
        done = subprocess.run(
            [sys.executable, "-c", run, *argv], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-1] == "sqlalchemy False", argv
    assert (tmp_path / "out.dat").read_bytes() == b"payload"
    assert (tmp_path / "se-b" / "in.dat").read_bytes() == b"payload"
    assert not (tmp_path / "se" / "in.dat").exists()
    shown = subprocess.run([*dfc, "stat", "--json", "/in.dat"], env=env, capture_output=True)
    assert json.loads(shown.stdout)[0]["mode"] == "0600"


def test_driver_results_read_as_sqlalchemys(cat: Catalog) -> None:
    with cat.transaction() as tx:
        tx.mkdir(["/a", "/b"], parents=True, owner=OWNER, group=GROUP)
        rows = tx._q(
            "SELECT path FROM directories WHERE path IN (?, ?) ORDER BY path", ["/a", "/b"]
        )
        assert [r[0] for r in rows] == ["/a", "/b"]
        assert rows.first() == ("/a",)
        assert tx._q("SELECT count(*) FROM directories WHERE path = ?", ["/a"]).scalar_one() == 1
        assert tx._q("UPDATE directories SET mode = ? WHERE path = ?", [0o700, "/a"]).rowcount == 1
        assert tx._q("SELECT 1 WHERE 0").first() is None
    with pytest.raises(CatalogError, match="No row was found"), cat.reader() as tx:
        tx._q("SELECT 1 WHERE 0").one()
    with pytest.raises(CatalogError, match="Multiple rows"), cat.reader() as tx:
        tx._q("SELECT path FROM directories").scalar_one()


def test_core_statements_share_the_transaction(cat: Catalog) -> None:
    # AccessControl writes with SQLAlchemy Core, the namespace with driver SQL:
    # both in one transaction, undone together.
    with cat.reader() as tx:
        before = [u.name for u in AccessControl(tx).list_users()]

    def both_then_fail() -> None:
        with cat.transaction() as tx:
            tx.mkdir(["/gone"], parents=True, owner=OWNER, group=GROUP)
            AccessControl(tx).add_user("alice", dns=["local:alice"])
            assert [u.name for u in AccessControl(tx).list_users()] == sorted([*before, "alice"])
            assert AccessControl(tx).get_user("alice").dns == ("local:alice",)
            assert tx.lookup("/gone").type == "directory"
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        both_then_fail()
    with cat.reader() as tx:
        assert [u.name for u in AccessControl(tx).list_users()] == before
        with pytest.raises(LFNNotFound):
            tx.lookup("/gone")
    with cat.transaction() as tx:
        AccessControl(tx).add_user("alice", dns=["local:alice"], group="juno")
        tx.mkdir(["/kept"], parents=True, owner=OWNER, group=GROUP)
        # SQLAlchemy's connection closed, the transaction goes on on the driver.
        assert tx.add_files([_record("/kept/f")], owner=OWNER, group=GROUP).ok
    with cat.reader() as tx:
        res = resolve_principal(tx, "local:alice")
        assert res.user is not None
        assert res.primary_group == "juno"
        assert tx.lookup("/kept/f").size == 3


def test_reader_after_writer_on_one_pooled_connection_is_read_only(cat: Catalog) -> None:
    with cat.transaction() as tx:
        raw = tx._conn.connection
        tx.mkdir(["/w"], parents=True, owner=OWNER, group=GROUP)
    with cat.reader() as tx:
        assert tx._conn.connection is raw  # reused
    with pytest.raises(CatalogError, match="readonly"), cat.reader() as tx:
        tx.mkdir(["/r"], parents=True, owner=OWNER, group=GROUP)
    with cat.transaction() as tx:
        assert tx._conn.connection is raw
        tx.mkdir(["/w2"], parents=True, owner=OWNER, group=GROUP)
    with cat.reader() as tx:
        assert tx.lookup("/w2").type == "directory"


def test_failed_transaction_leaves_a_usable_connection(cat: Catalog) -> None:
    def clash() -> None:
        with cat.transaction() as tx:
            tx.mkdir(["/x"], parents=True, owner=OWNER, group=GROUP)
            tx._exec(
                "INSERT INTO storage_elements (name, url, site, read_allowed, write_allowed) "
                "VALUES ('A', 'u', '', 1, 1)"
            )

    with pytest.raises(AlreadyExists, match="constraint"):
        clash()
    with cat.transaction() as tx:
        tx.mkdir(["/y"], parents=True, owner=OWNER, group=GROUP)
    with cat.reader() as tx:
        assert tx.lookup("/y").type == "directory"
        with pytest.raises(LFNNotFound):
            tx.lookup("/x")


def test_locked_database_is_catalog_unavailable_and_changes_nothing(db: Path, cat: Catalog) -> None:
    quick = Catalog(f"sqlite:///{db}", busy_timeout=0.2)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(CatalogUnavailable, match="locked"), quick.transaction() as tx:
            tx.mkdir(["/never"], parents=True, owner=OWNER, group=GROUP)
        holder.execute("ROLLBACK")
        with quick.reader() as tx, pytest.raises(LFNNotFound):
            tx.lookup("/never")
    finally:
        holder.close()
        quick.close()


def test_not_a_database_is_a_catalog_error(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.db"
    bad.write_bytes(b"this is not a database" * 100)
    cat = Catalog(f"sqlite:///{bad}")
    try:
        with pytest.raises(CatalogError, match="not a database"):
            cat.check_schema()
    finally:
        cat.close()


def test_closed_catalogue_reopens(cat: Catalog) -> None:
    with cat.transaction() as tx:
        old = tx._conn.connection
    cat.close()
    with pytest.raises(sqlite3.ProgrammingError):
        old.execute("SELECT 1")  # the idle connection was closed
    with cat.transaction() as tx:
        assert tx._conn.connection is not old
        tx.mkdir(["/again"], parents=True, owner=OWNER, group=GROUP)
    with cat.reader() as tx:
        assert tx.lookup("/again").type == "directory"


def test_forked_child_opens_its_own_connections(cat: Catalog) -> None:
    with cat.transaction() as tx:
        parent = id(tx._conn.connection)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's outcome is its exit status
        status = 1
        try:
            with cat.transaction() as tx:
                if id(tx._conn.connection) != parent:
                    tx.mkdir(["/child"], parents=True, owner=OWNER, group=GROUP)
                    status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with cat.reader() as tx:
        assert tx.lookup("/child").type == "directory"


def test_threads_mixing_core_and_driver_sql(cat: Catalog) -> None:
    # Every thread's Core statements run on its own transaction's connection.
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                with cat.transaction() as tx:
                    AccessControl(tx).add_user(f"u{n}x{i}", dns=[f"local:u{n}x{i}"])
                    tx.mkdir([f"/t{n}/d{i}"], parents=True, owner=OWNER, group=GROUP)
                    assert tx.add_files([_record(f"/t{n}/d{i}/f")], owner=OWNER, group=GROUP).ok
                with cat.reader() as tx:
                    res = resolve_principal(tx, f"local:u{n}x{i}")
                    assert res.user is not None
                    assert res.user.name == f"u{n}x{i}"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with cat.reader() as tx:
        names = {u.name for u in AccessControl(tx).list_users()}
        assert {f"u{n}x{i}" for n in range(6) for i in range(20)} <= names
        assert sum(1 for _ in tx.walk("/", files_only=True)) == 6 * 20
