"""Walking a directory tree one listing at a time (for SEs with real directories)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfc.errors import NotADirectory, NotFound

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from dfc.models import FileInfo

__all__ = ["walk_tree"]


async def walk_tree(
    ls: Callable[[str], Awaitable[list[FileInfo]]],
    stat: Callable[[str], Awaitable[FileInfo]],
    top: str,
) -> AsyncIterator[FileInfo]:
    """Yield every file below the normalized path ``top``, depth first, sorted per level.

    Only one directory listing is held at a time per level. A missing ``top``
    (or a directory vanishing meanwhile) yields nothing; a file yields itself.

    Raises:
        DFCError: a listing failed for another reason than a missing directory.
    """
    stack = [top]
    while stack:
        current = stack.pop()
        try:
            entries = await ls(current)
        except NotFound:
            continue
        except NotADirectory:
            if current == top:
                yield await stat(top)
            continue
        subdirs = []
        for entry in entries:
            if entry.type == "directory":
                subdirs.append(entry.path)
            else:
                yield entry
        stack.extend(reversed(subdirs))
