from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import CLI


class Grid:
    """An initialised dfc home with two local SEs, IHEP-DISK and CNAF-DISK."""

    def __init__(self, cli: CLI, root: Path) -> None:
        self.cli = cli
        self.root = root
        self.ihep = root / "se" / "ihep"
        self.cnaf = root / "se" / "cnaf"
        self.local = root / "local"
        self.local.mkdir()

    def file(self, name: str, data: bytes | int = 1000) -> Path:
        path = self.local / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            data
            if isinstance(data, bytes)
            else bytes(range(256)) * (data // 256) + b"x" * (data % 256)
        )
        return path

    def json(self, *args: str | Path) -> object:
        return json.loads(self.cli.ok(*args, "--json").out)

    def se_files(self) -> dict[str, set[str]]:
        """Every file under each SE directory, relative paths."""
        out: dict[str, set[str]] = {}
        for name, d in (("IHEP-DISK", self.ihep), ("CNAF-DISK", self.cnaf)):
            out[name] = (
                {str(p.relative_to(d)) for p in d.rglob("*") if p.is_file()}
                if d.exists()
                else set()
            )
        return out

    def se_tree(self) -> dict[str, set[str]]:
        """Every file and directory under each SE directory, relative paths (``dir/``)."""
        out: dict[str, set[str]] = {}
        for name, d in (("IHEP-DISK", self.ihep), ("CNAF-DISK", self.cnaf)):
            out[name] = (
                {f"{p.relative_to(d)}{'/' if p.is_dir() else ''}" for p in d.rglob("*")}
                if d.exists()
                else set()
            )
        return out

    def snapshot(self) -> tuple[object, dict[str, set[str]]]:
        """The whole catalogue listing plus the SE contents, to compare before/after."""
        listing = self.json("ls", "-R", "/")
        stats = [self.json("stat", e["lfn"]) for e in listing if e["type"] == "file"]  # type: ignore[index,union-attr]
        return (listing, stats), self.se_files()


@pytest.fixture
def grid(cli: CLI, tmp_path: Path) -> Grid:
    g = Grid(cli, tmp_path)
    cli.ok("init")
    cli.ok("se", "add", "IHEP-DISK", f"file://{g.ihep}", "--site", "IHEP")
    cli.ok("se", "add", "CNAF-DISK", f"file://{g.cnaf}", "--site", "CNAF")
    return g
