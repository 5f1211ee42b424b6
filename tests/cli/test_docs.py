"""Every command has help text with an example and is documented in docs/cli.md."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from dfc.cli import app
from tests.conftest import CLI

DOCS = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()


def _commands() -> list[tuple[str, ...]]:
    root = typer.main.get_command(app)
    out: list[tuple[str, ...]] = []
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        if hasattr(cmd, "commands"):
            out.extend((name, sub) for sub in cmd.commands)
        else:
            out.append((name,))
    return out


def test_there_are_commands() -> None:
    names = {" ".join(c) for c in _commands()}
    assert {"init", "ls", "put", "get", "replicate", "rm", "se add", "stat"} <= names


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_command_documented_and_helpful(command: tuple[str, ...], cli: CLI) -> None:
    assert f"### dfc {' '.join(command)}\n" in DOCS
    for flag in ("-h", "--help"):
        run = cli.ok(*command, flag)
        assert "Usage: dfc" in run.out
        assert "Example" in run.out, "every command's help shows an example"
