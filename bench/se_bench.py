"""Put and get through dfc's storage elements against the native tools, in one run.

Starts real loopback servers with the test helpers (XRootD, nginx WebDAV, SeaweedFS
S3), then for each backend copies (a) one large file and (b) many small files up and
down, once through ``dfc.se.open_se`` and once with the native tool: ``xrdcp`` for
root:// (``--parallel 8`` for the small files), Debian's ``rclone`` for WebDAV and S3
(``--transfers 16`` for the small files, configured through environment variables).
dfc copies the small files with ``asyncio.gather`` under the copy limits its own commands
use (:class:`dfc.api._slots.CopySlots` with the default settings: 8 files of 1 MiB or more,
32 smaller ones in flight; ``--concurrency N`` sets both to N); its local files are
read and written as ``dfc put`` and ``dfc get`` do it (``dfc.api._local``: hashed, in
worker threads, as the native tools do their file I/O off their main thread).
Each case runs ``--rounds`` times, dfc and the peer alternating, each round onto new
remote names and after a ``sync`` (no run pays for the writeback of the one before); the
best time of each side counts (the machine is shared and noisy).
Prints MB/s (large) or files/s (small) and the ratio dfc/peer.

Goals: >= 0.9x xrdcp for the large file on root://, >= 1x the native tool for the
many small files.

Usage:
    python bench/se_bench.py [--size-mib 1024] [--files 1000] [--file-kib 100]
        [--concurrency N] [--rounds 3] [--backends root,webdav,s3] [--dir DIR]
        [--server-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dfc._sync import BatchedWorkers
from dfc.api._local import read_local, write_local
from dfc.api._slots import SMALL_FILE, CopySlots
from dfc.checksum import Hasher
from dfc.config import Settings
from dfc.models import SEInfo
from dfc.se import StorageElement, open_se
from dfc.se.testing import pattern_chunks
from tests.servers.s3 import launch_s3
from tests.servers.webdav import launch_webdav
from tests.servers.xrootd import launch_xrootd

if TYPE_CHECKING:
    from tests.servers._proc import LocalServer

MiB = 1024 * 1024


def _default(name: str) -> int:
    value = Settings.__dataclass_fields__[name].default
    assert isinstance(value, int)
    return value


#: The copies dfc's own commands (put, get) keep in flight: (large files, small files).
DFC_LIMITS = (_default("transfer_concurrency"), _default("small_file_concurrency"))
BUCKET = "dfc-bench"


@dataclass
class Row:
    """One measured case: dfc and peer rates (MB/s or files/s)."""

    backend: str
    case: str
    unit: str
    dfc: float
    peer: float
    peer_name: str
    goal: float | None


async def dfc_put(
    se: StorageElement, src: Path, path: str, workers: BatchedWorkers | None = None
) -> None:
    """Upload local ``src`` to ``path`` on ``se`` as ``dfc put`` reads a local file.

    dfc's own reader (:func:`dfc.api._local.read_local`) opens, reads and hashes
    the file in worker threads, off the event loop (as xrdcp and rclone do it off
    their main thread); a small file is one hand-over, on ``workers`` for the
    small files of a many-file put, as ``dfc put`` does.
    """
    await se.put(read_local(src, Hasher(), workers=workers), path, overwrite=True)


async def dfc_get(
    se: StorageElement, path: str, dst: Path, workers: BatchedWorkers | None = None
) -> None:
    """Download ``path`` on ``se`` to local ``dst`` as ``dfc get`` writes a local file
    (:func:`dfc.api._local.write_local`: hashed, written in a worker thread; small
    files of a many-file get on ``workers``, as ``dfc get`` does)."""
    await write_local(se.open_read(path), dst, Hasher(), workers=workers)


async def dfc_many(se: StorageElement, c: Case, dst: Path, *, put: bool, remote: str) -> None:
    """Copy every small file of ``c`` up (``put``, from ``c.small``) or down (to ``dst``),
    as many at a time as dfc's commands would with ``c.limits`` (large, small)."""
    slots = CopySlots(*c.limits)
    workers = BatchedWorkers()

    async def one(name: str) -> None:
        async with slots.hold(c.file_size):
            if put:
                await dfc_put(se, c.small / name, f"{remote}/{name}", workers)
            else:
                await dfc_get(se, f"{remote}/{name}", dst / name, workers)

    try:
        await asyncio.gather(*(one(n) for n in c.names))
    finally:
        workers.shutdown()


