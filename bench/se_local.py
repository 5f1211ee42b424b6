"""LocalSE against cp/cat on one large file, side by side in the same run.

Usage: python bench/se_local.py [--size-mib 1024] [--repeat 3] [--dir /tmp]

Measures (warm page cache for everyone; median of --repeat runs, interleaved):
- copy:  LocalSE.open_read -> LocalSE.put (fsync off)  vs  cp
- copy+fsync:  the same with fsync on                  vs  cp && sync FILE
- put from memory: a generator of 8 MiB chunks -> LocalSE.put (fsync off)  vs  dd from /dev/zero
- read:  LocalSE.open_read consumed                   vs  cat FILE > /dev/null
- put_from: a local file -> LocalSE.put_from, both checksums (fsync off)  vs  cp
  (what `dfc put` does: read + hash in one thread, write behind in another)
- get_into: LocalSE.get_into -> a local file, both checksums             vs  cp
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from dfc.checksum import Hasher
from dfc.se import LocalSE

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

MiB = 1024 * 1024


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True)


async def _copy(src: LocalSE, dst: LocalSE, name: str, size: int) -> None:
    await dst.put(src.open_read(name), "/copy.bin", size=size)


async def _zeros(size: int) -> AsyncIterator[bytes]:
    block = bytes(8 * MiB)
    sent = 0
    while sent < size:
        n = min(len(block), size - sent)
        yield block if n == len(block) else block[:n]
        sent += n


async def _put_from(se: LocalSE, local: Path) -> None:
    with open(local, "rb", buffering=0) as fh:
        await se.put_from(fh.readinto, "/copy.bin", Hasher())


async def _get_into(se: LocalSE, name: str, local: Path) -> None:
    with open(local, "xb", buffering=0) as fh:
        await se.get_into(name, fh.write, Hasher())


async def _read(se: LocalSE, name: str) -> None:
    async for _ in se.open_read(name):
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args()
    size = args.size_mib * MiB
    work = Path(tempfile.mkdtemp(prefix="dfc-bench-", dir=args.dir))
    try:
        run(work, size, args.repeat)
    finally:
        shutil.rmtree(work)


def run(work: Path, size: int, repeat: int) -> None:
    (work / "src").mkdir()
    (work / "dst").mkdir()
    src_file = work / "src" / "data.bin"
    with open(src_file, "wb") as f:
        block = os.urandom(8 * MiB)
        for _ in range(size // len(block)):
            f.write(block)
        f.write(block[: size % len(block)])
    dst_file = work / "dst" / "copy.bin"
    cp_dst = work / "dst" / "cp.bin"
    src_se = LocalSE("SRC", f"file://{work / 'src'}")
    fast = LocalSE("DST", f"file://{work / 'dst'}", fsync=False)
    safe = LocalSE("DST", f"file://{work / 'dst'}", fsync=True)
    results: dict[str, list[float]] = {}

    def add(key: str, seconds: float) -> None:
        results.setdefault(key, []).append(seconds)

    def clean() -> None:
        for p in (dst_file, cp_dst):
            p.unlink(missing_ok=True)

    cat = f"cat {src_file} > /dev/null"
    for _ in range(repeat):
        clean()
        add("copy: LocalSE", timed(lambda: asyncio.run(_copy(src_se, fast, "/data.bin", size))))
        add("copy: cp", timed(lambda: sh("cp", str(src_file), str(cp_dst))))
        clean()
        add(
            "copy+fsync: LocalSE",
            timed(lambda: asyncio.run(_copy(src_se, safe, "/data.bin", size))),
        )
        add(
            "copy+fsync: cp && sync",
            timed(lambda: (sh("cp", str(src_file), str(cp_dst)), sh("sync", str(cp_dst)))),
        )
        clean()
        add(
            "put from memory: LocalSE",
            timed(lambda: asyncio.run(fast.put(_zeros(size), "/copy.bin", size=size))),
        )
        add(
            "put from memory: dd",
            timed(
                lambda: sh(
                    "dd",
                    "if=/dev/zero",
                    f"of={cp_dst}",
                    "bs=8M",
                    f"count={size // (8 * MiB)}",
                    "status=none",
                )
            ),
        )
        clean()
        add("put_from: LocalSE", timed(lambda: asyncio.run(_put_from(fast, src_file))))
        add("put_from: cp", timed(lambda: sh("cp", str(src_file), str(cp_dst))))
        clean()
        add(
            "get_into: LocalSE",
            timed(lambda: asyncio.run(_get_into(src_se, "/data.bin", dst_file))),
        )
        add("get_into: cp", timed(lambda: sh("cp", str(src_file), str(cp_dst))))
        clean()
        add("read: LocalSE", timed(lambda: asyncio.run(_read(src_se, "/data.bin"))))
        add("read: cat", timed(lambda: sh("sh", "-c", cat)))
    clean()

    print(f"file size {size / MiB:.0f} MiB, median of {repeat}, warm cache, {os.cpu_count()} CPUs")
    keys = list(results)
    for ours, peer in zip(keys[::2], keys[1::2], strict=True):
        a, b = statistics.median(results[ours]), statistics.median(results[peer])
        print(
            f"{ours:28s} {a:6.2f} s {size / MiB / a:7.0f} MiB/s | "
            f"{peer:24s} {b:6.2f} s {size / MiB / b:7.0f} MiB/s | ratio {a / b:4.2f}"
        )


if __name__ == "__main__":
    main()
