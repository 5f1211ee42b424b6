"""Path rules shared by the storage elements: SE paths and temporary names."""

from __future__ import annotations

import os
import posixpath

from dfc.errors import InvalidArgument

__all__ = ["is_temp_name", "normalize", "parent", "temp_path"]

#: Marker in the name of a file being written (``.<name>.dfc-part-<hex>``).
TEMP_MARKER = ".dfc-part-"


def normalize(path: str) -> str:
    """Return ``path`` as an absolute, ``/``-separated SE path without ``.``/``..``.

    ``..`` is resolved lexically; a path that climbs above the SE root is refused.

    Raises:
        InvalidArgument: the path escapes the root or contains a NUL byte.
    """
    if "\x00" in path:
        raise InvalidArgument(f"invalid SE path {path!r}: contains a NUL byte")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise InvalidArgument(f"invalid SE path {path!r}: escapes the SE root")
            parts.pop()
        else:
            parts.append(part)
    return "/" + "/".join(parts)


def parent(path: str) -> str:
    """Return the parent of a normalized SE path (``/`` for ``/``)."""
    return posixpath.dirname(path) or "/"


def temp_path(path: str) -> str:
    """Return a fresh temporary name next to ``path``: ``<dir>/.<name>.dfc-part-<hex>``."""
    head, name = posixpath.split(path)
    return posixpath.join(head, f".{name}{TEMP_MARKER}{os.urandom(6).hex()}")


def is_temp_name(name: str) -> bool:
    """True for the base name of a temporary file left by an interrupted put."""
    return name.startswith(".") and TEMP_MARKER in name
