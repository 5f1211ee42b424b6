"""The file catalogue: namespace, files, replicas and the SE registry.

Synchronous SQLAlchemy Core on SQLite or PostgreSQL::

    cat = Catalog("sqlite:///catalog.db")
    cat.upgrade()
    with cat.transaction() as tx:
        tx.mkdir(["/juno/raw"], parents=True, owner="alice", group="juno")

It knows storage elements only as data and never touches storage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfc._lazy import lazy_exports
from dfc.catalog._version import HEAD
from dfc.catalog.db import Catalog
from dfc.catalog.identities import AccessControl
from dfc.catalog.tx import CatalogTx

if TYPE_CHECKING:
    from dfc.catalog.queue import TransferQueue

__all__ = ["HEAD", "AccessControl", "Catalog", "CatalogTx", "TransferQueue"]


# The transfer queue is loaded on first use: namespace commands never need it.
__getattr__ = lazy_exports(__name__, {"TransferQueue": "dfc.catalog.queue"})
