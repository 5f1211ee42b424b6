"""The public API facade: :class:`DFC` and the result types of its operations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfc._lazy import lazy_exports
from dfc.api._facade import DFC
from dfc.api._results import GetResult, InitResult, RemoveResult, ReplicateResult, SEProbe

if TYPE_CHECKING:
    from dfc.api._authz import Policy, WhoAmI
    from dfc.api._remote import RemoteCatalog
    from dfc.api._service import CatalogService
    from dfc.catalog.identities import FqanRule, GridmapImport, GroupInfo, UserInfo

__all__ = [
    "DFC",
    "CatalogService",
    "FqanRule",
    "GetResult",
    "GridmapImport",
    "GroupInfo",
    "InitResult",
    "Policy",
    "RemoteCatalog",
    "RemoveResult",
    "ReplicateResult",
    "SEProbe",
    "UserInfo",
    "WhoAmI",
]

# The server and remote-catalogue parts load on first use (CLI start-up time).
_LAZY = {
    "CatalogService": "dfc.api._service",
    "FqanRule": "dfc.catalog.identities",
    "GridmapImport": "dfc.catalog.identities",
    "GroupInfo": "dfc.catalog.identities",
    "Policy": "dfc.api._authz",
    "RemoteCatalog": "dfc.api._remote",
    "UserInfo": "dfc.catalog.identities",
    "WhoAmI": "dfc.api._authz",
}


__getattr__ = lazy_exports(__name__, _LAZY)
