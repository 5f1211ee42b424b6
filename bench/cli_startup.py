"""Start-up cost of the command line: `dfc --help` and `dfc ls /` against `python3 -c pass`.

Each command runs N times in this one run, interleaved (so that load from other
work hits all of them alike); prints the median wall time, the median CPU time
(user + system) and the ratios to a bare interpreter start (goal for `dfc ls /`:
within 10x), and the load average.

Like an installed package, every command runs with byte-code caching on (in a
throwaway cache directory, after a warm-up run), even if PYTHONDONTWRITEBYTECODE
is set: an editable checkout under that setting would otherwise recompile dfc's
sources on every start. The `dfc` console script next to this interpreter is
run directly (a pyenv shim in PATH would add a shell and `pyenv exec`, which
`python3 -c pass`, run as sys.executable, does not pay); `--shim` runs the one
in PATH instead.

Usage: python bench/cli_startup.py [-n 15] [--shim]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def dfc_command(shim: bool) -> list[str]:
    if not shim:
        script = Path(sysconfig.get_path("scripts")) / "dfc"
        if script.exists():
            return [str(script)]
    found = shutil.which("dfc")
    return [found] if found else [sys.executable, "-m", "dfc"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=15)
    ap.add_argument("--shim", action="store_true", help="run `dfc` as found in PATH")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dfc-bench-"))
    try:
        env = dict(
            os.environ,
            DFC_CONFIG=str(work / "c.toml"),
            DFC_DATA_DIR=str(work / "data"),
            PYTHONPYCACHEPREFIX=str(work / "pycache"),
        )
        env.pop("DFC_CATALOG", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        dfc = dfc_command(args.shim)
        subprocess.run([*dfc, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*dfc, "mkdir", "-p", "/juno/a", "/juno/b", "/juno/c"], env=env, check=True)
        commands = {
            "python3 -c pass": [sys.executable, "-c", "pass"],
            "dfc --help": [*dfc, "--help"],
            "dfc ls /": [*dfc, "ls", "/"],
        }
        for cmd in commands.values():  # warm-up: byte-code caches, page cache
            run_once(cmd, env)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.n):
            for name, cmd in commands.items():
                samples[name].append(run_once(cmd, env))
        wall = {k: statistics.median(w for w, _ in v) for k, v in samples.items()}
        cpu = {k: statistics.median(c for _, c in v) for k, v in samples.items()}
        base_w, base_c = wall["python3 -c pass"], cpu["python3 -c pass"]
        print(f"  dfc = {' '.join(dfc)}; medians of {args.n} interleaved runs")
        print(f"  {'':<16} {'wall':>9}  {'ratio':>6}  {'cpu':>9}  {'ratio':>6}")
        for name in commands:
            print(
                f"  {name:<16} {wall[name] * 1000:6.1f} ms  {wall[name] / base_w:5.1f}x"
                f"  {cpu[name] * 1000:6.1f} ms  {cpu[name] / base_c:5.1f}x"
            )
        ratio = wall["dfc ls /"] / base_w
        print(f"  goal: dfc ls / within 10x of python3 -c pass -> {ratio:.1f}x (wall)")
        print("  load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
