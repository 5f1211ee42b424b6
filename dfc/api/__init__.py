"""The public API facade: :class:`DFC` and the result types of its operations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfc._lazy import lazy_exports
from dfc.api._facade import DFC

if TYPE_CHECKING:
    from dfc.api._authz import Policy, WhoAmI
    from dfc.api._remote import RemoteCatalog
    from dfc.api._results import GetResult, InitResult, RemoveResult, ReplicateResult, SEProbe
    from dfc.api._service import CatalogService
    from dfc.catalog._records import (
        DatasetCheck,
        DatasetInfo,
        DumpEntry,
        MetaField,
        MetaValue,
        SEUsage,
        Usage,
    )
    from dfc.catalog.identities import FqanRule, GridmapImport, GroupInfo, UserInfo

__all__ = [
    "DFC",
    "CatalogService",
    "DatasetCheck",
    "DatasetInfo",
    "DumpEntry",
    "FqanRule",
    "GetResult",
    "GridmapImport",
    "GroupInfo",
    "InitResult",
    "MetaField",
    "MetaValue",
    "Policy",
    "RemoteCatalog",
    "RemoveResult",
    "ReplicateResult",
    "SEProbe",
    "SEUsage",
    "Usage",
    "UserInfo",
    "WhoAmI",
]

# Result types, the server and remote-catalogue parts load on first use (CLI start-up).
_LAZY = {
    "GetResult": "dfc.api._results",
    "InitResult": "dfc.api._results",
    "RemoveResult": "dfc.api._results",
    "ReplicateResult": "dfc.api._results",
    "SEProbe": "dfc.api._results",
    "DatasetCheck": "dfc.catalog._records",
    "DatasetInfo": "dfc.catalog._records",
    "DumpEntry": "dfc.catalog._records",
    "MetaField": "dfc.catalog._records",
    "MetaValue": "dfc.catalog._records",
    "SEUsage": "dfc.catalog._records",
    "Usage": "dfc.catalog._records",
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
