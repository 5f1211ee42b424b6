"""Storage elements: where the bytes live.

Open one with :func:`open_se` from its catalogue record; every backend speaks
the small async :class:`StorageElement` protocol and raises only
:class:`~dfc.errors.DFCError` subclasses. Optional capabilities
(:class:`SupportsChecksum`, :class:`SupportsCopy`) are probed with ``isinstance``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfc._lazy import lazy_exports
from dfc.se.base import StorageElement, SupportsChecksum, SupportsCopy
from dfc.se.local import LocalSE
from dfc.se.registry import ENTRY_POINT_GROUP, known_protocols, open_se, registry, resolve

if TYPE_CHECKING:
    from dfc.se.fsspec_se import FsspecSE
    from dfc.se.memory import MemorySE

__all__ = [
    "ENTRY_POINT_GROUP",
    "FsspecSE",
    "LocalSE",
    "MemorySE",
    "StorageElement",
    "SupportsChecksum",
    "SupportsCopy",
    "known_protocols",
    "open_se",
    "registry",
    "resolve",
]

# Loaded on first use (PEP 562): they import fsspec, which local copies never need.
_LAZY = {"FsspecSE": "dfc.se.fsspec_se", "MemorySE": "dfc.se.memory"}


__getattr__ = lazy_exports(__name__, _LAZY)
