"""Bad input and faults: one clear line, a non-zero exit, and nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Grid
from tests.conftest import CLI


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def stocked(grid: Grid, cli: CLI) -> Grid:
    src = grid.file("a.root", 50_000)
    cli.ok("put", src, "/juno/d/a.root", "--se", "IHEP-DISK")
    return grid


@pytest.mark.parametrize(
    "args",
    [
        ("put", "{src}", "juno/relative.root", "--se", "IHEP-DISK"),
        ("put", "{src}", "/juno/../etc/x", "--se", "IHEP-DISK"),
        ("put", "{src}", "/juno//x", "--se", "IHEP-DISK"),
        ("put", "{src}", "/juno/./x", "--se", "IHEP-DISK"),
        ("put", "{src}", "/juno/bad\x01name", "--se", "IHEP-DISK"),
        ("put", "{src}", "/juno/" + "n" * 256, "--se", "IHEP-DISK"),
        ("put", "{src}", "/juno/x.root", "--se", "NO-SUCH-SE"),
        ("put", "{missing}", "/juno/x.root", "--se", "IHEP-DISK"),
        ("put", "{src}", "/juno/d/a.root", "--se", "IHEP-DISK"),  # exists, no --overwrite
        (
            "put",
            "{src}",
            "/juno/d/a.root/x",
            "--se",
            "IHEP-DISK",
        ),  # a file where a directory should be
        ("put", "{src}", "/juno/d/a.root/x/y", "--se", "CNAF-DISK"),  # (on another SE)
        ("put", "-r", "{dir}", "/juno/d/a.root", "--se", "CNAF-DISK"),
        (
            "put",
            "{src}",
            "{src}",
            "/juno/d/a.root",
            "--se",
            "IHEP-DISK",
        ),  # several sources, target a file
        ("put", "{dir}", "/juno/x", "--se", "IHEP-DISK"),  # a local directory without -r
        ("get", "/juno/d", "{out}"),  # a directory without -r
        ("get", "/juno/d/nothere.root", "{out}"),
        ("get", "/juno/d/a.root", "{out}", "--se", "CNAF-DISK"),  # no replica there
        ("replicate", "/juno/d/a.root", "--to", "NOPE"),
        ("replicate", "/juno/d/a.root", "--to", "CNAF-DISK", "--from", "CNAF-DISK"),
        ("rm", "/juno/d"),  # directory without -r
        ("rm", "relative"),
        ("stat", "/juno/nothere"),
        ("ls", "/juno/nothere"),
        ("mkdir", "/juno/a/b/c"),  # no -p
        ("mkdir", "/juno/d/a.root/sub", "-p"),  # a file in the way
        ("mv", "/juno/d", "/juno/d/inside"),
        ("mv", "/juno/none", "/juno/other"),
        ("se", "add", "bad name", "file:///tmp/x"),
        ("se", "add", "X", "relative/path"),
        ("se", "rm", "IHEP-DISK"),  # still holds replicas
        ("se", "rm", "NOPE"),
    ],
)
def test_bad_input_changes_nothing(stocked: Grid, cli: CLI, args: tuple[str, ...]) -> None:
    grid = stocked
    src = grid.file("new.root", 100)
    (grid.local / "adir").mkdir(exist_ok=True)
    fill = {
        "src": str(src),
        "missing": str(grid.local / "missing.root"),
        "dir": str(grid.local / "adir"),
        "out": str(grid.root / "out.root"),
    }
    argv = [a.format(**fill) if "{" in a else a for a in args]
    before, tree = grid.snapshot(), grid.se_tree()
    run = cli(*argv)
    assert run.code != 0, run.out
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("dfc: ") and "Traceback" not in run.err
    assert grid.snapshot() == before
    assert grid.se_tree() == tree  # not even an empty directory on an SE
    assert not (grid.root / "out.root").exists()


def test_get_skips_corrupt_replica_and_reports_it(stocked: Grid, cli: CLI, tmp_path: Path) -> None:
    grid = stocked
    cli.ok("replicate", "/juno/d/a.root", "--to", "CNAF-DISK")
    _corrupt(grid.ihep / "juno/d/a.root")
    for _ in range(3):  # whichever replica comes first
        run = cli.ok("--site", "IHEP", "get", "/juno/d/a.root", tmp_path / "a")
        assert (tmp_path / "a").read_bytes() == (grid.local / "a.root").read_bytes()
        assert "skipped replica of /juno/d/a.root at IHEP-DISK" in run.err
        assert "adler32 mismatch" in run.err
        (tmp_path / "a").unlink()


def test_get_with_only_corrupt_replicas_leaves_nothing(
    stocked: Grid, cli: CLI, tmp_path: Path
) -> None:
    grid = stocked
    _corrupt(grid.ihep / "juno/d/a.root")
    out = tmp_path / "out"
    out.mkdir()
    run = cli("get", "/juno/d/a.root", out / "a")
    assert run.code != 0 and "no replica could be read" in run.err
    assert list(out.iterdir()) == [], "no partial or temporary file may remain"


def test_get_truncated_replica_is_a_size_mismatch(stocked: Grid, cli: CLI, tmp_path: Path) -> None:
    grid = stocked
    p = grid.ihep / "juno/d/a.root"
    p.write_bytes(p.read_bytes()[:100])
    run = cli("get", "/juno/d/a.root", tmp_path / "a")
    assert run.code != 0 and "size mismatch" in run.err
    assert not (tmp_path / "a").exists()


def test_replicate_from_corrupt_source_registers_nothing(stocked: Grid, cli: CLI) -> None:
    grid = stocked
    _corrupt(grid.ihep / "juno/d/a.root")
    run = cli("replicate", "/juno/d/a.root", "--to", "CNAF-DISK")
    assert run.code != 0 and "mismatch" in run.err
    reps = grid.json("replicas", "/juno/d/a.root")
    assert [r["se"] for r in reps["/juno/d/a.root"]] == ["IHEP-DISK"]  # type: ignore[index]
    assert grid.se_files()["CNAF-DISK"] == set()


def test_replicate_fails_over_to_good_source(stocked: Grid, cli: CLI, tmp_path: Path) -> None:
    grid = stocked
    cli.ok("se", "add", "JINR-DISK", f"file://{tmp_path}/jinr", "--site", "JINR")
    cli.ok("replicate", "/juno/d/a.root", "--to", "CNAF-DISK")
    _corrupt(grid.ihep / "juno/d/a.root")
    run = cli.ok("replicate", "/juno/d/a.root", "--to", "JINR-DISK", "--json")
    assert (tmp_path / "jinr/juno/d/a.root").read_bytes() == (grid.local / "a.root").read_bytes()
    assert '"source": "CNAF-DISK"' in run.out


def test_vanished_se_directory(stocked: Grid, cli: CLI, tmp_path: Path) -> None:
    import shutil

    grid = stocked
    shutil.rmtree(grid.ihep)
    before = grid.snapshot()
    run = cli("get", "/juno/d/a.root", tmp_path / "a")
    assert run.code != 0 and "IHEP-DISK" in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert grid.snapshot() == before


def test_unwritable_se_location(grid: Grid, cli: CLI) -> None:
    # A regular file where a directory must go: no user, root included, can write there.
    blocker = grid.root / "blocker"
    blocker.write_text("not a directory")
    run = cli("se", "add", "BROKEN", f"file://{blocker}/se")
    assert run.code != 0 and "Not a directory" in run.err
    assert len(run.err.strip().splitlines()) == 1
    (grid.ihep / "juno").write_text("a file where the /juno directory should be")
    src = grid.file("b.root", 100)
    before = grid.snapshot()
    run = cli("put", src, "/juno/b.root", "--se", "IHEP-DISK")
    assert run.code != 0
    assert len(run.err.strip().splitlines()) == 1 and "Traceback" not in run.err
    assert grid.snapshot() == before
    assert sorted(p.name for p in grid.ihep.iterdir()) == ["juno"]


def test_partial_failure_in_bulk_put(grid: Grid, cli: CLI) -> None:
    good = grid.file("good.root", 100)
    run = cli("put", good, grid.local / "missing.root", "/juno/bulk/", "--se", "IHEP-DISK")
    assert run.code != 0
    assert "missing.root" in run.err
    assert "/juno/bulk/good.root" in run.out
    assert [e["lfn"] for e in grid.json("ls", "/juno/bulk")] == ["/juno/bulk/good.root"]  # type: ignore[index,union-attr]