def run_timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """Run ``cmd`` and return its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


async def atimed(coro: Any) -> float:
    """Await ``coro`` and return its wall time in seconds."""
    start = time.perf_counter()
    await coro
    return time.perf_counter() - start


def reset(path: Path) -> Path:
    """Empty (re-create) the local directory ``path``."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@dataclass
class Backend:
    """How to reach one started server with dfc and with its native tool."""

    name: str
    server: LocalServer
    info: SEInfo
    options: dict[str, Any]
    peer_name: str
    env: dict[str, str]

    def peer_large(self, src: Path, dst: Path, *, put: bool, tag: str) -> list[str]:
        raise NotImplementedError

    def peer_small(self, src: Path, dst: Path, *, put: bool, tag: str) -> list[str]:
        raise NotImplementedError

    def prepare(self, tag: str) -> None:
        """Make what the native tool needs before the uploads of round ``tag`` (untimed)."""


class XRootDBackend(Backend):
    """root:// with ``xrdcp``."""

    def remote(self, path: str) -> str:
        return f"root://{self.server.host}//native{path}"  # type: ignore[attr-defined]

    def prepare(self, tag: str) -> None:
        host = self.server.host  # type: ignore[attr-defined]
        subprocess.run(["xrdfs", host, "mkdir", "-p", f"/native/{tag}"], check=True)

    def peer_large(self, src: Path, dst: Path, *, put: bool, tag: str) -> list[str]:
        a, b = str(src), self.remote(f"/{tag}/large.bin")
        return ["xrdcp", "-s", "-f", *((a, b) if put else (b, str(dst)))]

    def peer_small(self, src: Path, dst: Path, *, put: bool, tag: str) -> list[str]:
        # src is the local dir "small": -r copies it as native/TAG/small
        cmd = ["xrdcp", "-s", "-f", "-r", "--parallel", "8"]
        if put:
            return [*cmd, str(src), self.remote(f"/{tag}/")]
        return [*cmd, self.remote(f"/{tag}/small"), str(dst)]


class RcloneBackend(Backend):
    """WebDAV or S3 with ``rclone`` (remote ``PEER:``)."""

    prefix: str = "native"

    def peer_large(self, src: Path, dst: Path, *, put: bool, tag: str) -> list[str]:
        a, b = str(src), f"PEER:{self.prefix}/{tag}/large.bin"
        return ["rclone", "copyto", *((a, b) if put else (b, str(dst)))]

    def peer_small(self, src: Path, dst: Path, *, put: bool, tag: str) -> list[str]:
        a, b = str(src), f"PEER:{self.prefix}/{tag}/small"
        return ["rclone", "copy", "--transfers", "16", *((a, b) if put else (b, str(dst)))]


