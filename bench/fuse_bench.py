"""`dfc mount`: sequential read and `ls -l` through the mount against direct access, in one run.

1. Sequential read of one file (default 1 GiB) with `dd bs=1M` through a fresh mount,
   against `dd` of the SE's own file (a local-disk SE), both with the SE file in the
   page cache ("warm") and evicted from it first ("cold", posix_fadvise DONTNEED);
   with --xrootd also from an XRootD SE against `xrdcp` of the same file.
   Goal: >= 0.5x the direct throughput, for the first read through a fresh mount
   (nothing of the file in the mount's page cache). The same `dd` then reads the
   file again through the same mount ("again": served from the mount's page cache,
   which a catalogue file may keep across opens) -- reported, not the goal.
   CPU columns: CPU seconds of the whole read (peer: `dd`; mount: `dd` plus the
   mount process), which the load of other processes on the machine distorts less
   than the wall-clock time.
2. `ls -l` of a 10,000-file directory through a fresh mount against `dfc ls -l`
   (both include their start-up: `dfc` its interpreter, the mount its first
   catalogue query). Goal: the mount within 2x.

Each measurement runs --rounds times; the table shows the median.

Usage: python bench/fuse_bench.py [--size-mib 1024] [--files 10000] [--rounds 3] [--xrootd]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
MiB = 1 << 20


def run(cmd: list[str], env: dict[str, str]) -> float:
    return timed(cmd, env)[0]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``cmd``; return its wall-clock time and its CPU time (user + system)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd, stderr=err)
    return wall, usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    """The 1-minute load average."""
    return f"{os.getloadavg()[0]:.1f}"


def evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


class Bench:
    def __init__(self, work: Path, rounds: int) -> None:
        self.work = work
        self.rounds = rounds
        self.mnt = work / "mnt"
        self.mnt.mkdir()
        self.env = dict(
            os.environ,
            DFC_CONFIG=str(work / "c.toml"),
            DFC_DATA_DIR=str(work / "data"),
            PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
        )
        self.env.pop("DFC_CATALOG", None)
        self.env.pop("DFC_SITE", None)
        self.dfc = [sys.executable, "-m", "dfc"]
        self.rows: list[tuple[str, str, float, float, str, str]] = []
        self.pid = 0

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [*self.dfc, *args],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        return done.stderr

    def mounted(self, fn: Callable[[], T], *extra: str) -> T:
        """Mount afresh (nothing cached in the kernel or the mount), run fn, unmount."""
        said = self.cli("mount", str(self.mnt), *extra)
        found = re.search(r"\(pid (\d+)", said)
        self.pid = int(found.group(1)) if found else 0
        try:
            return fn()
        finally:
            self.cli("umount", str(self.mnt))

    def median(self, fn: Callable[[], float]) -> float:
        return statistics.median(fn() for _ in range(self.rounds))

    def medians(self, fn: Callable[[], tuple[float, ...]]) -> list[float]:
        samples = [fn() for _ in range(self.rounds)]
        return [statistics.median(column) for column in zip(*samples, strict=True)]

    def mount_read(self, cmd: list[str]) -> tuple[float, float]:
        """Wall time of ``cmd`` reading through the mount, and dd's + the mount's CPU."""
        before = process_cpu(self.pid) if self.pid else 0.0
        wall, cpu = timed(cmd, self.env)
        after = process_cpu(self.pid) if self.pid else 0.0
        return wall, cpu + after - before

    def read_case(
        self,
        name: str,
        lfn: str,
        size: int,
        direct: list[str],
        se_file: Path | None,
        cold: bool,
        mount_args: tuple[str, ...] = (),
    ) -> None:
        dd_mount = ["dd", f"if={self.mnt}{lfn}", "of=/dev/null", "bs=1M"]

        def reads() -> tuple[float, float, float, float]:
            first = self.mount_read(dd_mount)
            again = self.mount_read(dd_mount)
            return (*first, *again)

        def via_mount() -> tuple[float, float, float, float]:
            if cold and se_file is not None:
                evict(se_file)
            return self.mounted(reads, *mount_args)

        def via_direct() -> tuple[float, float]:
            if cold and se_file is not None:
                evict(se_file)
            return timed(direct, self.env)

        t_direct, c_direct = self.medians(via_direct)
        t_first, c_first, t_again, c_again = self.medians(via_mount)

        def mbs(t: float) -> float:
            return size / t / 1e6

        peer = " ".join(direct[:1])
        cpu = f"{c_direct:.2f} / {c_first:.2f}"
        self.rows.append(
            (name, peer, mbs(t_direct), mbs(t_first), f"{t_direct / t_first:.2f}x", cpu)
        )
        again = f"{c_direct:.2f} / {c_again:.2f}"
        self.rows.append(
            (
                f"{name}, again",
                peer,
                mbs(t_direct),
                mbs(t_again),
                f"{t_direct / t_again:.2f}x",
                again,
            )
        )

    def print(self) -> None:
        print(
            f"{'case':<46} {'peer':<8} {'peer':>12} {'mount':>12} {'mount/peer':>11}"
            f"  {'CPU s peer / mount':>18}"
        )
        for name, peer, a, b, ratio, cpu in self.rows:
            unit = "s" if name.startswith("ls") else "MB/s"
            print(
                f"{name:<46} {peer:<8} {a:>9.2f} {unit:<3}{b:>8.2f} {unit:<4}{ratio:>10}  {cpu:>18}"
            )


def register_many(env: dict[str, str], n: int) -> None:
    code = f"""
