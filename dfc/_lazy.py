"""Names a package exports but imports only on first use (PEP 562).

Start-up of the ``dfc`` command pays only for the modules a command touches;
a package lists its lazily loaded names with the module each comes from::

    __getattr__ = lazy_exports(__name__, {"TransferQueue": "dfc.catalog.queue"})
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(module: str, sources: Mapping[str, str]) -> Callable[[str], Any]:
    """Return a module ``__getattr__`` that imports each of ``sources`` when first asked for.

    ``sources`` maps an exported name to the module that defines it; the value is
    then kept in ``module``'s namespace, so later lookups cost nothing.
    """
    namespace = sys.modules[module].__dict__

    def __getattr__(name: str) -> Any:
        source = sources.get(name)
        if source is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        namespace[name] = value
        return value

    return __getattr__
