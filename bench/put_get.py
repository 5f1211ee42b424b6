"""`dfc put` and `dfc get` of one large file on local SEs, against `cp`, in one run.

Both checksums are computed by dfc while copying; `cp` computes none. Prints the
throughputs and the ratio dfc/cp (goal: >= 0.7).

Usage: python bench/put_get.py [--size-mib 1024] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a temp dir)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dfc-bench-", dir=args.dir))
    try:
        env = dict(os.environ, DFC_CONFIG=str(work / "c.toml"), DFC_DATA_DIR=str(work / "data"))
        env.pop("DFC_CATALOG", None)
        dfc = [sys.executable, "-m", "dfc"]
        src = work / "big.dat"
        with open(src, "wb") as fh:
            block = os.urandom(1 << 20)
            for _ in range(args.size_mib):
                fh.write(block)
        size = args.size_mib * (1 << 20)
        subprocess.run([*dfc, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(
            [*dfc, "se", "add", "A", f"file://{work}/se-a"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        rows: dict[str, list[float]] = {"cp": [], "dfc put": [], "cp back": [], "dfc get": []}
        for r in range(args.rounds):
            dst = work / "cp-copy"
            rows["cp"].append(timed(["cp", str(src), str(dst)], env))
            rows["cp back"].append(timed(["cp", str(dst), str(work / "cp-back")], env))
            os.unlink(dst)
            os.unlink(work / "cp-back")
            lfn = f"/bench/big-{r}.dat"
            rows["dfc put"].append(timed([*dfc, "put", str(src), lfn, "--se", "A"], env))
            rows["dfc get"].append(timed([*dfc, "get", lfn, str(work / "back.dat")], env))
            os.unlink(work / "back.dat")
            subprocess.run([*dfc, "rm", lfn], env=env, check=True, stdout=subprocess.DEVNULL)
        # The same operations through the library, without interpreter start-up.
        rows["api put"], rows["api get"] = [], []
        os.environ.update(DFC_CONFIG=env["DFC_CONFIG"], DFC_DATA_DIR=env["DFC_DATA_DIR"])
        from dfc import DFC, Settings

        with DFC(Settings.load()) as api:
            for r in range(args.rounds):
                lfn = f"/bench/api-{r}.dat"
                start = time.perf_counter()
                api.put([src], lfn, se="A").raise_first()
                rows["api put"].append(time.perf_counter() - start)
                start = time.perf_counter()
                api.get([lfn], work / "back.dat").raise_first()
                rows["api get"].append(time.perf_counter() - start)
                os.unlink(work / "back.dat")
                api.rm([lfn]).raise_first()
        mib = size / (1 << 20)
        best = {k: min(v) for k, v in rows.items()}
        print(f"file: {mib:.0f} MiB, best of {args.rounds} rounds, page cache warm")
        for k, t in best.items():
            print(f"  {k:<8} {t:7.3f} s  {mib / t:8.1f} MiB/s")
        print(f"  put/cp throughput ratio: {best['cp'] / best['dfc put']:.2f}  (goal >= 0.7)")
        print(f"  get/cp throughput ratio: {best['cp back'] / best['dfc get']:.2f}  (goal >= 0.7)")
        print(
            f"  library put/cp: {best['cp'] / best['api put']:.2f}, "
            f"library get/cp: {best['cp back'] / best['api get']:.2f}  (no start-up)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