from dfc import DFC, FileRecord
with DFC() as api:
    api.mkdir(["/bench/many"], parents=True).raise_first()
    recs = [FileRecord(f"/bench/many/detsim-{{i:08d}}.root", 1000 + i, "00000001", None, "")
            for i in range({n})]
    with api.catalog.transaction() as tx:
        tx.add_files(recs, owner="alice", group="juno").raise_first()
"""
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--xrootd", action="store_true", help="also read from a real XRootD SE")
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dfc-fuse-bench-", dir=args.dir))
    load_start = load()
    server = None
    bench = Bench(work, args.rounds)
    try:
        size = args.size_mib * MiB
        src = work / "big.root"
        with open(src, "wb") as fh:
            for _ in range(args.size_mib):
                fh.write(os.urandom(MiB))
        bench.cli("init")
        bench.cli("se", "add", "LOCAL", f"file://{work}/se-local")
        bench.cli("mkdir", "-p", "/bench")
        bench.cli("put", str(src), "/bench/big.root", "--se", "LOCAL")
        se_file = work / "se-local" / "bench" / "big.root"
        dd_direct = ["dd", f"if={se_file}", "of=/dev/null", "bs=1M"]
        bench.read_case(
            "read 1 file, local SE, warm", "/bench/big.root", size, dd_direct, se_file, cold=False
        )
        bench.read_case(
            "read 1 file, local SE, cold", "/bench/big.root", size, dd_direct, se_file, cold=True
        )
        bench.read_case(
            "read 1 file, local SE, warm, direct-io",
            "/bench/big.root",
            size,
            dd_direct,
            se_file,
            cold=False,
            mount_args=("--direct-io",),
        )
        if args.xrootd:
            sys.path.insert(0, str(REPO))
            from tests.servers.xrootd import launch_xrootd

            server = launch_xrootd()
            bench.cli("se", "add", "XRD", f"{server.url}/se")
            bench.cli("put", str(src), "/bench/xrd.root", "--se", "XRD")
            xrdcp = ["xrdcp", "-f", "-s", f"{server.url}/se/bench/xrd.root", "/dev/null"]
            bench.read_case(
                "read 1 file, XRootD SE", "/bench/xrd.root", size, xrdcp, None, cold=False
            )
            bench.read_case(
                "read 1 file, XRootD SE, direct-io",
                "/bench/xrd.root",
                size,
                xrdcp,
                None,
                cold=False,
                mount_args=("--direct-io",),
            )
        os.unlink(src)
        register_many(bench.env, args.files)
        many = "/bench/many"
        ls_dfc = [*bench.dfc, "ls", "-l", many]
        ls_mnt = ["ls", "-l", f"{bench.mnt}{many}"]
        t_dfc = bench.median(lambda: run(ls_dfc, bench.env))
        t_cold = bench.median(lambda: bench.mounted(lambda: run(ls_mnt, bench.env)))

        def warm() -> float:
            run(ls_mnt, bench.env)
            return run(ls_mnt, bench.env)

        t_warm = bench.median(lambda: bench.mounted(warm))
        bench.rows.append(
            (
                f"ls -l {args.files} files, first",
                "dfc ls",
                t_dfc,
                t_cold,
                f"{t_dfc / t_cold:.2f}x",
                "",
            )
        )
        bench.rows.append(
            (
                f"ls -l {args.files} files, again",
                "dfc ls",
                t_dfc,
                t_warm,
                f"{t_dfc / t_warm:.2f}x",
                "",
            )
        )
        print(
            f"dfc mount benchmark: {args.size_mib} MiB file, {args.files} files, "
            f"median of {args.rounds}, {os.cpu_count()} CPUs, "
            f"load average {load_start} at the start, {load()} at the end"
        )
        bench.print()
        print(
            "(ratios are speed ratios: mount/peer >= 0.5x read goal; for ls, peer time /"
            " mount time >= 0.5x means the mount is within 2x)"
        )
    finally:
        if Path("/proc/self/mountinfo").read_text().find(str(bench.mnt)) >= 0:
            subprocess.run(["fusermount3", "-uz", str(bench.mnt)], check=False)
        if server is not None:
            server.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
