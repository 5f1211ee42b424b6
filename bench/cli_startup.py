"""Start-up cost of the command line: `dfc --help` and `dfc ls /` against `python3 -c pass`.

Each command runs N times in this one run; prints the median wall time and the
ratio to a bare interpreter start (goal for `dfc ls /`: within 10x).

Usage: python bench/cli_startup.py [-n 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_time(cmd: list[str], env: dict[str, str], n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=15)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dfc-bench-"))
    try:
        env = dict(os.environ, DFC_CONFIG=str(work / "c.toml"), DFC_DATA_DIR=str(work / "data"))
        env.pop("DFC_CATALOG", None)
        dfc = shutil.which("dfc") or "dfc"
        subprocess.run([dfc, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([dfc, "mkdir", "-p", "/juno/a", "/juno/b", "/juno/c"], env=env, check=True)
        base = median_time([sys.executable, "-c", "pass"], env, args.n)
        rows = {
            "python3 -c pass": base,
            "dfc --help": median_time([dfc, "--help"], env, args.n),
            "dfc ls /": median_time([dfc, "ls", "/"], env, args.n),
        }
        for name, t in rows.items():
            print(f"  {name:<16} {t * 1000:7.1f} ms  {t / base:5.1f}x")
        print(f"  goal: dfc ls / within 10x of python3 -c pass -> {rows['dfc ls /'] / base:.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
