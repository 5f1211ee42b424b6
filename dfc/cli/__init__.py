"""The ``dfc`` command line: a thin typer adapter over :class:`dfc.DFC`."""

from __future__ import annotations

from dfc.cli import (
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

_COMMAND_MODULES = (
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
