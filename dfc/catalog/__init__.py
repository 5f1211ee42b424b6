"""The file catalogue: namespace, files, replicas and the SE registry.

Synchronous, on SQLite or PostgreSQL: driver-level SQL on the hot paths,
SQLAlchemy Core elsewhere, the engine for PostgreSQL (a plain SQLite file is
opened on ``sqlite3``, SQLAlchemy loaded when a Core statement needs it; see
:mod:`dfc.catalog._lite`)::

    cat = Catalog("sqlite:///catalog.db")
    cat.upgrade()
    with cat.transaction() as tx:
        tx.mkdir(["/juno/raw"], parents=True, owner="alice", group="juno")

It knows storage elements only as data and never touches storage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfc._lazy import lazy_exports
from dfc.catalog._modes import chmod, chown
from dfc.catalog._principals import resolve as resolve_principal
from dfc.catalog._version import HEAD
from dfc.catalog.db import Catalog
from dfc.catalog.tx import CatalogTx

if TYPE_CHECKING:
    from dfc.catalog.identities import AccessControl
    from dfc.catalog.queue import TransferQueue

__all__ = [
    "HEAD",
    "AccessControl",
    "Catalog",
    "CatalogTx",
    "TransferQueue",
    "chmod",
    "chown",
    "resolve_principal",
]


# Loaded on first use: namespace commands never need the transfer queue, and
# the registry's SQLAlchemy tables (resolving a caller does without them).
__getattr__ = lazy_exports(
    __name__,
    {"AccessControl": "dfc.catalog.identities", "TransferQueue": "dfc.catalog.queue"},
)
