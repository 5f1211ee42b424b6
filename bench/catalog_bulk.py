"""Benchmark: bulk registration, listing and replica lookup, dfc vs raw sqlite3.

Registers N files (default 1,000,000) in 1,000 directories with 2 replicas each
through ``CatalogTx.add_files`` into SQLite, and inserts the same rows with raw
``sqlite3`` ``executemany`` into a second database with the same schema, in one
run: one transaction per ``--batch`` files, and the two sides take turns of
``--turn`` files, so that both see the machine alike when its speed drifts. A
dfc turn ends when the background checkpoint of its last commit has (timed):
within a turn it overlaps dfc's next transaction, as in a long registration;
none of it runs in the other side's turn. Then times ``list_dir`` of one
big directory (100k files at full size) and one ``replicas()`` call for 100k
LFNs (best of 3 alternating runs), each against the equivalent raw SQL.

    python bench/catalog_bulk.py            # full size
    python bench/catalog_bulk.py --files 100000
"""

from __future__ import annotations

import argparse
import gc
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING

from dfc.catalog import Catalog
from dfc.catalog.schema import to_db_time
from dfc.models import FileRecord, Replica, SEInfo

if TYPE_CHECKING:
    from collections.abc import Iterator

OWNER, GROUP = "bench", "juno"
SES = (SEInfo("IHEP-DISK", "root://ihep//store"), SEInfo("CNAF-DISK", "davs://cnaf/store"))


#: CPU seconds of each measured side (time.process_time): less sensitive to load than wall time.
CPU: dict[str, float] = {}
#: Wall seconds of the registration of each side.
WALL: dict[str, float] = {}


class Timer:
    """Accumulates the wall and CPU seconds of the timed sections of one side."""

    def __init__(self, side: str) -> None:
        self.side = side
        self.wall = 0.0
        CPU.setdefault(side, 0.0)

    def __enter__(self) -> Timer:
        gc.collect()  # each side starts with no garbage of the other's pending (not timed)
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._t0
        CPU[self.side] += time.process_time() - self._c0


def lfn_of(i: int, ndirs: int) -> str:
    return f"/juno/prd/d{i % ndirs:05d}/f{i:09d}.root"


def records(start: int, stop: int, ndirs: int) -> list[FileRecord]:
    out = []
    for i in range(start, stop):
        lfn = lfn_of(i, ndirs)
        out.append(
            FileRecord(
                lfn=lfn,
                size=1000 + i,
                adler32=f"{i & 0xFFFFFFFF:08x}",
                xxh3=f"{i:016x}",
                guid=f"{i:032x}",
                replicas=(Replica("IHEP-DISK", lfn), Replica("CNAF-DISK", lfn)),
            )
        )
    return out


def bench_dfc(cat: Catalog, n: int, ndirs: int, batch: int, turn: int) -> Iterator[None]:
    """Register the files through dfc, one transaction per batch; yield after each turn.

    A turn ends when dfc's background checkpoint of its last commit has (timed).
    """
    with cat.transaction() as tx:
        for se in SES:
            tx.add_se(se)
    timer = Timer("register dfc")
    for start in range(0, n, batch):
        recs = records(start, min(n, start + batch), ndirs)  # input: not timed
        with timer, cat.transaction() as tx:
            res = tx.add_files(recs, owner=OWNER, group=GROUP)
        assert res.ok, list(res.failed.items())[:3]
        del recs, res  # the other side must not run in a heap holding these
        if _turn_ends(start, n, batch, turn):
            with timer:
                assert cat.wait_idle()
            yield
    WALL["register dfc"] = timer.wall


def _turn_ends(start: int, n: int, batch: int, turn: int) -> bool:
    """True after the batch at ``start`` if it ends a turn of ``turn`` files (or the run)."""
    stop = start + batch
    return stop >= n or stop // turn != start // turn


