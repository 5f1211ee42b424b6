"""``se test``: a quick health probe of one storage element."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from typing import TYPE_CHECKING

from dfc.api._results import SEProbe
from dfc.checksum import Hasher, adler32_equal
from dfc.errors import ChecksumMismatch, DFCError, SizeMismatch
from dfc.se import SupportsChecksum

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from dfc.api._storage import Storage

__all__ = ["probe"]

PROBE_DIR = "/.dfc-probe"


async def probe(storage: Storage, name: str, size: int = 1 << 20) -> SEProbe:
    """Write, stat, read back, checksum and remove a small file on SE ``name``."""
    se = storage.get(name)
    path = f"{PROBE_DIR}/{uuid.uuid4().hex}"
    data = os.urandom(size)
    sent = Hasher()
    sent.update(data)
    timings: dict[str, float] = {}
    written = False

    async def once() -> AsyncIterator[bytes]:
        yield data

    async def step(label: str) -> None:
        nonlocal written
        start = time.perf_counter()
        if label == "write":
            await se.put(once(), path, size=size)
            written = True
        elif label == "stat":
            info = await se.stat(path)
            if info.size != size:
                raise SizeMismatch(f"{name} reports {info.size} bytes, {size} were written")
        elif label == "read":
            got = Hasher()
            async for chunk in se.open_read(path):
                got.update(chunk)
            if got.size != size or got.adler32 != sent.adler32:
                raise ChecksumMismatch(f"{name} returned other bytes than were written")
        elif label == "checksum":
            remote = await se.checksum(path, "adler32")  # type: ignore[attr-defined]
            if remote is not None and not adler32_equal(remote, sent.adler32):
                raise ChecksumMismatch(f"{name} checksum {remote}, expected {sent.adler32}")
        elif label == "remove":
            await se.rm(path)
            written = False
            with contextlib.suppress(DFCError):  # other probes may still be using it
                await se.rmdir(PROBE_DIR)
        timings[label] = time.perf_counter() - start

    steps = ["write", "stat", "read"]
    if isinstance(se, SupportsChecksum):
        steps.append("checksum")
    steps.append("remove")
    try:
        for label in steps:
            await step(label)
    except DFCError as exc:
        if written:
            await storage.remove_quietly(name, path)
        return SEProbe(name, False, timings, f"{label}: {exc}", size)
    return SEProbe(name, True, timings, None, size)
