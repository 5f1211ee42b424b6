"""`dfc init` upgrades a catalogue made by an older dfc, keeping its contents."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from dfc.catalog import HEAD, Catalog, _migrate
from tests.conftest import CLI


def test_init_upgrades_first_schema_with_data(cli: CLI, dfc_home: Path, tmp_path: Path) -> None:
    db = dfc_home / "data" / "catalog.db"
    db.parent.mkdir(parents=True)
    old = Catalog(f"sqlite:///{db}")
    with old.engine.begin() as conn:
        _migrate.upgrade(conn, "0001")
    old.close()
    # Rows as dfc 0.1's first schema wrote them: one file with a replica.
    se_root = tmp_path / "se"
    (se_root / "juno").mkdir(parents=True)
    (se_root / "juno" / "a.root").write_bytes(b"hello")
    with sqlite3.connect(db) as raw:
        now = "2026-01-01 00:00:00.000000"
        raw.execute(
            "INSERT INTO directories (path, parent_id, owner, grp, mode, ctime, mtime) "
            "VALUES ('/juno', 1, 'alice', 'juno', 509, ?, ?)",
            (now, now),
        )
        dir_id = raw.execute("SELECT id FROM directories WHERE path = '/juno'").fetchone()[0]
        raw.execute(
            "INSERT INTO files (dir_id, name, size, adler32, xxh3, guid, status, owner, grp, mode,"
            " ctime, mtime) VALUES (?, 'a.root', 5, '062c0215', NULL, 'G-1', 'good', 'alice',"
            " 'juno', 420, ?, ?)",
            (dir_id, now, now),
        )
        raw.execute(
            "INSERT INTO storage_elements (name, url, site, read_allowed, write_allowed) "
            "VALUES ('OLD-DISK', ?, 'IHEP', 1, 1)",
            (f"file://{se_root}",),
        )
        raw.execute(
            "INSERT INTO replicas (file_id, se_id, path, status, ctime) "
            "SELECT f.id, s.id, '/juno/a.root', 'good', ? FROM files f, storage_elements s",
            (now,),
        )
    stale = cli("ls", "/juno")
    assert stale.code != 0 and "dfc init" in stale.err
    cli.ok("init")
    assert Catalog(f"sqlite:///{db}").schema_revision() == HEAD
    assert cli.ok("ls", "/juno").out.split() == ["a.root"]
    du = json.loads(cli.ok("du", "/juno", "--json").out)  # counters rebuilt for old rows
    assert (du["files"], du["bytes"]) == (1, 5)
    assert du["ses"] == {"OLD-DISK": {"files": 1, "bytes": 5}}
    cli.ok("get", "/juno/a.root", tmp_path / "a")
    assert (tmp_path / "a").read_bytes() == b"hello"
    cli.ok("init")  # idempotent on the newest schema
