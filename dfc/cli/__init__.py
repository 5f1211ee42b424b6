"""The ``dfc`` command line: a thin typer adapter over :class:`dfc.DFC`.

Each command module registers its commands on the one typer ``app`` when it is
imported. :func:`main` imports only the module of the command being run (typer
builds, and inspects the signatures of, every registered command on each call,
which costs more than the command itself for ``dfc ls``); the full ``app``,
with every command, is built when it is asked for (``dfc.cli.app``, ``dfc
--help``, an unknown command).
"""

from __future__ import annotations

import copy
import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer
    from typer.models import TyperInfo

__all__ = ["COMMAND_MODULES", "MODULES", "app", "main"]

#: Every command module, in the order their commands are listed by ``dfc --help``.
MODULES = (
    "admin",
    "ancestry",
    "check",
    "data",
    "dataset",
    "demo",
    "du",
    "find",
    "fts",
    "ls",
    "meta",
    "mount",
    "perms",
    "proxy",
    "server",
    "setup",
    "web",
)

#: Top-level command or group name -> the module (under dfc.cli) that registers it.
COMMAND_MODULES = {
    "admin": "admin",
    "ancestors": "ancestry",
    "ancestry": "ancestry",
    "check": "check",
    "chgrp": "perms",
    "chmod": "perms",
    "chown": "perms",
    "dataset": "dataset",
    "demo": "demo",
    "descendants": "ancestry",
    "du": "du",
    "dump": "du",
    "find": "find",
    "fts": "fts",
    "get": "data",
    "init": "setup",
    "ls": "ls",
    "meta": "meta",
    "mkdir": "ls",
    "mount": "mount",
    "mv": "ls",
    "proxy": "proxy",
    "put": "data",
    "replicas": "ls",
    "replicate": "data",
    "rm": "data",
    "se": "setup",
    "server": "server",
    "stat": "ls",
    "umount": "mount",
    "web": "web",
    "whoami": "proxy",
}

# Root options that take a value (see dfc.cli._app.root): skipped to find the command.
_ROOT_VALUE_OPTIONS = frozenset({"--catalog", "--site"})


def _command_name(argv: list[str]) -> str | None:
    """The command named in ``argv`` (after the root options), or None for none."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _ROOT_VALUE_OPTIONS:
            skip = True
        elif arg == "--":
            return None
        elif not arg.startswith("-"):
            return arg
    return None


def _load(module: str) -> None:
    importlib.import_module(f"dfc.cli.{module}")


def _load_all() -> typer.Typer:
    """Import every command module; list the commands in the canonical order."""
    from dfc.cli._app import app

    for module in MODULES:
        _load(module)
    # Modules imported earlier (by a lazy main() in this process) registered first:
    # restore the order of MODULES, so that `dfc --help` never depends on history.
    rank = {f"dfc.cli.{m}": i for i, m in enumerate(MODULES)}
    app.registered_commands.sort(key=lambda c: rank.get(getattr(c.callback, "__module__", ""), 0))
    app.registered_groups.sort(key=lambda g: rank.get(f"dfc.cli.{_group_module(g)}", 0))
    return app


def _group_module(group: TyperInfo) -> str:
    return COMMAND_MODULES.get(_group_name(group), "")


def _only(app: typer.Typer, name: str) -> typer.Typer:
    """A shallow copy of ``app`` with only its command or group ``name`` (else ``app``).

    typer builds (and inspects the signature of) every registered command of a
    module on each run; the one being run is enough.
    """
    commands = [
        c
        for c in app.registered_commands
        if (c.name or getattr(c.callback, "__name__", "").lower().replace("_", "-")) == name
    ]
    groups = [g for g in app.registered_groups if _group_name(g) == name]
    if len(commands) + len(groups) != 1:
        return app
    trimmed = copy.copy(app)
    trimmed.registered_commands = commands
    trimmed.registered_groups = groups
    return trimmed


def _group_name(group: TyperInfo) -> str:
    name = group.name or (group.typer_instance.info.name if group.typer_instance else None)
    return name if isinstance(name, str) else ""


def main(argv: list[str] | None = None) -> None:
    """Run the ``dfc`` command line (the console script), loading only what it needs.

    ``argv`` defaults to the process's arguments: then the process ends with the
    command (the console script, ``python -m dfc``).
    """
    from dfc._gc import gc_paused
    from dfc.cli._startup import freeze_for_exit, freeze_loaded, run_as_process

    if argv is None:
        run_as_process()
    args = sys.argv[1:] if argv is None else argv
    name = _command_name(args) or ""
    module = COMMAND_MODULES.get(name)
    with gc_paused():
        from dfc.cli import _app

        if module is None:
            _load_all()
            app = _app.app
        else:
            _load(module)
            app = _only(_app.app, name)
        freeze_loaded()
    try:
        _app.main(args, app)
    finally:
        if argv is None:
            freeze_for_exit()


def __getattr__(name: str) -> Any:
    if name == "app":
        return _load_all()
    raise AttributeError(f"module 'dfc.cli' has no attribute {name!r}")
