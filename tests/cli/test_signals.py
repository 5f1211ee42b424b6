"""A put or get stopped by SIGTERM (kill, a batch system's time limit) or Ctrl-C
leaves nothing behind: no temporary file on the SE or next to the destination,
no catalogue entry.

Each test starts the real command, waits until its temporary file exists (the
copy has begun), stops the process, queues the signal and lets it go on, so the
signal always lands in the middle of the copy.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from dfc.signals import TerminateAsInterrupt

if TYPE_CHECKING:
    from pathlib import Path

    from tests.cli.conftest import Grid

SIZE = 256 << 20  # long enough to copy that the signal lands mid-way


def _dfc() -> list[str]:
    exe = shutil.which("dfc")
    return [exe] if exe else [sys.executable, "-m", "dfc"]


def _part_files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if ".dfc-part-" in p.name]


def _interrupt_mid_copy(
    args: list[str], watched: Path, sig: signal.Signals, *, sigint_ignored: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``dfc ARGS``; once a temporary file shows under ``watched``, send ``sig``.

    ``sigint_ignored``: start dfc with SIGINT ignored, as a shell script's
    background job (``dfc put ... &``) is.
    """
    # the shell ignores SIGINT, then becomes dfc, which inherits that
    ignoring = ["sh", "-c", 'trap "" INT && exec "$@"', "sh"] if sigint_ignored else []
    proc = subprocess.Popen(
        [*ignoring, *_dfc(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not _part_files(watched):
            if proc.poll() is not None:
                pytest.fail(f"dfc ended before its copy was seen: {proc.communicate()}")
            assert time.monotonic() < deadline, "no temporary file appeared"
            time.sleep(0.001)
        proc.send_signal(signal.SIGSTOP)  # hold it mid-copy while the signal is queued
        proc.send_signal(sig)
        proc.send_signal(signal.SIGCONT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _big_file(grid: Grid) -> Path:
    path = grid.local / "big.root"
    with path.open("wb") as f:
        f.truncate(SIZE)  # sparse: no disk space for the source
    return path


@pytest.mark.parametrize(
    ("sig", "sigint_ignored", "code", "word"),
    [
        (signal.SIGTERM, False, 143, "terminated"),
        (signal.SIGTERM, True, 143, "terminated"),
        (signal.SIGINT, False, 130, "interrupted"),
    ],
)
def test_stopped_put_leaves_nothing(
    grid: Grid, sig: signal.Signals, sigint_ignored: bool, code: int, word: str
) -> None:
    src = _big_file(grid)
    grid.cli.ok("mkdir", "-p", "/juno/run")
    before = grid.snapshot()
    args = ["put", str(src), "/juno/run/", "--se", "IHEP-DISK"]
    run = _interrupt_mid_copy(args, grid.ihep, sig, sigint_ignored=sigint_ignored)
    assert run.returncode == code, run.stderr
    assert run.stderr == f"dfc: {word}\n"
    assert _part_files(grid.ihep) == []
    assert grid.snapshot() == before


def test_terminated_get_leaves_no_partial_file(grid: Grid, tmp_path: Path) -> None:
    src = _big_file(grid)
    grid.cli.ok("put", src, "/juno/big.root", "--se", "IHEP-DISK")
    dest = tmp_path / "out"
    dest.mkdir()
    run = _interrupt_mid_copy(["get", "/juno/big.root", str(dest)], dest, signal.SIGTERM)
    assert run.returncode == 143, run.stderr
    assert run.stderr == "dfc: terminated\n"
    assert os.listdir(dest) == []


def test_terminated_replicate_leaves_nothing(grid: Grid) -> None:
    src = _big_file(grid)
    grid.cli.ok("put", src, "/juno/big.root", "--se", "IHEP-DISK")
    before = grid.snapshot()
    run = _interrupt_mid_copy(
        ["replicate", "/juno/big.root", "--to", "CNAF-DISK"], grid.cnaf, signal.SIGTERM
    )
    assert run.returncode == 143, run.stderr
    assert run.stderr == "dfc: terminated\n"
    assert _part_files(grid.cnaf) == []
    assert grid.snapshot() == before


def test_sigterm_in_plain_python_code(capsys: pytest.CaptureFixture[str]) -> None:
    """No event loop: SIGTERM raises KeyboardInterrupt; the previous handler comes back."""
    before = signal.getsignal(signal.SIGTERM)

    def terminated() -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # interrupted at once

    with pytest.raises(SystemExit) as stop, TerminateAsInterrupt("prog"):
        terminated()
    assert stop.value.code == 143
    assert capsys.readouterr().err == "prog: terminated\n"
    assert signal.getsignal(signal.SIGTERM) is before
    with pytest.raises(SystemExit) as stop, TerminateAsInterrupt("prog"):
        raise KeyboardInterrupt
    assert stop.value.code == 130
    assert capsys.readouterr().err == "prog: interrupted\n"
    with pytest.raises(SystemExit) as stop, TerminateAsInterrupt("prog"):
        raise SystemExit(3)  # other exits pass through
    assert stop.value.code == 3
