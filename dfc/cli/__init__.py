"""The ``dfc`` command line: a thin typer adapter over :class:`dfc.DFC`."""

from __future__ import annotations

# Each command module registers its commands on `app` when imported.
from dfc.cli import (  # noqa: F401
    admin,
    ancestry,
    check,
    data,
    dataset,
    demo,
    du,
    find,
    fts,
    ls,
    meta,
    mount,
    perms,
    proxy,
    server,
    setup,
    web,
)
from dfc.cli._app import app, main

__all__ = ["app", "main"]
