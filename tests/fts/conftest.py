"""Fixtures of the transfer-engine tests: a catalogue with local SEs and files on them."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dfc import DFC, Settings
from dfc.catalog import TransferQueue
from dfc.fts.agent import run_agent
from dfc.fts.config import EngineConfig
from dfc.fts.replicate import CatalogStore
from dfc.fts.retry import RetryPolicy
from dfc.fts.sources import SEPool

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from dfc.catalog.queue import TransferFile, TransferJob
    from dfc.fts.engine import EngineReport
    from dfc.models import SEInfo
    from dfc.se import StorageElement

#: Fast timers for tests: retries after 10 ms, heartbeats every 0.2 s.
FAST = {
    "retry": RetryPolicy(retries=3, delay=0.01, max_delay=0.05, checksum_rereads=1),
    "heartbeat": 0.2,
    "optimizer_interval": 0.2,
    "agent_grace": 2.0,
}


def payload(i: int, size: int) -> bytes:
    """Deterministic, incompressible-looking bytes of file ``i``."""
    seed = hashlib.sha256(str(i).encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


class Grid:
    """A dfc home with local SEs; files are put through the API."""

    def __init__(self, root: Path, catalog_url: str | None = None, config: str = "") -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        path = root / "config.toml"
        head = f'catalog = "{catalog_url}"\n' if catalog_url is not None else ""
        path.write_text(head + config)
        config_file = path
        self.settings = Settings.load(config_file=config_file)
        self.api = DFC(self.settings)
        self.api.init()
        self.dirs: dict[str, Path] = {}
        (root / "local").mkdir()

    def se(self, name: str, site: str = "") -> Path:
        path = self.root / "se" / name
        self.api.se_add(name, f"file://{path}", site=site)
        self.dirs[name] = path
        return path

    def files(
        self, n: int, *, size: int = 1000, se: str = "A", directory: str = "/vo/d"
    ) -> list[str]:
        local = self.root / "local" / directory.strip("/").replace("/", "_")
        local.mkdir(parents=True, exist_ok=True)
        paths = []
        for i in range(n):
            p = local / f"f{i:05d}"
            p.write_bytes(payload(i, size))
            paths.append(p)
        self.api.mkdir([directory], parents=True)
        result = self.api.put(paths, directory + "/", se=se)
        result.raise_first()
        return sorted(result.succeeded)

    def submit(self, lfns: list[str], to: str, **kw: Any) -> TransferJob:
        sub = self.api.fts_submit(lfns, to, **kw)
        assert sub.job is not None, sub.failed
        return sub.job

    def job(self, job_id: int) -> TransferJob:
        return self.api.fts_job(job_id)

    def job_files(self, job_id: int) -> list[TransferFile]:
        return list(self.api.fts_files(job_id))

    def on_disk(self, se: str) -> dict[str, bytes]:
        base = self.dirs[se]
        return {
            "/" + str(p.relative_to(base)): p.read_bytes() for p in base.rglob("*") if p.is_file()
        }

    def replicas(self, lfns: list[str]) -> dict[str, set[str]]:
        found = self.api.replicas(lfns)
        return {lfn: {r.se for r in reps} for lfn, reps in found.succeeded.items()}

    def config(self, **overrides: Any) -> EngineConfig:
        return EngineConfig.from_settings(self.settings, **{**FAST, **overrides})

    def run(
        self,
        *,
        jobs: list[int] | None = None,
        opener: Callable[[SEInfo, Mapping[str, Any] | None], StorageElement] | None = None,
        **overrides: Any,
    ) -> EngineReport:
        """Run an engine in this process until the queue (or ``jobs``) is drained."""
        store = CatalogStore(self.api.catalog)
        infos = {s.name: s for s in self.api.se_list()}

        async def main() -> EngineReport:
            pool = SEPool(infos, self.settings.se_options, opener)
            return await run_agent(store, pool, self.config(**overrides), once=True, jobs=jobs)

        return asyncio.run(main())

    @contextlib.contextmanager
    def queue(self) -> Iterator[TransferQueue]:
        with self.api.catalog.transaction() as tx:
            yield TransferQueue(tx)

    def close(self) -> None:
        self.api.close()


@pytest.fixture
def grid(tmp_path: Path) -> Iterator[Grid]:
    """Two local SEs, A (site S1) and B (site S2), in a fresh SQLite catalogue."""
    g = Grid(tmp_path)
    g.se("A", "S1")
    g.se("B", "S2")
    try:
        yield g
    finally:
        g.close()


def temp_leftovers(root: Path) -> list[Path]:
    """Temporary files (ours or an SE's) anywhere below ``root``."""
    return [p for p in root.rglob("*") if ".dfc-part" in p.name]


def environ(grid: Grid) -> dict[str, str]:
    """The environment of a subprocess using ``grid``'s dfc home."""
    env = dict(os.environ)
    env["DFC_CONFIG"] = str(grid.settings.config_file)
    env["DFC_DATA_DIR"] = str(grid.settings.data_dir)
    env["PYTHONPATH"] = str(Path(__file__).parents[2])
    return env
