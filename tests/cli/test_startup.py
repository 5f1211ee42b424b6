"""Lazy command loading and string coercion without pydantic behave like plain typer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer._coercion import build_runtime_param

import dfc.cli
from dfc.cli import COMMAND_MODULES, MODULES, _command_name, _only
from dfc.cli._coerce import _Deferred
from tests.conftest import CLI

ROOT = Path(__file__).parents[2]


def _module_of(command: object) -> str:
    """The dfc.cli module that defines a click command or group."""
    callback = getattr(command, "callback", None)
    module = getattr(callback, "__module__", "")
    if module.startswith("dfc.cli.") and module != "dfc.cli._app":
        return module.removeprefix("dfc.cli.")
    subs = getattr(command, "commands", {})
    return _module_of(next(iter(subs.values())))


def test_command_map_matches_the_app() -> None:
    root = typer.main.get_command(dfc.cli.app)
    found = {name: _module_of(cmd) for name, cmd in root.commands.items()}  # type: ignore[attr-defined]
    assert found == COMMAND_MODULES
    assert set(COMMAND_MODULES.values()) == set(MODULES)


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["ls", "/"], "ls"),
        (["--catalog", "sqlite:///x.db", "--site", "IHEP", "put", "a", "/b"], "put"),
        (["--catalog=sqlite:///x.db", "se", "list"], "se"),
        (["--help"], None),
        (["--version"], None),
        ([], None),
    ],
)
def test_command_name(argv: list[str], name: str | None) -> None:
    assert _command_name(argv) == name


@pytest.mark.parametrize("name", sorted(COMMAND_MODULES))
def test_a_run_builds_only_the_command_it_runs(name: str) -> None:
    full = dfc.cli.app
    trimmed = typer.main.get_command(_only(full, name))
    assert list(trimmed.commands) == [name]  # type: ignore[attr-defined]
    # The shared app keeps every command (a later full build is unchanged).
    assert set(typer.main.get_command(full).commands) == set(COMMAND_MODULES)  # type: ignore[attr-defined]


def test_an_unknown_name_keeps_the_whole_app() -> None:
    assert _only(dfc.cli.app, "no-such-command") is dfc.cli.app


def test_help_order_does_not_depend_on_what_ran_before(cli: CLI) -> None:
    fresh = subprocess.run(
        [sys.executable, "-m", "dfc", "--help"],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    cli.ok("init")
    cli.ok("ls", "/")
    cli.ok("se", "list")
    assert cli.ok("--help").out == fresh


@pytest.mark.parametrize(
    ("command", "param", "value"),
    [
        ("ls", "paths", ("/a", "/b")),
        ("ls", "paths", ["/a"]),
        ("put", "se", "IHEP-DISK"),
        ("put", "se", ""),
        ("put", "se", b"IHEP"),
        ("put", "se", 5),
        ("put", "args", ("a", "/b")),
    ],
)
def test_deferred_coercion_equals_typer(command: str, param: str, value: object) -> None:
    root = typer.main.get_command(dfc.cli.app)
    cmd = root.commands[command]  # type: ignore[attr-defined]
    p = next(x for x in cmd.params if x.name == param)
    assert isinstance(p.get_runtime_param(), _Deferred) or p._runtime_param is not None
    ctx = typer.Context(cmd)
    descriptor = p.type_descriptor
    ours = _Deferred(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation)
    theirs = build_runtime_param(descriptor)
    assert ours.coerce(value, param=p, ctx=ctx) == theirs.coerce(value, param=p, ctx=ctx)
    assert ours.coerce(None, param=p, ctx=ctx) == theirs.coerce(None, param=p, ctx=ctx)


def test_invalid_number_still_reported_by_typer(cli: CLI) -> None:
    cli.ok("init")
    run = cli("fts", "list", "--limit", "many")
    assert run.code == 2
    assert "Invalid value for '--limit'" in run.err


def test_namespace_command_loads_only_what_it_needs(tmp_path: Path) -> None:
    """`dfc ls` imports neither the other commands nor SQLAlchemy, pydantic or storage libraries."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "dfc", "init"], env=env, check=True, capture_output=True)
    code = (
        "import sys, json\n"
        "from dfc.cli import main\n"
        "try:\n    main(['ls', '/'])\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    modules = set(json.loads(run.stdout.splitlines()[-1]))
    loaded = {m.removeprefix("dfc.cli.") for m in modules if m.startswith("dfc.cli.")}
    assert loaded & set(MODULES) == {"ls"}
    heavy_modules = (
        "sqlalchemy",
        "dfc.catalog.schema",
        "dfc.catalog.identities",
        "pydantic",
        "fsspec",
        "alembic",
        "rich",
        "dfc.se",
        "dfc.api._results",
    )
    for heavy in heavy_modules:
        assert heavy not in modules, heavy
    lazy_modules = (
        "dfc.catalog._query",
        "dfc.catalog._records",
        "dfc.api._copy",
        "dfc.api._jobs",
        "dfc.api._slots",
        "dfc.api._batch",
    )
    for lazy in lazy_modules:
        assert lazy not in modules, lazy


def test_console_entry_exits_with_the_command_status(tmp_path: Path) -> None:
    """The process entry (argv from sys.argv, GC frozen for exit) keeps output and status."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), DFC_CONFIG=str(tmp_path / "c.toml"))
    env["DFC_DATA_DIR"] = str(tmp_path / "data")
    dfc_cmd = [sys.executable, "-m", "dfc"]
    subprocess.run([*dfc_cmd, "init"], env=env, check=True, capture_output=True)
    subprocess.run([*dfc_cmd, "mkdir", "/juno"], env=env, check=True, capture_output=True)
    ok = subprocess.run([*dfc_cmd, "ls", "/"], env=env, capture_output=True, text=True)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "juno\n", "")
    bad = subprocess.run([*dfc_cmd, "stat", "/nope"], env=env, capture_output=True, text=True)
    assert (bad.returncode, bad.stderr) == (2, "dfc: /nope: no such file or directory\n")


def _young_after_loading(argv: str) -> str:
    """Code printing how many objects are young once the API is loaded, and the frozen ones."""
    return (
        "import gc, sys\n"
        "from dfc.cli import _app, main\n"
        "young = []\n"
        "load = _app.State.api\n"
        "def api(self):\n"
        "    made = load(self)\n"
        "    young.append(sum(len(gc.get_objects(generation=g)) for g in (0, 1)))\n"
        "    return made\n"
        "_app.State.api = api\n"
        "sys.argv = ['dfc', 'ls', '/']\n"
        f"try:\n    main({argv})\nexcept SystemExit:\n    pass\n"
        "print(young[0], gc.get_freeze_count())\n"
    )


@pytest.mark.parametrize("entry", [True, False])
def test_console_entry_freezes_what_loading_made(tmp_path: Path, entry: bool) -> None:
    """The console entry hides the loaded modules from the collector; in-process runs do not."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), DFC_CONFIG=str(tmp_path / "c.toml"))
    env["DFC_DATA_DIR"] = str(tmp_path / "data")
    subprocess.run([sys.executable, "-m", "dfc", "init"], env=env, check=True, capture_output=True)
    code = _young_after_loading("" if entry else "['ls', '/']")
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    young, frozen = map(int, run.stdout.split()[-2:])
    if entry:
        # The loaded modules' ten thousand objects and more are frozen, not young.
        assert young < 2_000 < frozen
    else:
        assert young > 5_000
        assert frozen == 0
