"""Storage elements: where the bytes live.

Open one with :func:`open_se` from its catalogue record; every backend speaks
the small async :class:`StorageElement` protocol and raises only
:class:`~dfc.errors.DFCError` subclasses. Optional capabilities
(:class:`SupportsChecksum`, :class:`SupportsCopy`) are probed with ``isinstance``.
"""

from __future__ import annotations

from dfc.se.base import StorageElement, SupportsChecksum, SupportsCopy
from dfc.se.fsspec_se import FsspecSE
from dfc.se.local import LocalSE
from dfc.se.memory import MemorySE
from dfc.se.registry import ENTRY_POINT_GROUP, known_protocols, open_se, registry, resolve

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
