"""Shared fixtures: a hermetic dfc home per test, and an in-process CLI runner."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.servers.postgres",
    "tests.servers.xrootd",
    "tests.servers.webdav",
    "tests.servers.s3",
    "tests.servers.slurm",
]


@pytest.fixture(autouse=True)
def dfc_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point dfc's configuration and data at a fresh directory for every test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("DFC_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("DFC_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    for var in ("DFC_CATALOG", "DFC_SITE", "DFC_JOB_DIR", "DFC_JOB_DB"):
        monkeypatch.delenv(var, raising=False)
    return home


@dataclass
class Run:
    """The outcome of one CLI invocation."""

    code: int
    out: str
    err: str


class CLI:
    """Runs ``dfc`` in-process, the way a user types it."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def __call__(self, *args: str | os.PathLike[str]) -> Run:
        from dfc.cli import main

        self._capsys.readouterr()
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:
            code = 0
        out, err = self._capsys.readouterr()
        return Run(code, out, err)

    def ok(self, *args: str | os.PathLike[str]) -> Run:
        """Run and assert success."""
        run = self(*args)
        assert run.code == 0, f"dfc {' '.join(map(str, args))} -> {run.code}\n{run.err}"
        return run


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> CLI:
    """Run ``dfc`` commands in-process."""
    return CLI(capsys)
