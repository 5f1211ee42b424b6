"""Physical removal of replicas: the storage half of ``rm``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dfc.errors import DFCError, NotFound, SEBanned

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dfc.api._storage import Storage
    from dfc.models import Entry

__all__ = ["Removal", "remove_physical"]


@dataclass(slots=True)
class Removal:
    """Outcome of removing some replicas of one file.

    Attributes:
        removed: SEs whose copy is gone (or was already missing).
        errors: SEs whose copy could not be removed, with the error.
    """

    removed: list[str] = field(default_factory=list)
    errors: dict[str, DFCError] = field(default_factory=dict)


async def remove_physical(
    entries: Sequence[Entry], storage: Storage, *, se: str | None, concurrency: int
) -> dict[str, Removal]:
    """Remove the physical copies of ``entries`` (only those at ``se`` if given).

    A copy already missing on its SE counts as removed. Nothing is raised: each
    file's :class:`Removal` says what happened.
    """
    limit = asyncio.Semaphore(concurrency)
    out: dict[str, Removal] = {e.lfn: Removal() for e in entries}

    async def one(entry: Entry, se_name: str, path: str) -> None:
        async with limit:
            result = out[entry.lfn]
            try:
                if not storage.info(se_name).write:
                    raise SEBanned(f"storage element {se_name} is banned for writing")
                await storage.get(se_name).rm(path)
            except NotFound:
                result.removed.append(se_name)
            except DFCError as exc:
                result.errors[se_name] = exc
            else:
                result.removed.append(se_name)

    await asyncio.gather(
        *(
            one(entry, rep.se, rep.path)
            for entry in entries
            for rep in entry.replicas
            if se is None or rep.se == se
        )
    )
    return out
