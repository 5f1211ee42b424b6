"""``python -m dfc`` runs the command line."""

from __future__ import annotations

from dfc.cli import main

main()
