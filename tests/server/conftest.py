"""Fixtures of the server tests: the test PKI, seeded catalogues, guarded transactions."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

from dfc.api._authz import Gate, Policy
from dfc.api._guarded import GuardedTx
from dfc.catalog import Catalog
from tests.auth.fixtures import pki, trust
from tests.server.helpers import seed

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

    from dfc.auth import Identity

__all__ = ["catalog", "guarded", "pki", "trust"]


@pytest.fixture
def catalog(tmp_path: Path, pki: object) -> Iterator[Catalog]:
    """A seeded SQLite catalogue (see tests.server.helpers.seed)."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    seed(url, pki, tmp_path / "se")  # type: ignore[arg-type]
    cat = Catalog(url)
    try:
        yield cat
    finally:
        cat.close()


@pytest.fixture
def guarded(catalog: Catalog) -> Callable[[Identity], AbstractContextManager[GuardedTx]]:
    """``with guarded(identity) as tx:`` a write transaction authorised for ``identity``."""
    gate = Gate(Policy(), ttl=0)

    @contextmanager
    def make(identity: Identity) -> Iterator[GuardedTx]:
        with catalog.transaction() as tx:
            yield GuardedTx(tx, gate.authorizer(tx, identity, "users"))

    return make
