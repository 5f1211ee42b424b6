"""Benchmark: the catalogue's bulk calls on a throwaway PostgreSQL cluster.

Registers N files (default 200,000) with 2 replicas each in 2,000 directories,
then times (best of 3) ``replicas()`` and ``stat()`` of 50,000 LFNs, ``list_dir``,
``walk``, ``find`` and ``du`` of the tree's root directory. There is no raw peer
here: the script is for comparing dfc with itself, e.g. before and after a
schema change, by running it with ``PYTHONPATH`` set to each checkout
(``git worktree add /tmp/base <commit>``).

    python bench/catalog_pg.py
    PYTHONPATH=/tmp/base python bench/catalog_pg.py --files 100000
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parent.parent
sys.path.append(str(REPO))  # tests.servers; dfc itself from PYTHONPATH or the install

from dfc.catalog import Catalog, CatalogTx  # noqa: E402
from dfc.models import FileRecord, Replica, SEInfo  # noqa: E402
from tests.servers.postgres import launch_postgres  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable


def _lfn(i: int, ndirs: int) -> str:
    return f"/juno/p/d{i % ndirs:05d}/f{i:07d}"


def _register(cat: Catalog, n: int, ndirs: int, batch: int) -> float:
    with cat.transaction() as tx:
        tx.add_se(SEInfo("A", "file:///a"))
        tx.add_se(SEInfo("B", "file:///b"))
    elapsed = 0.0
    for start in range(0, n, batch):
        recs = [
            FileRecord(
                _lfn(i, ndirs),
                i,
                "00000001",
                None,
                f"g{i}",
                (Replica("A", f"/a/{i}"), Replica("B", f"/b/{i}")),
            )
            for i in range(start, min(n, start + batch))
        ]
        t0 = time.perf_counter()
        with cat.transaction() as tx:
            assert tx.add_files(recs, owner="o", group="g").ok
        elapsed += time.perf_counter() - t0
    with cat.transaction() as tx:
        tx._q("ANALYZE")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--dirs", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=20_000, help="files per transaction")
    ap.add_argument("--lookup", type=int, default=50_000, help="LFNs per replicas()/stat()")
    args = ap.parse_args()
    n, ndirs = args.files, args.dirs
    server = launch_postgres()
    try:
        cat = Catalog(server.url(server.create_database()))
        cat.upgrade()
        t_reg = _register(cat, n, ndirs, args.batch)
        print(f"PostgreSQL, dfc from {Path(sys.modules['dfc'].__file__ or '').parent.parent}")
        print(f"  register {n:,} files x 2 replicas: {t_reg:7.2f} s  {n / t_reg:>9,.0f} files/s")
        rng = random.Random(1)
        lfns = [_lfn(i, ndirs) for i in rng.sample(range(n), min(args.lookup, n))]
        calls: dict[str, Callable[[CatalogTx], Any]] = {
            f"replicas() of {len(lfns):,} LFNs": lambda tx: tx.replicas(lfns),
            f"stat() of {len(lfns):,} LFNs": lambda tx: tx.stat(lfns),
            "list_dir /juno/p": lambda tx: list(tx.list_dir("/juno/p")),
            "walk /juno/p": lambda tx: sum(1 for _ in tx.walk("/juno/p")),
            "find /juno/p Size>100": lambda tx: sum(1 for _ in tx.find("/juno/p", ["Size>100"])),
            "du /juno/p": lambda tx: tx.du("/juno/p"),
        }
        for name, call in calls.items():
            best = float("inf")
            for _ in range(3):
                with cat.reader() as tx:
                    t0 = time.perf_counter()
                    call(tx)
                    best = min(best, time.perf_counter() - t0)
            print(f"  {name:<34} {best:7.3f} s (best of 3)")
        cat.close()
    finally:
        server.close()


if __name__ == "__main__":
    main()