def start_backend(name: str) -> Backend:
    """Start the server for ``name`` and describe how to reach it."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("RCLONE_", "AWS_"))}
    if name == "root":
        xrd = launch_xrootd()
        info = SEInfo("XRD", f"root://{xrd.host}//dfc")
        return XRootDBackend("root://", xrd, info, {}, "xrdcp", base_env)
    if name == "webdav":
        dav = launch_webdav()
        env = {
            **base_env,
            "RCLONE_CONFIG_PEER_TYPE": "webdav",
            "RCLONE_CONFIG_PEER_URL": dav.url,
            "RCLONE_CONFIG_PEER_VENDOR": "other",
        }
        info = SEInfo("DAV", f"{dav.url}dfc/")
        return RcloneBackend("WebDAV", dav, info, {}, "rclone", env)
    if name == "s3":
        s3 = launch_s3()
        s3.make_bucket(BUCKET)
        env = {
            **base_env,
            "RCLONE_CONFIG_PEER_TYPE": "s3",
            "RCLONE_CONFIG_PEER_PROVIDER": "Other",
            "RCLONE_CONFIG_PEER_ACCESS_KEY_ID": s3.access_key,
            "RCLONE_CONFIG_PEER_SECRET_ACCESS_KEY": s3.secret_key,
            "RCLONE_CONFIG_PEER_ENDPOINT": s3.endpoint_url,
            "RCLONE_CONFIG_PEER_REGION": "us-east-1",
            "RCLONE_CONFIG_PEER_FORCE_PATH_STYLE": "true",
        }
        opts = {"key": s3.access_key, "secret": s3.secret_key, "endpoint_url": s3.endpoint_url}
        backend = RcloneBackend("S3", s3, SEInfo("S3", f"s3://{BUCKET}/dfc"), opts, "rclone", env)
        backend.prefix = f"{BUCKET}/native"
        return backend
    raise SystemExit(f"unknown backend {name!r}")


@dataclass
class Case:
    """Inputs of one backend's measurements."""

    work: Path
    large: Path
    small: Path
    names: list[str]
    file_size: int
    limits: tuple[int, int]
    rounds: int


async def best_of(
    b: Backend, c: Case, dfc: Any, peer: Any, *, fresh: Path | None = None
) -> tuple[float, float]:
    """Run ``dfc(tag)`` and ``peer(tag)`` alternately ``rounds`` times; return the best times.

    Every round writes to new remote names (``tag``): rclone skips files already
    there, so repeating a copy onto the same names would measure nothing.
    ``fresh``, when given, is emptied before each run (a local download directory).
    Each run starts with the data of the runs before it flushed to disk
    (``sync``, not timed): otherwise a run can be throttled by the kernel while
    it writes back what the previous one (the other side's) left dirty.
    """
    best_dfc = best_peer = float("inf")
    for r in range(c.rounds):
        tag = f"r{r}"
        if fresh is not None:
            reset(fresh)
        os.sync()
        best_dfc = min(best_dfc, await atimed(dfc(tag)))
        if fresh is not None:
            reset(fresh)
        b.prepare(tag)
        os.sync()
        start = time.perf_counter()
        peer(tag)
        best_peer = min(best_peer, time.perf_counter() - start)
    return best_dfc, best_peer


async def bench_backend(b: Backend, c: Case) -> list[Row]:
    """Measure the four cases on one backend, best of ``rounds``, dfc and the peer alternating."""
    nbytes = c.large.stat().st_size
    n = len(c.names)
    se = open_se(b.info, b.options)
    rows: list[Row] = []
    goal_large = 0.9 if b.peer_name == "xrdcp" else None
    dl = c.work / "dl"
    reset(dl)

    def run(cmd: list[str]) -> None:
        run_timed(cmd, b.env)

    try:
        await se.mkdir("/")
        t_dfc, t_peer = await best_of(
            b,
            c,
            lambda tag: dfc_put(se, c.large, f"/{tag}/large.bin"),
            lambda tag: run(b.peer_large(c.large, dl, put=True, tag=tag)),
        )
        mb = nbytes / 1e6
        rows.append(
            Row(b.name, "large put", "MB/s", mb / t_dfc, mb / t_peer, b.peer_name, goal_large)
        )
        t_dfc, t_peer = await best_of(
            b,
            c,
            lambda tag: dfc_get(se, "/r0/large.bin", dl / "large.bin"),
            lambda tag: run(b.peer_large(c.large, dl / "large.bin", put=False, tag="r0")),
            fresh=dl,
        )
        rows.append(
            Row(b.name, "large get", "MB/s", mb / t_dfc, mb / t_peer, b.peer_name, goal_large)
        )

        def put_many(tag: str) -> Any:
            return dfc_many(se, c, dl, put=True, remote=f"/{tag}/small")

        async def get_many(tag: str) -> None:
            await dfc_many(se, c, dl, put=False, remote="/r0/small")
            if (got := len(list(dl.iterdir()))) != n:
                print(f"warning: {b.name} small get: dfc fetched {got} of {n}", file=sys.stderr)

        t_dfc, t_peer = await best_of(
            b, c, put_many, lambda tag: run(b.peer_small(c.small, dl, put=True, tag=tag))
        )
        rows.append(
            Row(b.name, f"{n} small put", "files/s", n / t_dfc, n / t_peer, b.peer_name, 1.0)
        )
        t_dfc, t_peer = await best_of(
            b,
            c,
            get_many,
            lambda tag: run(b.peer_small(c.small, dl, put=False, tag="r0")),
            fresh=dl,
        )
        got = sum(1 for p in dl.rglob("*") if p.is_file())
        if got != n:
            print(
                f"warning: {b.name} small get: the peer fetched {got} of {n} files", file=sys.stderr
            )
        rows.append(
            Row(b.name, f"{n} small get", "files/s", n / t_dfc, n / t_peer, b.peer_name, 1.0)
        )
        reset(dl)
    finally:
        await se.close()
    return rows


