"""`dfc put -r` and `dfc get -r` of many small files on local SEs, against `cp -r` and rclone.

One run, rounds interleaved, best of N: the commands as a user types them (start-up
included), every file read once and hashed (adler32 + xxh3), written under a
temporary name, renamed into place and registered (put) or verified (get). The
local SE flushes each file to disk (``fsync``) unless the row says "fsync off"
(an SE with ``fsync = false`` in its config section); `cp` and `rclone` never
flush. Prints files/s and the ratios to the peers.

Usage: python bench/put_many.py [--files 2000] [--file-kib 10] [--rounds 3] [--dir DIR]
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
    """Wall seconds of one run of ``cmd``."""
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--file-kib", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dfc-put-many-", dir=args.dir))
    try:
        src = work / "src"
        src.mkdir()
        for i in range(args.files):
            (src / f"f{i:06d}.dat").write_bytes(os.urandom(args.file_kib * 1024))
        config = work / "c.toml"
        config.write_text("[se.B]\nfsync = false\n")
        env = dict(
            os.environ,
            DFC_CONFIG=str(config),
            DFC_DATA_DIR=str(work / "data"),
            PYTHONPYCACHEPREFIX=str(Path(tempfile.gettempdir()) / "dfc-bench-pycache"),
        )
        env.pop("DFC_CATALOG", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        dfc = [sys.executable, "-m", "dfc"]
        subprocess.run([*dfc, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
        for name in ("A", "B"):
            subprocess.run(
                [*dfc, "se", "add", name, f"file://{work}/se-{name.lower()}"],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        rows: dict[str, list[float]] = {}
        for r in range(args.rounds):
            runs = {
                "cp -r": ["cp", "-r", str(src), str(work / f"cp-{r}")],
                "rclone copy --transfers 16": [
                    "rclone",
                    "copy",
                    "--transfers",
                    "16",
                    str(src),
                    str(work / f"rclone-{r}"),
                ],
                "dfc put -r": [*dfc, "put", "-r", str(src), f"/a{r}", "--se", "A"],
                "dfc put -r, fsync off": [*dfc, "put", "-r", str(src), f"/b{r}", "--se", "B"],
                "dfc get -r": [*dfc, "get", "-r", f"/a{r}", str(work / f"get-{r}")],
            }
            for name, cmd in runs.items():
                rows.setdefault(name, []).append(timed(cmd, env))
            for name in ("cp", "rclone", "get"):
                shutil.rmtree(work / f"{name}-{r}", ignore_errors=True)
        best = {k: min(v) for k, v in rows.items()}
        print(
            f"{args.files} files of {args.file_kib} KiB, local directories, "
            f"best of {args.rounds} interleaved rounds"
        )
        for name, t in best.items():
            print(f"  {name:<28} {t:6.2f} s  {args.files / t:8.0f} files/s")
        for ours in ("dfc put -r", "dfc put -r, fsync off", "dfc get -r"):
            print(
                f"  {ours}: {best['cp -r'] / best[ours]:.2f}x cp -r, "
                f"{best['rclone copy --transfers 16'] / best[ours]:.2f}x rclone"
            )
        print("  load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
