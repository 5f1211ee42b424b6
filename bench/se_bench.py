"""Put and get through dfc's storage elements against the native tools, in one run.

Starts real loopback servers with the test helpers (XRootD, nginx WebDAV, SeaweedFS
S3), then for each backend copies (a) one large file and (b) many small files up and
down, once through ``dfc.se.open_se`` and once with the native tool: ``xrdcp`` for
root:// (``--parallel 8`` for the small files), Debian's ``rclone`` for WebDAV and S3
(``--transfers 16`` for the small files, configured through environment variables).
dfc copies the small files with ``asyncio.gather`` under a semaphore (``--concurrency``).
Prints MB/s (large) or files/s (small) and the ratio dfc/peer.

Goals: >= 0.9x xrdcp for the large file on root://, >= 1x the native tool for the
many small files.

Usage:
    python bench/se_bench.py [--size-mib 1024] [--files 1000] [--file-kib 100]
        [--concurrency 16] [--backends root,webdav,s3] [--dir DIR]
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

from dfc.models import SEInfo
from dfc.se import StorageElement, open_se
from dfc.se.testing import pattern_chunks
from tests.servers.s3 import launch_s3
from tests.servers.webdav import launch_webdav
from tests.servers.xrootd import launch_xrootd

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.servers._proc import LocalServer

MiB = 1024 * 1024
READ_CHUNK = 8 * MiB
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


async def file_chunks(path: Path, chunk: int = READ_CHUNK) -> AsyncIterator[bytes]:
    """Yield the bytes of the local file ``path``."""
    with path.open("rb") as f:
        while block := f.read(chunk):
            yield block


async def dfc_put(se: StorageElement, src: Path, path: str) -> None:
    """Upload local ``src`` to ``path`` on ``se``."""
    await se.put(file_chunks(src), path, size=src.stat().st_size, overwrite=True)


async def dfc_get(se: StorageElement, path: str, dst: Path) -> None:
    """Download ``path`` on ``se`` to local ``dst``."""
    with dst.open("wb") as f:
        async for block in se.open_read(path):
            f.write(block)


async def dfc_many(
    se: StorageElement, names: list[str], src: Path, dst: Path, *, put: bool, concurrency: int
) -> None:
    """Copy every file in ``names`` up (``put``) or down, ``concurrency`` at a time."""
    sem = asyncio.Semaphore(concurrency)

    async def one(name: str) -> None:
        async with sem:
            if put:
                await dfc_put(se, src / name, f"/small/{name}")
            else:
                await dfc_get(se, f"/small/{name}", dst / name)

    await asyncio.gather(*(one(n) for n in names))


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

    def peer_large(self, src: Path, dst: Path, *, put: bool) -> list[str]:
        raise NotImplementedError

    def peer_small(self, src: Path, dst: Path, *, put: bool) -> list[str]:
        raise NotImplementedError


class XRootDBackend(Backend):
    """root:// with ``xrdcp``."""

    def remote(self, path: str) -> str:
        return f"root://{self.server.host}//native{path}"  # type: ignore[attr-defined]

    def peer_large(self, src: Path, dst: Path, *, put: bool) -> list[str]:
        a, b = str(src), self.remote("/large.bin")
        return ["xrdcp", "-s", "-f", *((a, b) if put else (b, str(dst)))]

    def peer_small(self, src: Path, dst: Path, *, put: bool) -> list[str]:
        # src is the local dir "small": -r copies it as native/small
        cmd = ["xrdcp", "-s", "-f", "-r", "--parallel", "8"]
        if put:
            return [*cmd, str(src), self.remote("/")]
        return [*cmd, self.remote("/small"), str(dst)]


class RcloneBackend(Backend):
    """WebDAV or S3 with ``rclone`` (remote ``PEER:``)."""

    prefix: str = "native"

    def peer_large(self, src: Path, dst: Path, *, put: bool) -> list[str]:
        a, b = str(src), f"PEER:{self.prefix}/large.bin"
        return ["rclone", "copyto", *((a, b) if put else (b, str(dst)))]

    def peer_small(self, src: Path, dst: Path, *, put: bool) -> list[str]:
        a, b = str(src), f"PEER:{self.prefix}/small"
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


async def bench_backend(
    b: Backend, work: Path, large: Path, small: Path, names: list[str], concurrency: int
) -> list[Row]:
    """Measure the four cases on one backend, dfc then the peer for each."""
    nbytes = large.stat().st_size
    total_small = len(names)
    se = open_se(b.info, b.options)
    rows: list[Row] = []
    goal_large = 0.9 if b.peer_name == "xrdcp" else None
    try:
        await se.mkdir("/")
        dl = work / "dl"

        t_dfc = await atimed(dfc_put(se, large, "/large.bin"))
        t_peer = run_timed(b.peer_large(large, dl, put=True), b.env)
        rows.append(
            Row(
                b.name,
                "large put",
                "MB/s",
                nbytes / 1e6 / t_dfc,
                nbytes / 1e6 / t_peer,
                b.peer_name,
                goal_large,
            )
        )

        reset(dl)
        t_dfc = await atimed(dfc_get(se, "/large.bin", dl / "large.bin"))
        reset(dl)
        t_peer = run_timed(b.peer_large(large, dl / "large.bin", put=False), b.env)
        rows.append(
            Row(
                b.name,
                "large get",
                "MB/s",
                nbytes / 1e6 / t_dfc,
                nbytes / 1e6 / t_peer,
                b.peer_name,
                goal_large,
            )
        )
        reset(dl)

        t_dfc = await atimed(dfc_many(se, names, small, dl, put=True, concurrency=concurrency))
        t_peer = run_timed(b.peer_small(small, dl, put=True), b.env)
        rows.append(
            Row(
                b.name,
                f"{total_small} small put",
                "files/s",
                total_small / t_dfc,
                total_small / t_peer,
                b.peer_name,
                1.0,
            )
        )

        t_dfc = await atimed(
            dfc_many(se, names, small, reset(dl), put=False, concurrency=concurrency)
        )
        got = len(list(dl.iterdir()))
        reset(dl)
        t_peer = run_timed(b.peer_small(small, dl, put=False), b.env)
        peer_got = sum(1 for p in dl.rglob("*") if p.is_file())
        if got != total_small or peer_got != total_small:
            print(f"warning: {b.name} small get: dfc {got}, peer {peer_got} files", file=sys.stderr)
        rows.append(
            Row(
                b.name,
                f"{total_small} small get",
                "files/s",
                total_small / t_dfc,
                total_small / t_peer,
                b.peer_name,
                1.0,
            )
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
    ap.add_argument("--concurrency", type=int, default=16, help="dfc small-file concurrency")
    ap.add_argument("--backends", default="root,webdav,s3")
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dfc-se-bench-", dir=args.dir))
    rows: list[Row] = []
    try:
        large, names = make_data(work, args.size_mib, args.files, args.file_kib)
        print(
            f"large file {args.size_mib} MiB, {args.files} x {args.file_kib} KiB files, "
            f"dfc concurrency {args.concurrency}",
            flush=True,
        )
        for name in args.backends.split(","):
            backend = start_backend(name)
            try:
                rows += asyncio.run(
                    bench_backend(backend, work, large, work / "small", names, args.concurrency)
                )
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
