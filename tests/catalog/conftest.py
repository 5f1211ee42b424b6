"""The ``catalog`` fixture: an upgraded, empty catalogue on SQLite and on PostgreSQL.

The PostgreSQL fixtures come from ``tests.servers.postgres`` (a plugin registered
in tests/conftest.py): every module gets its own database and every test a fresh
schema in it (``search_path`` set in the URL), dropped afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dfc.catalog import Catalog
from dfc.models import SEInfo

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from dfc.catalog import CatalogTx


@pytest.fixture(
    params=["sqlite", "sqlite-engine", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database on each backend.

    ``sqlite`` is opened on ``sqlite3`` directly (:mod:`dfc.catalog._lite`);
    ``sqlite-engine``, a URL with a query, through SQLAlchemy's engine.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    if request.param == "sqlite-engine":
        return f"sqlite:///{tmp_path / 'catalog.db'}?timeout=30"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    """An upgraded empty catalogue, closed after the test."""
    cat = Catalog(catalog_url)
    cat.upgrade()
    try:
        yield cat
    finally:
        cat.close()


@pytest.fixture
def tx(catalog: Catalog) -> Iterator[CatalogTx]:
    """A write transaction on the catalogue with two SEs registered, committed at the end."""
    with catalog.transaction() as t:
        t.add_se(SEInfo("DISK", "file:///data/disk/", site="IHEP"))
        t.add_se(SEInfo("TAPE", "root://tape.example.org//store", site="CNAF"))
        yield t
