"""dfc: grid data management — a file catalogue, storage elements, transfers.

The public API::

    from dfc import DFC, Settings
    with DFC(Settings.load()) as dfc:
        dfc.put(["run1.root"], "/juno/user/a/alice/", se="IHEP-DISK")

Names load on first use (PEP 562), so ``import dfc`` and the command line stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfc._lazy import lazy_exports
from dfc.errors import DFCError

if TYPE_CHECKING:
    from dfc.api import DFC, GetResult, InitResult, RemoveResult, ReplicateResult, SEProbe
    from dfc.config import Settings
    from dfc.models import BulkResult, Entry, FileInfo, FileRecord, Replica, SEInfo, to_json

__version__ = "0.1.0"

__all__ = [
    "BulkResult",
    "DFC",
    "DFCError",
    "Entry",
    "FileInfo",
    "FileRecord",
    "GetResult",
    "InitResult",
    "RemoveResult",
    "Replica",
    "ReplicateResult",
    "SEInfo",
    "SEProbe",
    "Settings",
    "__version__",
    "to_json",
]

_LAZY = {
    "DFC": "dfc.api",
    "GetResult": "dfc.api",
    "InitResult": "dfc.api",
    "RemoveResult": "dfc.api",
    "ReplicateResult": "dfc.api",
    "SEProbe": "dfc.api",
    "Settings": "dfc.config",
    "BulkResult": "dfc.models",
    "Entry": "dfc.models",
    "FileInfo": "dfc.models",
    "FileRecord": "dfc.models",
    "Replica": "dfc.models",
    "SEInfo": "dfc.models",
    "to_json": "dfc.models",
}


__getattr__ = lazy_exports(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
