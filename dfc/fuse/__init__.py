"""``dfc mount``: the catalogue's namespace as a filesystem (FUSE, the ``fuse`` extra).

Only :mod:`dfc.fuse.mount` is needed to mount and unmount; it loads mfusepy and
the filesystem operations when a mount starts, so importing this package is cheap.
"""

from __future__ import annotations

from dfc.fuse.mount import (
    FSTYPE,
    MountBusy,
    MountOptions,
    dfc_mounts,
    is_mounted,
    serve,
    spawn,
    umount,
)

__all__ = [
    "FSTYPE",
    "MountBusy",
    "MountOptions",
    "dfc_mounts",
    "is_mounted",
    "serve",
    "spawn",
    "umount",
]
