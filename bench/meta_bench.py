"""Benchmark: metadata queries, du, dump and bulk metadata set (issue [meta]).

Builds a catalogue of N files (default 1,000,000) in 1,000 directories laid out
like a JUNO production, ``/juno/prd/<softwareVersion>/<process>/<position>/``,
with 3 directory fields (one per level: 4 versions, 10 processes each, 25
positions each) and 2 file fields (``runH`` int, ``eventType`` string); every
file has a replica at IHEP-DISK and every other one at CNAF-DISK too. Then, in
the same run, each measured against a peer:

- 2-term queries with inherited fields through ``find`` vs a hand-written
  indexed SQL query for the same answer (asserted equal), plain sqlite3;
- ``du /`` (counters) vs counting the files table (what a catalogue without
  counters does);
- ``dump /`` vs the same rows fetched with plain sqlite3;
- bulk metadata set of 100,000 files through the public API (``DFC.meta_set``,
  LFNs validated and resolved) vs ``executemany`` of the same rows with known ids.

    python bench/meta_bench.py              # full size
    python bench/meta_bench.py --files 100000
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dfc.catalog import Catalog
from dfc.models import FileRecord, Replica, SEInfo

OWNER, GROUP = "bench", "juno"
SES = (SEInfo("IHEP-DISK", "root://ihep//store"), SEInfo("CNAF-DISK", "davs://cnaf/store"))
VERSIONS = ("J21", "J22", "J23", "J24")
PROCESSES = tuple(f"proc{i}" for i in range(10))
POSITIONS = 25
EVENT_TYPES = ("muon", "laser", "ibd", "c14", "k40")


def leaf_dirs() -> list[tuple[str, str, str, int]]:
    return [
        (f"/juno/prd/{v}/{p}/pos{k:02d}", v, p, k)
        for v in VERSIONS
        for p in PROCESSES
        for k in range(POSITIONS)
    ]


def timed(fn: Any, *args: Any, repeat: int = 3) -> tuple[float, Any]:
    """Best of ``repeat`` runs (seconds) and the last result."""
    best = float("inf")
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def populate(cat: Catalog, n: int) -> list[str]:
    dirs = leaf_dirs()
    per_dir = n // len(dirs)
    with cat.transaction() as tx:
        for se in SES:
            tx.add_se(se)
        tx.meta_index("softwareVersion", "string", "dir")
        tx.meta_index("process", "string", "dir")
        tx.meta_index("position", "int", "dir")
        tx.meta_index("runH", "int", "file")
        tx.meta_index("eventType", "string", "file")
    lfns: list[str] = []
    t0 = time.perf_counter()
    batch: list[FileRecord] = []
    i = 0
    for path, _v, _p, _k in dirs:
        for j in range(per_dir):
            lfn = f"{path}/f{j:05d}.root"
            reps = (Replica("IHEP-DISK", lfn),) + ((Replica("CNAF-DISK", lfn),) if i % 2 else ())
            batch.append(
                FileRecord(
                    lfn, 1000 + i % 5000, f"{i & 0xFFFFFFFF:08x}", f"{i:016x}", f"g{i}", reps
                )
            )
            lfns.append(lfn)
            i += 1
        if len(batch) >= 50_000:
            with cat.transaction() as tx:
                assert tx.add_files(batch, owner=OWNER, group=GROUP).ok
            batch = []
    if batch:
        with cat.transaction() as tx:
            assert tx.add_files(batch, owner=OWNER, group=GROUP).ok
    print(f"registered {len(lfns):,} files in {time.perf_counter() - t0:.1f} s")
    items: list[tuple[str, dict[str, Any]]] = []
    for v in VERSIONS:
        items.append((f"/juno/prd/{v}", {"softwareVersion": v}))
        for p in PROCESSES:
            items.append((f"/juno/prd/{v}/{p}", {"process": p}))
    items += [(path, {"position": k}) for path, _v, _p, k in dirs]
    with cat.transaction() as tx:
        assert tx.meta_set(items).ok
    return lfns


def file_meta(i: int) -> dict[str, Any]:
    return {"runH": (i * 7919) % 10_000, "eventType": EVENT_TYPES[i % 5]}


def bench_meta_set(cat: Catalog, url: str, lfns: list[str], size: int) -> None:
    """Set the 2 file fields on every file, ``size`` files per public-API call."""
    from dfc import DFC, Settings

    api = DFC(Settings.load(catalog=url))
    api.meta_show()  # open the catalogue (schema check) before timing
    inserts: list[float] = []
    for start in range(0, len(lfns), size):
        part = lfns[start : start + size]
        items = [(lfn, file_meta(start + k)) for k, lfn in enumerate(part)]
        t0 = time.perf_counter()
        res = api.meta_set(items)
        inserts.append(time.perf_counter() - t0)
        assert res.ok, list(res.failed.items())[:3]
    # the same files again: every value is an update now (best of 3)
    timed_part = lfns[:size]
    updates: list[float] = []
    for shift in (1, 2, 0):  # 0 last: back to the values the queries expect
        items = [(lfn, file_meta(k + shift)) for k, lfn in enumerate(timed_part)]
        t0 = time.perf_counter()
        assert api.meta_set(items).ok
        updates.append(time.perf_counter() - t0)
    api.close()
    # the catalogue layer alone (no API edge checks, no authorisation)
    catalog_level = float("inf")
    for shift in (1, 0):
        items = [(lfn, file_meta(k + shift)) for k, lfn in enumerate(timed_part)]
        t0 = time.perf_counter()
        with cat.transaction() as tx:
            assert tx.meta_set(items).ok
        catalog_level = min(catalog_level, time.perf_counter() - t0)
    # peer: executemany with ids known (no validation, no LFN lookup)
    db = cat.engine.url.database or ""
    con = sqlite3.connect(db, isolation_level=None)
    fields = dict(con.execute("SELECT name, id FROM meta_fields").fetchall())
    ids = [r[0] for r in con.execute("SELECT id FROM files ORDER BY id LIMIT ?", (size,))]
    t_raw = float("inf")
    for shift in (1, 0):
        ints = [(fid, fields["runH"], ((k + shift) * 7919) % 10_000) for k, fid in enumerate(ids)]
        strs = [
            (fid, fields["eventType"], EVENT_TYPES[(k + shift) % 5]) for k, fid in enumerate(ids)
        ]
        t0 = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.executemany(
            "INSERT INTO file_meta_int (file_id, field_id, value) VALUES (?, ?, ?) "
            "ON CONFLICT (file_id, field_id) DO UPDATE SET value = excluded.value",
            ints,
        )
        con.executemany(
            "INSERT INTO file_meta_string (file_id, field_id, value) VALUES (?, ?, ?) "
            "ON CONFLICT (file_id, field_id) DO UPDATE SET value = excluded.value",
            strs,
        )
        con.execute("COMMIT")
        t_raw = min(t_raw, time.perf_counter() - t0)
    con.close()
    t_ins, t_med, t_upd = min(inserts), sorted(inserts)[len(inserts) // 2], min(updates)
    print(
        f"meta set {size:,} files x 2 fields per call (dfc API, {len(inserts)} calls): "
        f"insert best {t_ins:.2f} s ({size / t_ins:,.0f} files/s), median {t_med:.2f} s "
        f"({size / t_med:,.0f} files/s); update best {t_upd:.2f} s ({size / t_upd:,.0f} files/s); "
        f"catalogue layer update {catalog_level:.2f} s ({size / catalog_level:,.0f} files/s); "
        f"raw executemany update {t_raw:.2f} s ({size / t_raw:,.0f} files/s); "
        f"ratio API {t_upd / t_raw:.1f}x, catalogue {catalog_level / t_raw:.1f}x"
    )


def bench_queries(cat: Catalog) -> None:
    db = cat.engine.url.database or ""
    con = sqlite3.connect(db)
    fid = dict(con.execute("SELECT name, id FROM meta_fields").fetchall())
    # The hand-written peers know the layout (where each field is set) and fix
    # the join order with CROSS JOIN, as an expert would for this one question.
    below = "d.path > p.path || '/' AND d.path < p.path || '0'"
    cases = [
        (
            "softwareVersion=J22 process=proc3 (2 inherited dir fields)",
            ["softwareVersion=J22", "process=proc3"],
            "SELECT d.path, f.name FROM dir_meta_string mv CROSS JOIN directories v "
            "CROSS JOIN directories p CROSS JOIN dir_meta_string mp "
            "CROSS JOIN directories d CROSS JOIN files f "
            "WHERE mv.field_id = ? AND mv.value = ? AND v.id = mv.dir_id "
            "AND p.path > v.path || '/' AND p.path < v.path || '0' "
            "AND mp.dir_id = p.id AND mp.field_id = ? AND mp.value = ? "
            f"AND {below} AND f.dir_id = d.id ORDER BY d.path, f.name",
            (fid["softwareVersion"], "J22", fid["process"], "proc3"),
        ),
        (
            "process=proc3 runH>=9000 (inherited dir field + file field)",
            ["process=proc3", "runH>=9000"],
            "SELECT d.path, f.name FROM dir_meta_string mp CROSS JOIN directories p "
            "CROSS JOIN directories d CROSS JOIN files f CROSS JOIN file_meta_int r "
            "WHERE mp.field_id = ? AND mp.value = ? AND p.id = mp.dir_id "
            f"AND {below} AND f.dir_id = d.id "
            "AND r.file_id = f.id AND r.field_id = ? AND r.value >= ? ORDER BY d.path, f.name",
            (fid["process"], "proc3", fid["runH"], 9000),
        ),
        (
            "position=7 eventType=muon (inherited dir field + file field)",
            ["position=7", "eventType=muon"],
            "SELECT d.path, f.name FROM dir_meta_int mp CROSS JOIN directories d "
            "CROSS JOIN files f CROSS JOIN file_meta_string e "
            "WHERE mp.field_id = ? AND mp.value = ? AND d.id = mp.dir_id AND f.dir_id = d.id "
            "AND e.file_id = f.id AND e.field_id = ? AND e.value = ? ORDER BY d.path, f.name",
            (fid["position"], 7, fid["eventType"], "muon"),
        ),
    ]
    for title, terms, sql, params in cases:

        def dfc_find(terms: list[str] = terms) -> list[str]:
            with cat.reader() as tx:
                return list(tx.find("/", terms))

        def raw(sql: str = sql, params: tuple[Any, ...] = params) -> list[str]:
            return [f"{p}/{n}" for p, n in con.execute(sql, params)]

        t_dfc, got = timed(dfc_find)
        t_raw, want = timed(raw)
        assert got == want, (title, len(got), len(want))
        print(
            f"query {title}: {len(got):,} files; dfc {t_dfc * 1000:.0f} ms, "
            f"hand-written SQL {t_raw * 1000:.0f} ms, ratio {t_dfc / t_raw:.2f}x"
        )
    con.close()


def bench_du(cat: Catalog) -> None:
    def du() -> Any:
        with cat.reader() as tx:
            return tx.du("/")

    t_du, usage = timed(du, repeat=5)
    con = sqlite3.connect(cat.engine.url.database or "")

    def scan() -> tuple[int, int]:
        row = con.execute("SELECT COUNT(*), SUM(size) FROM files").fetchone()
        return int(row[0]), int(row[1])

    t_scan, (files, size) = timed(scan)
    con.close()
    assert (usage.files, usage.bytes) == (files, size)
    print(
        f"du /: {usage.files:,} files, {usage.replicas:,} replicas; counters {t_du * 1000:.1f} ms, "
        f"scanning the files table {t_scan * 1000:.0f} ms ({t_scan / t_du:.0f}x slower)"
    )


def bench_dump(cat: Catalog) -> None:
    def dump() -> int:
        with cat.reader() as tx:
            return sum(1 for _ in tx.dump("/"))

    t_dump, count = timed(dump, repeat=2)
    con = sqlite3.connect(cat.engine.url.database or "")

    def raw() -> int:
        sql = (
            "SELECT d.path, f.name, f.size, f.adler32, f.xxh3, r.se_id, r.path "
            "FROM directories d JOIN files f ON f.dir_id = d.id "
            "LEFT JOIN replicas r ON r.file_id = f.id ORDER BY d.path, f.name"
        )
        cur = con.execute(sql)
        rows = 0
        while batch := cur.fetchmany(5000):
            rows += len(batch)
        return rows

    t_raw, rows = timed(raw, repeat=2)
    con.close()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    argv = [sys.executable, "-m", "dfc", "--catalog", str(cat.engine.url), "dump", "/"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(os.devnull, "w") as sink:
        subprocess.run(argv, stdout=sink, check=True, env=env)
    t_cli = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_cli = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    print(
        f"dump /: {count:,} files ({rows:,} rows) in {t_dump:.2f} s "
        f"= {count / t_dump:,.0f} files/s; "
        f"raw sqlite3 rows {t_raw:.2f} s; ratio {t_dump / t_raw:.1f}x; "
        f"`dfc dump /` command to /dev/null {t_cli:.2f} s = {count / t_cli:,.0f} files/s "
        f"(CPU {cpu_cli:.2f} s = {count / cpu_cli:,.0f} files/s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--bulk", type=int, default=100_000, help="files per bulk meta set")
    ap.add_argument("--dir", default=None, help="where to put the catalogue (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        url = f"sqlite:///{Path(tmp) / 'catalog.db'}"
        cat = Catalog(url)
        cat.upgrade()
        lfns = populate(cat, args.files)
        bench_meta_set(cat, url, lfns, min(args.bulk, len(lfns)))
        del lfns
        size = os.path.getsize(Path(tmp) / "catalog.db") >> 20
        print(f"catalogue: {size} MiB")
        bench_queries(cat)
        bench_du(cat)
        bench_dump(cat)
        cat.close()


if __name__ == "__main__":
    main()