def print_table(rows: list[Row]) -> None:
    """Print the results with the ratio and its goal."""
    head = f"{'backend':<8} {'case':<16} {'unit':<8} {'dfc':>9} {'peer':>9} {'tool':<7}"
    print(f"{head} {'dfc/peer':>8}  goal")
    for r in rows:
        ratio = r.dfc / r.peer
        goal = "" if r.goal is None else f">= {r.goal:g}x {'ok' if ratio >= r.goal else 'MISS'}"
        print(
            f"{r.backend:<8} {r.case:<16} {r.unit:<8} {r.dfc:>9.1f} {r.peer:>9.1f} "
            f"{r.peer_name:<7} {ratio:>7.2f}x  {goal}"
        )


def make_data(work: Path, size_mib: int, files: int, file_kib: int) -> tuple[Path, list[str]]:
    """Write the large source file and the small ones; return (large, small names)."""
    large = work / "large.bin"
    with large.open("wb") as f:
        for block in pattern_chunks(size_mib * MiB):
            f.write(block)
    small = reset(work / "small")
    names = [f"f{i:05d}.bin" for i in range(files)]
    for i, name in enumerate(names):
        (small / name).write_bytes(i.to_bytes(8, "big") + os.urandom(file_kib * 1024 - 8))
    return large, names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024, help="large file size (MiB)")
    ap.add_argument("--files", type=int, default=1000, help="number of small files")
    ap.add_argument("--file-kib", type=int, default=100, help="small file size (KiB)")
    ap.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="dfc's copies in flight (default: dfc's own limits, {} large / {} small files)".format(
            *DFC_LIMITS
        ),
    )
    ap.add_argument("--backends", default="root,webdav,s3")
    ap.add_argument("--rounds", type=int, default=3, help="best of this many runs per case")
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    ap.add_argument(
        "--server-dir",
        type=Path,
        default=None,
        help="where the servers keep their data (default: the system's temp directory)",
    )
    args = ap.parse_args()
    if args.server_dir is not None:
        tempfile.tempdir = str(args.server_dir)  # the test helpers make their dirs there

    work = Path(tempfile.mkdtemp(prefix="dfc-se-bench-", dir=args.dir))
    rows: list[Row] = []
    try:
        large, names = make_data(work, args.size_mib, args.files, args.file_kib)
        limits = DFC_LIMITS if args.concurrency is None else (args.concurrency,) * 2
        in_flight = max(limits) if args.file_kib * 1024 < SMALL_FILE else limits[0]
        print(
            f"large file {args.size_mib} MiB, {args.files} x {args.file_kib} KiB files, "
            f"dfc copies {in_flight} small files at once, best of {args.rounds} rounds",
            flush=True,
        )
        for name in args.backends.split(","):
            backend = start_backend(name)
            try:
                case = Case(
                    work,
                    large,
                    work / "small",
                    names,
                    args.file_kib * 1024,
                    limits,
                    max(1, args.rounds),
                )
                rows += asyncio.run(bench_backend(backend, case))
            except subprocess.CalledProcessError as exc:
                print(f"{name}: {exc.cmd} failed: {exc.stderr.decode()[-2000:]}", file=sys.stderr)
                raise
            finally:
                backend.server.close()
            print(f"{name} done", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(rows)


if __name__ == "__main__":
    main()
