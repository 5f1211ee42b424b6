"""The ``dfc`` command line: a thin typer adapter over :class:`dfc.DFC`."""

from __future__ import annotations

from dfc.cli import check, data, demo, ls, setup
from dfc.cli._app import app, main

__all__ = ["app", "main"]

_COMMAND_MODULES = (check, data, demo, ls, setup)