def bench_raw(path: Path, n: int, ndirs: int, batch: int, turn: int) -> Iterator[None]:
    """The same rows with plain sqlite3: ids assigned by the loader, no checks.

    One transaction per batch (the directories and SEs in the first); yields after each turn.
    """
    now = to_db_time(datetime.now(UTC), "sqlite")
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA cache_size=-65536")
    timer = Timer("register raw")
    timer.__enter__()
    con.execute("BEGIN IMMEDIATE")
    for i, se in enumerate(SES, start=1):
        con.execute(
            "INSERT INTO storage_elements (id, name, url, site, read_allowed, write_allowed) "
            "VALUES (?, ?, ?, '', 1, 1)",
            (i, se.name, se.url),
        )
    con.execute(
        "INSERT INTO directories (id, path, parent_id, owner, grp, mode, ctime, mtime) "
        "VALUES (2, '/juno', 1, ?, ?, 509, ?, ?), (3, '/juno/prd', 2, ?, ?, 509, ?, ?)",
        (OWNER, GROUP, now, now) * 2,
    )
    con.executemany(
        "INSERT INTO directories (id, path, parent_id, owner, grp, mode, ctime, mtime) "
        "VALUES (?, ?, 3, ?, ?, 509, ?, ?)",
        [(10 + d, f"/juno/prd/d{d:05d}", OWNER, GROUP, now, now) for d in range(ndirs)],
    )
    con.execute("COMMIT")
    timer.__exit__()
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        # input rows: not timed
        files = [
            (
                i + 1,
                10 + i % ndirs,
                f"f{i:09d}.root",
                1000 + i,
                f"{i & 0xFFFFFFFF:08x}",
                f"{i:016x}",
                f"{i:032x}",
                OWNER,
                GROUP,
                now,
                now,
            )
            for i in range(start, stop)
        ]
        rows = []
        for i in range(start, stop):
            lfn = lfn_of(i, ndirs)
            rows.append((i + 1, 1, lfn, now))
            rows.append((i + 1, 2, lfn, now))
        timer.__enter__()
        con.execute("BEGIN IMMEDIATE")
        con.executemany(
            "INSERT INTO files (id, dir_id, name, size, adler32, xxh3, guid, status, owner, "
            "grp, mode, ctime, mtime) VALUES (?, ?, ?, ?, ?, ?, ?, 'good', ?, ?, 420, ?, ?)",
            files,
        )
        con.executemany(
            "INSERT INTO replicas (file_id, se_id, path, status, ctime) "
            "VALUES (?, ?, ?, 'good', ?)",
            rows,
        )
        con.execute("COMMIT")
        timer.__exit__()
        del files, rows
        if _turn_ends(start, n, batch, turn):
            yield
    con.close()
    WALL["register raw"] = timer.wall


def bench_register(cat: Catalog, raw_db: Path, n: int, ndirs: int, batch: int, turn: int) -> None:
    """Run both sides in turns of ``turn`` files: raw, dfc, raw, dfc, ..."""
    raw, ours = bench_raw(raw_db, n, ndirs, batch, turn), bench_dfc(cat, n, ndirs, batch, turn)
    for _ in zip_longest(raw, ours):
        pass


def bench_list(cat: Catalog, raw: Path, big: int) -> tuple[float, float]:
    recs = []
    for i in range(big):
        lfn = f"/juno/big/f{i:07d}"
        recs.append(FileRecord(lfn, i, "00000001", None, f"b{i}", (Replica("IHEP-DISK", lfn),)))
    with cat.transaction() as tx:
        assert tx.add_files(recs, owner=OWNER, group=GROUP).ok
    assert cat.wait_idle()  # its background checkpoint: not timed
    with cat.reader() as tx, Timer("list dfc") as timer:
        count = sum(1 for _ in tx.list_dir("/juno/big"))
    t_dfc = timer.wall
    assert count == big
    # raw: the same rows from the dfc database, plain sqlite3, tuples only
    con = sqlite3.connect(Path(cat.engine.url.database or ""))
    timer = Timer("list raw")
    timer.__enter__()
    (dir_id,) = con.execute("SELECT id FROM directories WHERE path = ?", ("/juno/big",)).fetchone()
    rows = con.execute(
        "SELECT id, name, size, adler32, xxh3, guid, status, owner, grp, mode, ctime, mtime "
        "FROM files WHERE dir_id = ? ORDER BY name",
        (dir_id,),
    ).fetchall()
    subdirs = con.execute(
        "SELECT id, path FROM directories WHERE parent_id = ? ORDER BY path", (dir_id,)
    ).fetchall()
    timer.__exit__()
    t_raw = timer.wall
    con.close()
    assert len(rows) + len(subdirs) == big
    del raw
    return t_dfc, t_raw


def bench_replicas(
    cat: Catalog, n: int, ndirs: int, count: int, rounds: int
) -> tuple[float, float]:
    """Best of ``rounds`` alternating runs of each side (the first read of a freshly
    written database is slower for whichever side comes first)."""
    rng = random.Random(1)
    lfns = [lfn_of(i, ndirs) for i in rng.sample(range(n), min(count, n))]
    walls: dict[str, list[float]] = {"dfc": [], "raw": []}
    cpus: dict[str, list[float]] = {"dfc": [], "raw": []}
    for _ in range(rounds):
        for side, run in (("dfc", _replicas_dfc), ("raw", _replicas_raw)):
            CPU[f"replicas {side}"] = 0.0
            walls[side].append(run(cat, lfns))
            cpus[side].append(CPU[f"replicas {side}"])
    CPU["replicas dfc"], CPU["replicas raw"] = min(cpus["dfc"]), min(cpus["raw"])
    return min(walls["dfc"]), min(walls["raw"])


