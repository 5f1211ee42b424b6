"""`put -r` of many small files to a real xrootd, with dfc's checksum-query cap and without.

For each run, starts a new loopback xrootd (the tests' helper: ``xrootd.chksum adler32``
with the default of 4 checksum jobs at a time and a table of 12) and puts N files of
10 kB through the library, once per round with ``CHECKSUMS_IN_FLIGHT`` at its value (4)
and once raised to ``--without`` (as if there were no cap), alternating. Every upload is
verified by a ``query checksum`` to the server. Prints the wall time of each run.

    python bench/xrootd_put_many.py [--files 100] [--rounds 2] [--without 400]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.append(str(REPO))  # tests.servers; dfc itself from PYTHONPATH or the install

import dfc.se.xrootd as xrootd_se  # noqa: E402
from dfc import DFC, Settings  # noqa: E402
from tests.servers.xrootd import launch_xrootd  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--without", type=int, default=400, help="the cap of the runs 'without'")
    args = ap.parse_args()
    cap = xrootd_se.CHECKSUMS_IN_FLIGHT
    work = Path(tempfile.mkdtemp(prefix="dfc-bench-"))
    os.environ.update(DFC_CONFIG=str(work / "c.toml"), DFC_DATA_DIR=str(work / "data"))
    src = work / "src"
    src.mkdir()
    for i in range(args.files):
        (src / f"f{i:04d}").write_bytes(os.urandom(10_000))
    try:
        with DFC(Settings.load()) as api:
            api.init()
            for r in range(args.rounds):
                for label, value in (("without", args.without), (f"cap {cap}", cap)):
                    # A new server (and connection) each run, as a `dfc put -r` meets.
                    server = launch_xrootd()
                    se = f"X{r}{value}"
                    try:
                        api.se_add(se, f"root://{server.host}//data")
                        xrootd_se.CHECKSUMS_IN_FLIGHT = value
                        start = time.perf_counter()
                        res = api.put([src], f"/{se}", se=se, recursive=True)
                        wall = time.perf_counter() - start
                    finally:
                        server.stop()
                    print(
                        f"round {r + 1} {label:<8} put -r of {args.files} files of 10 kB: "
                        f"{wall:7.2f} s, {len(res.succeeded)} put, {len(res.failed)} failed"
                    )
    finally:
        xrootd_se.CHECKSUMS_IN_FLIGHT = cap
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
