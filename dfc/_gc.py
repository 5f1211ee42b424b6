"""Pausing the cyclic garbage collector around bulk work that makes no cycles.

Start-up (importing typer, SQLAlchemy and dfc) and bulk catalogue answers
create hundreds of thousands of long-lived objects without reference cycles;
the collector, triggered by the allocations, would scan the whole heap again
and again for nothing. Reference counting still frees everything as usual.
"""

from __future__ import annotations

import contextlib
import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["gc_paused"]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the ``with`` block (no-op if already off).

    It runs again as usual afterwards, also when the block raises. Only for
    blocks that do not yield to other code (never around a generator's yields).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