def _replicas_dfc(cat: Catalog, lfns: list[str]) -> float:
    with cat.reader() as tx, Timer("replicas dfc") as timer:
        res = tx.replicas(lfns)
    assert res.ok
    assert len(res.succeeded) == len(lfns)
    del res  # the raw side must not run in a heap holding dfc's answer
    return timer.wall


def _replicas_raw(cat: Catalog, lfns: list[str]) -> float:
    con = sqlite3.connect(Path(cat.engine.url.database or ""))
    timer = Timer("replicas raw")
    timer.__enter__()
    got = 0
    dir_ids: dict[str, int] = {}
    ordered = sorted(lfns)  # the same trick as dfc: walk the indexes in order
    for s in range(0, len(ordered), 2000):
        part = [lfn.rpartition("/") for lfn in ordered[s : s + 2000]]
        heads = sorted({h for h, _, _ in part if h not in dir_ids})
        q = f"SELECT path, id FROM directories WHERE path IN ({','.join('?' * len(heads))})"
        dir_ids.update(con.execute(q, heads).fetchall())
        params: list[object] = []
        for head, _, name in part:
            params += (dir_ids[head], name)
        sql = (
            "SELECT v.column1, v.column2, r.se_id, r.path, r.status FROM (VALUES "
            + ",".join(["(?,?)"] * len(part))
            + ") v CROSS JOIN files f LEFT JOIN replicas r ON r.file_id = f.id "
            "WHERE f.dir_id = v.column1 AND f.name = v.column2"
        )
        got += len(con.execute(sql, params).fetchall())
    timer.__exit__()
    con.close()
    assert got == 2 * len(lfns)
    return timer.wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--dirs", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=100_000, help="files per transaction")
    ap.add_argument("--turn", type=int, default=250_000, help="files per turn of each side")
    ap.add_argument("--big-dir", type=int, default=None, help="files in the listed directory")
    ap.add_argument("--lookup", type=int, default=100_000, help="LFNs per replicas() call")
    ap.add_argument("--rounds", type=int, default=3, help="replicas(): best of this many runs")
    args = ap.parse_args()
    n, ndirs = args.files, args.dirs
    big = args.big_dir if args.big_dir is not None else min(100_000, max(n // 10, 1000))
    with tempfile.TemporaryDirectory(prefix="dfc-bench-") as tmp:
        cat = Catalog(f"sqlite:///{tmp}/dfc.db")
        cat.upgrade()
        raw_db = Path(tmp) / "raw.db"
        raw_cat = Catalog(f"sqlite:///{raw_db}")
        raw_cat.upgrade()  # the same schema, via the same migrations
        raw_cat.close()

        bench_register(cat, raw_db, n, ndirs, args.batch, args.turn)
        t_raw, t_dfc = WALL["register raw"], WALL["register dfc"]
        print(
            f"register {n:,} files x 2 replicas in {ndirs:,} dirs (SQLite, WAL; "
            f"{args.batch:,} files per transaction; the sides take turns of {args.turn:,})"
        )
        print(f"  raw sqlite3 executemany : {t_raw:7.2f} s  {n / t_raw:>10,.0f} files/s")
        print(f"  dfc add_files           : {t_dfc:7.2f} s  {n / t_dfc:>10,.0f} files/s")
        print(f"  dfc / raw time          : {t_dfc / t_raw:7.2f} x   (goal <= 3x, >= 100k files/s)")

        l_dfc, l_raw = bench_list(cat, raw_db, big)
        print(f"list_dir of one {big:,}-file directory")
        print(f"  raw sqlite3 fetchall    : {l_raw:7.3f} s")
        print(
            f"  dfc list_dir (Entries)  : {l_dfc:7.3f} s  ratio {l_dfc / l_raw:.2f} x (goal <= 1 s)"
        )

        r_dfc, r_raw = bench_replicas(cat, n, ndirs, args.lookup, args.rounds)
        m = min(args.lookup, n)
        print(f"replicas() of {m:,} LFNs (2 replicas each), best of {args.rounds} alternating runs")
        print(f"  raw sqlite3 VALUES join : {r_raw:7.3f} s  {m / r_raw:>10,.0f} LFNs/s")
        print(
            f"  dfc replicas            : {r_dfc:7.3f} s  {m / r_dfc:>10,.0f} LFNs/s  "
            f"ratio {r_dfc / r_raw:.2f} x (goal >= 100k LFNs/s)"
        )
        print("CPU seconds (process time; less sensitive to other load than wall time):")
        for what in ("register", "list", "replicas"):
            raw, ours = CPU[f"{what} raw"], CPU[f"{what} dfc"]
            print(f"  {what:<9} raw {raw:7.3f} s  dfc {ours:7.3f} s  ratio {ours / raw:.2f} x")
        print(f"  register: dfc {n / CPU['register dfc']:,.0f} files/s of CPU")
        print(f"  replicas: dfc {m / CPU['replicas dfc']:,.0f} LFNs/s of CPU")
        cat.close()


if __name__ == "__main__":
    main()
