"""Catalog(echo=True): every statement is logged, also those run on the driver's cursor."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dfc.catalog import Catalog
from dfc.models import FileRecord, Replica, SEInfo


def test_echo_logs_the_statements_of_a_registration(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cat = Catalog(f"sqlite:///{tmp_path}/c.db", echo=True)
    cat.upgrade()
    with cat.transaction() as tx:
        tx.add_se(SEInfo("A", "file:///a"))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):
        with cat.transaction() as tx:
            rec = FileRecord("/d/f", 1, "00000001", None, "", (Replica("A", ""),))
            assert tx.add_files([rec], owner="u", group="g").ok
        with cat.reader() as tx:
            assert tx.stat(["/d/f"]).succeeded["/d/f"].size == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for statement in (
        "BEGIN IMMEDIATE",
        "INSERT INTO files",
        "INSERT INTO replicas",
        "INSERT INTO dir_usage",
        "UPDATE directories SET mtime",
        "PRAGMA query_only=1",
    ):
        assert statement in logged, statement
    cat.close()
