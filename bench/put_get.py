"""`dfc put` and `dfc get` of one large file on local SEs, against `cp`, in one run.

Both checksums are computed by dfc while copying; `cp` computes none. dfc also
flushes each uploaded file to disk (``fsync``) before registering it, `cp` does
not: `cp && sync` is shown next to it (the goal compares with `cp`). Prints
the throughputs and the ratios dfc/cp (goal: >= 0.7), best of N interleaved
rounds, with the CPU time (user + system) of each, and the load average: on a
busy machine the CPU times are the steadier comparison.

Commands run as an installed package would (byte-code cached in a throwaway
directory even under PYTHONDONTWRITEBYTECODE); the library lines are the same
operations without interpreter start-up, and `dfc ls /` (start-up, catalogue
open and exit, no copy) shows what of a command is not the copy.

Usage: python bench/put_get.py [--size-mib 1024] [--dir DIR] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``cmd``."""
    cpu, start = _cpu(), time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, _cpu() - cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a temp dir)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dfc-bench-", dir=args.dir))
    try:
        env = dict(
            os.environ,
            DFC_CONFIG=str(work / "c.toml"),
            DFC_DATA_DIR=str(work / "data"),
            PYTHONPYCACHEPREFIX=str(Path(tempfile.gettempdir()) / "dfc-bench-pycache"),
        )
        env.pop("DFC_CATALOG", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
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
        names = ["cp", "cp && sync", "dfc put", "cp back", "dfc get", "dfc ls /"]
        rows: dict[str, list[tuple[float, float]]] = {k: [] for k in names}
        back = work / "back.dat"
        for r in range(args.rounds):
            dst = work / "cp-copy"
            rows["cp"].append(timed(["cp", str(src), str(dst)], env))
            os.unlink(dst)
            rows["cp && sync"].append(timed(["sh", "-c", f"cp '{src}' '{dst}' && sync"], env))
            rows["cp back"].append(timed(["cp", str(dst), str(work / "cp-back")], env))
            os.unlink(dst)
            os.unlink(work / "cp-back")
            lfn = f"/bench/big-{r}.dat"
            rows["dfc put"].append(timed([*dfc, "put", str(src), lfn, "--se", "A"], env))
            rows["dfc get"].append(timed([*dfc, "get", lfn, str(back)], env))
            os.unlink(back)
            subprocess.run([*dfc, "rm", lfn], env=env, check=True, stdout=subprocess.DEVNULL)
            rows["dfc ls /"].append(timed([*dfc, "ls", "/"], env))
        # The same operations through the library, without interpreter start-up.
        rows["api put"], rows["api get"] = [], []
        os.environ.update(DFC_CONFIG=env["DFC_CONFIG"], DFC_DATA_DIR=env["DFC_DATA_DIR"])
        from dfc import DFC, Settings

        with DFC(Settings.load()) as api:
            for r in range(args.rounds):
                lfn = f"/bench/api-{r}.dat"
                cpu, start = _cpu(), time.perf_counter()
                api.put([src], lfn, se="A").raise_first()
                rows["api put"].append((time.perf_counter() - start, _cpu() - cpu))
                cpu, start = _cpu(), time.perf_counter()
                api.get([lfn], back).raise_first()
                rows["api get"].append((time.perf_counter() - start, _cpu() - cpu))
                os.unlink(back)
                api.rm([lfn]).raise_first()
        mib = size / (1 << 20)
        wall = {k: min(w for w, _ in v) for k, v in rows.items()}
        cpu = {k: min(c for _, c in v) for k, v in rows.items()}
        print(f"file: {mib:.0f} MiB in {work}, best of {args.rounds} rounds, page cache warm")
        for k in rows:
            print(f"  {k:<11} {wall[k]:7.3f} s  {mib / wall[k]:8.1f} MiB/s   cpu {cpu[k]:6.3f} s")
        for what, peer, ours in (
            ("put", "cp", "dfc put"),
            ("get", "cp back", "dfc get"),
            ("library put", "cp", "api put"),
            ("library get", "cp back", "api get"),
        ):
            print(
                f"  {what}/cp throughput ratio: {wall[peer] / wall[ours]:.2f} (goal >= 0.7); "
                f"cpu ratio {cpu[peer] / cpu[ours]:.2f}"
            )
        print(f"  put / (cp && sync): {wall['cp && sync'] / wall['dfc put']:.2f}")
        print("  load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
