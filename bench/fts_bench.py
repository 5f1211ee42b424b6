"""The transfer engine against its peers, side by side in one run.

Phases (``--phase``, default ``big small xrootd overhead``):

- ``big``: one 2 GiB file, local SE -> local SE: ``dfc replicate`` (library and
  command) against ``cp`` (+ ``sync``), ``rclone copy`` (Debian's, default
  checks) and ``xrdcp --cksum adler32:source``. Goal: >= 0.8x cp, >= 3x rclone.
- ``small``: 10,000 files of 10 KiB, local -> local, including catalogue
  registration, against ``cp -r`` and ``rclone copy --transfers 16``. Goal:
  >= 1.5x rclone.
- ``xrootd``: 1,000 files of 1 MiB to a loopback xrootd server against
  ``xrdcp --parallel 8``. Goal: >= 1x.
- ``overhead``: 100,000 zero-byte files through the queue on SQLite (submit +
  copy + register). Goal: >= 2,000 files/s.
- ``million``: a 1,000,000-file job: submission time and memory, then a
  ``dfc fts agent`` works it for ``--million-seconds``; its peak RSS is
  sampled. Goal: RSS <= 300 MB.

dfc's source files are registered in the catalogue directly (their checksums
computed once); every dfc copy is read once, hashed (adler32 + xxh3),
verified, renamed into place and registered. Local SEs fsync each file unless
the row says "fsync off" (cp and rclone never fsync).

Usage: python bench/fts_bench.py [--phase big small ...] [--dir DIR] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MiB = 1 << 20


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def drop(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


class Home:
    """A dfc home in ``work`` with local SEs; the API in this process."""

    def __init__(self, work: Path, config: str = "") -> None:
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        (work / "config.toml").write_text(config)
        self.env = dict(
            os.environ,
            DFC_CONFIG=str(work / "config.toml"),
            DFC_DATA_DIR=str(work / "data"),
            PYTHONPATH=str(ROOT),
        )
        self.env.pop("DFC_CATALOG", None)
        os.environ.update(DFC_CONFIG=self.env["DFC_CONFIG"], DFC_DATA_DIR=self.env["DFC_DATA_DIR"])
        from dfc import DFC, Settings

        self.api = DFC(Settings.load())
        self.api.init()

    def se(self, name: str, url: str | None = None) -> Path:
        path = self.work / f"se-{name}"
        self.api.se_add(name, url or f"file://{path}")
        return path

    def register(self, se: str, root: Path, prefix: str) -> int:
        """Register every file below ``root`` (the SE's base dir + ``prefix``) on ``se``."""
        from dfc.checksum import Hasher
        from dfc.models import FileRecord, Replica

        base = root
        records = []
        dirs = set()
        for path in sorted(p for p in (base / prefix.strip("/")).rglob("*") if p.is_file()):
            lfn = "/" + str(path.relative_to(base))
            h = Hasher()
            with open(path, "rb") as fh:
                while chunk := fh.read(8 * MiB):
                    h.update(chunk)
            records.append(
                FileRecord(lfn, h.size, h.adler32, h.xxh3, uuid.uuid4().hex, (Replica(se, ""),))
            )
            dirs.add(lfn.rsplit("/", 1)[0])
        with self.api.catalog.transaction() as tx:
            tx.mkdir(sorted(dirs), parents=True, owner="bench", group="bench").raise_first()
            for start in range(0, len(records), 20000):
                tx.add_files(
                    records[start : start + 20000], owner="bench", group="bench"
                ).raise_first()
        return len(records)

    def dfc(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "dfc", *args]

    def close(self) -> None:
        self.api.close()


def _retries(home: Home) -> None:
    """Print what made the last job retry, if anything did."""
    job = home.api.fts_jobs(limit=1)[0]
    kinds: dict[str, int] = {}
    for f in home.api.fts_files(job.id):
        for a in f.attempts:
            kinds[f"{a.kind}: {a.error[:120]}"] = kinds.get(f"{a.kind}: {a.error[:120]}", 0) + 1
    for what, count in sorted(kinds.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  (job {job.id}: {count} failed tries: {what})")


def report(title: str, rows: list[tuple[str, float]], unit: str, amount: float, goals: str) -> None:
    print(f"\n## {title}")
    best = dict(rows)
    for name, t in rows:
        print(f"  {name:<44} {t:8.3f} s  {amount / t:10.1f} {unit}")
    print(f"  goals: {goals}")
    for name in best:
        if name.startswith("dfc"):
            ratios = ", ".join(
                f"{best[peer] / best[name]:.2f}x {peer}"
                for peer in best
                if not peer.startswith("dfc")
            )
            print(f"  {name}: {ratios}")


def best_of(rounds: int, fn: Any) -> float:
    """The best time of ``rounds`` runs, each started with no dirty pages to write back."""
    times = []
    for _ in range(rounds):
        os.sync()
        times.append(fn())
    return min(times)


# ---------------------------------------------------------------------- phases
def _dfc_big(home: Home, label: str, rounds: int) -> list[tuple[str, float]]:
    def api_run() -> float:
        start = time.perf_counter()
        home.api.replicate(["/bench/big.dat"], "B").raise_first()
        took = time.perf_counter() - start
        home.api.rm(["/bench/big.dat"], se="B").raise_first()
        return took

    def cmd_run() -> float:
        took = timed(home.dfc("replicate", "/bench/big.dat", "--to", "B"), home.env)
        home.api.rm(["/bench/big.dat"], se="B").raise_first()
        return took

    return [
        (f"dfc replicate, library ({label})", best_of(rounds, api_run)),
        (f"dfc replicate, command ({label})", best_of(rounds, cmd_run)),
    ]


def _peers_big(src: Path, dst: Path, rounds: int) -> list[tuple[str, float]]:
    def cp() -> float:
        drop(dst)
        dst.mkdir()
        return timed(["cp", str(src), str(dst / "big.dat")])

    def cp_sync() -> float:
        drop(dst)
        dst.mkdir()
        return timed(["sh", "-c", f"cp {src} {dst}/big.dat && sync {dst}/big.dat"])

    def rclone() -> float:
        drop(dst)
        return timed(["rclone", "copy", str(src.parent), str(dst)])

    def xrdcp() -> float:
        drop(dst)
        dst.mkdir()
        return timed(["xrdcp", "-s", "--cksum", "adler32:source", str(src), str(dst)])

    rows = [
        ("cp", best_of(rounds, cp)),
        ("cp && sync", best_of(rounds, cp_sync)),
        ("rclone copy (default checks)", best_of(rounds, rclone)),
        ("xrdcp --cksum adler32:source", best_of(rounds, xrdcp)),
    ]
    drop(dst)
    return rows


def phase_big(work: Path, rounds: int, size_mib: int) -> None:
    results: list[tuple[str, float]] = []
    for fsync in (True, False):
        home = Home(work / f"big-{fsync}", f"[se.B]\nfsync = {str(fsync).lower()}\n")
        src_root = home.se("A")
        home.se("B")
        src = src_root / "bench" / "big.dat"
        src.parent.mkdir(parents=True)
        block = os.urandom(MiB)
        with open(src, "wb") as fh:
            for _ in range(size_mib):
                fh.write(block)
        home.register("A", src_root, "/bench")
        subprocess.run(["cat", str(src)], stdout=subprocess.DEVNULL, check=True)
        results += _dfc_big(home, "fsync on" if fsync else "fsync off", rounds)
        if fsync:
            results += _peers_big(src, work / "peer", rounds)
        home.close()
        drop(home.work)
    report(
        f"one {size_mib} MiB file, local -> local (best of {rounds})",
        results,
        "MiB/s",
        size_mib,
        ">= 0.8x cp, >= 3x rclone",
    )


def _small_files(root: Path, n: int, size: int) -> None:
    for i in range(n):
        d = root / f"d{i // 1000}"
        if i % 1000 == 0:
            d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05d}").write_bytes(os.urandom(size))


def _dfc_small(home: Home, label: str, rounds: int) -> tuple[str, float]:
    def api_run() -> float:
        start = time.perf_counter()
        home.api.replicate(["/small"], "B", recursive=True).raise_first()
        took = time.perf_counter() - start
        home.api.rm(["/small"], se="B", recursive=True).raise_first()
        return took

    return (f"dfc replicate -r, library ({label})", best_of(rounds, api_run))


def _peers_small(src: Path, dst: Path, rounds: int) -> list[tuple[str, float]]:
    def cp() -> float:
        drop(dst)
        return timed(["cp", "-r", str(src), str(dst)])

    def rclone() -> float:
        drop(dst)
        return timed(["rclone", "copy", "--transfers", "16", str(src), str(dst)])

    rows = [("cp -r", best_of(rounds, cp)), ("rclone copy --transfers 16", best_of(rounds, rclone))]
    drop(dst)
    return rows


def phase_small(work: Path, rounds: int, n: int) -> None:
    results: list[tuple[str, float]] = []
    for fsync in (False, True):
        home = Home(
            work / f"small-{fsync}",
            f"[transfers]\nconcurrency = 16\n[se.B]\nfsync = {str(fsync).lower()}\n",
        )
        src_root = home.se("A")
        home.se("B")
        _small_files(src_root / "small", n, 10 * 1024)
        home.register("A", src_root, "/small")
        results.append(_dfc_small(home, "fsync on" if fsync else "fsync off", rounds))
        if not fsync:
            results += _peers_small(src_root / "small", work / "peer", rounds)
        home.close()
        drop(home.work)
    report(
        f"{n} files of 10 KiB, local -> local, with registration (best of {rounds})",
        results,
        "files/s",
        n,
        ">= 1.5x rclone",
    )


def phase_xrootd(work: Path, rounds: int, n: int) -> None:
    from tests.servers.xrootd import launch_xrootd

    server = launch_xrootd()
    try:
        home = Home(work / "xrd", "[transfers]\nconcurrency = 8\n")
        src_root = home.se("A")
        home.se("X", f"root://{server.host}//dfc")
        for i in range(n):
            d = src_root / "xr"
            d.mkdir(exist_ok=True)
            (d / f"f{i:05d}").write_bytes(os.urandom(MiB))
        home.register("A", src_root, "/xr")
        results: list[tuple[str, float]] = []

        def api_run() -> float:
            start = time.perf_counter()
            home.api.replicate(["/xr"], "X", recursive=True).raise_first()
            took = time.perf_counter() - start
            _retries(home)
            home.api.rm(["/xr"], se="X", recursive=True).raise_first()
            return took

        def xrdcp(cksum: bool) -> Any:
            def run() -> float:
                drop(server.data_dir / "peer")
                subprocess.run(
                    ["xrdfs", f"root://{server.host}", "mkdir", "-p", "/peer"], check=True
                )
                extra = ["--cksum", "adler32:source"] if cksum else []
                return timed(
                    [
                        "xrdcp",
                        "-s",
                        "-r",
                        "--parallel",
                        "8",
                        *extra,
                        str(src_root / "xr"),
                        f"root://{server.host}//peer/",
                    ]
                )

            return run

        results.append(("dfc replicate -r, library (verified)", best_of(rounds, api_run)))
        results.append(("xrdcp -r --parallel 8", best_of(rounds, xrdcp(False))))
        results.append(
            ("xrdcp -r --parallel 8 --cksum adler32:source", best_of(rounds, xrdcp(True)))
        )
        report(
            f"{n} files of 1 MiB, local -> loopback xrootd (best of {rounds})",
            results,
            "files/s",
            n,
            ">= 1x xrdcp --parallel 8",
        )
        home.close()
    finally:
        server.close()
        drop(work / "xrd")


def _zero_files(root: Path, n: int, per_dir: int = 1000) -> None:
    for i in range(n):
        if i % per_dir == 0:
            d = root / f"d{i // per_dir:04d}"
            d.mkdir(parents=True, exist_ok=True)
        os.close(os.open(d / f"f{i:07d}", os.O_CREAT | os.O_WRONLY, 0o644))


def _register_zero(
    home: Home, se: str, root: Path, prefix: str, n: int, per_dir: int = 1000
) -> None:
    from dfc.checksum import Hasher
    from dfc.models import FileRecord, Replica

    h = Hasher()
    batch: list[FileRecord] = []
    with home.api.catalog.transaction() as tx:
        tx.mkdir(
            [f"{prefix}/d{k:04d}" for k in range((n + per_dir - 1) // per_dir)],
            parents=True,
            owner="bench",
            group="bench",
        ).raise_first()
        for i in range(n):
            lfn = f"{prefix}/d{i // per_dir:04d}/f{i:07d}"
            batch.append(FileRecord(lfn, 0, h.adler32, h.xxh3, f"g{i}", (Replica(se, ""),)))
            if len(batch) == 20000:
                tx.add_files(batch, owner="bench", group="bench").raise_first()
                batch = []
        if batch:
            tx.add_files(batch, owner="bench", group="bench").raise_first()


def phase_overhead(work: Path, n: int, concurrency: int) -> None:
    home = Home(
        work / "overhead",
        f"[transfers]\nconcurrency = {concurrency}\n[se.B]\nfsync = false\n",
    )
    src_root = home.se("A")
    home.se("B")
    _zero_files(src_root / "zero", n)
    _register_zero(home, "A", src_root, "/zero", n)
    start = time.perf_counter()
    sub = home.api.fts_submit(["/zero"], "B", recursive=True)
    submitted = time.perf_counter() - start
    assert sub.job is not None
    start = time.perf_counter()
    job = home.api.fts_run(sub.job.id)
    ran = time.perf_counter() - start
    assert job.state == "FINISHED", job
    total = submitted + ran
    print(f"\n## {n} zero-byte files through the queue on SQLite (concurrency {concurrency})")
    print(f"  submit {submitted:.2f} s ({n / submitted:,.0f} files/s)")
    print(f"  copy + verify + register {ran:.2f} s ({n / ran:,.0f} files/s)")
    print(f"  total {total:.2f} s: {n / total:,.0f} files/s  (goal >= 2,000 files/s)")
    home.close()
    drop(home.work)


def _rss_peak(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def phase_million(work: Path, n: int, seconds: float) -> None:
    import resource

    home = Home(
        work / "million",
        "[transfers]\nconcurrency = 16\n[se.B]\nfsync = false\n",
    )
    src_root = home.se("A")
    home.se("B")
    start = time.perf_counter()
    _zero_files(src_root / "m", n)
    _register_zero(home, "A", src_root, "/m", n)
    print(f"\n## a {n:,}-file job (set-up {time.perf_counter() - start:.0f} s)")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    sub = home.api.fts_submit(["/m"], "B", recursive=True)
    took = time.perf_counter() - start
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert sub.job is not None
    print(
        f"  submit: {took:.1f} s ({n / took:,.0f} files/s); peak RSS of this process "
        f"{rss0 / 1024:.0f} -> {rss1 / 1024:.0f} MB"
    )
    home.api.close()
    agent = subprocess.Popen(
        home.dfc("fts", "agent"), env=home.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and agent.poll() is None:
        peak = max(peak, _rss_peak(agent.pid))
        time.sleep(0.5)
    peak = max(peak, _rss_peak(agent.pid))
    agent.send_signal(signal.SIGTERM)
    _out, err = agent.communicate(timeout=120)
    job = home.api.fts_job(sub.job.id)
    print(
        f"  agent worked {seconds:.0f} s: {job.counts.finished:,} files finished "
        f"({job.counts.finished / seconds:,.0f} files/s), peak RSS {peak / MiB:.0f} MB "
        "(goal <= 300 MB)"
    )
    print(f"  {err.decode().strip().splitlines()[-1]}")
    home.close()
    drop(home.work)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase", nargs="+", default=["big", "small", "xrootd", "overhead"])
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--big-mib", type=int, default=2048)
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--xrootd", type=int, default=1000)
    ap.add_argument("--zero", type=int, default=100_000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--million", type=int, default=1_000_000)
    ap.add_argument("--million-seconds", type=float, default=60.0)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dfc-fts-bench-", dir=args.dir))
    print(f"# dfc transfer engine vs peers ({os.cpu_count()} cores), work dir {work}")
    try:
        for phase in args.phase:
            if phase == "big":
                phase_big(work, args.rounds, args.big_mib)
            elif phase == "small":
                phase_small(work, args.rounds, args.small)
            elif phase == "xrootd":
                phase_xrootd(work, args.rounds, args.xrootd)
            elif phase == "overhead":
                phase_overhead(work, args.zero, args.concurrency)
            elif phase == "million":
                phase_million(work, args.million, args.million_seconds)
            else:
                raise SystemExit(f"unknown phase {phase}")
    finally:
        drop(work)


if __name__ == "__main__":
    main()
