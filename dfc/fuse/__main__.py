"""``python -m dfc.fuse`` runs the mount program (see :mod:`dfc.fuse.main`)."""

from __future__ import annotations

from dfc.fuse.main import main

main()
