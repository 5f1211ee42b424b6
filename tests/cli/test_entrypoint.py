"""The installed console script and `dfc demo`, as real processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def _dfc() -> list[str]:
    exe = shutil.which("dfc")
    return [exe] if exe else [sys.executable, "-m", "dfc"]


def test_demo_runs_and_verifies() -> None:
    run = subprocess.run(
        [*_dfc(), "demo"], capture_output=True, text=True, check=False, env=os.environ
    )
    assert run.returncode == 0, run.stderr
    assert "copy.root identical to the original: True" in run.stdout
    assert "$ dfc replicate" in run.stdout


def test_error_is_one_line_and_errno() -> None:
    run = subprocess.run(
        [*_dfc(), "ls", "relative/path"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 22
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("dfc: ")


def test_version() -> None:
    run = subprocess.run([*_dfc(), "--version"], capture_output=True, text=True, check=True)
    assert run.stdout.startswith("dfc ")
