"""`dfc check`: lost replicas, dark data, size and checksum mismatches, and the fixes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Grid
from tests.conftest import CLI


def _issues(cli: CLI, *args: str) -> list[dict[str, object]]:
    run = cli("check", *args, "--json")
    assert run.code in (0, 1), run.err
    return [json.loads(line) for line in run.out.splitlines()]


def test_clean_catalogue_has_no_issues(grid: Grid, cli: CLI) -> None:
    cli.ok("put", grid.file("a.root", 1000), "/juno/a.root", "--se", "IHEP-DISK")
    run = cli("check", "--checksum")
    assert run.code == 0 and run.out == "" and "no problems" in run.err


def test_finds_everything_and_changes_nothing(grid: Grid, cli: CLI) -> None:
    for name in ("lost", "short", "rot", "fine"):
        cli.ok("put", grid.file(f"{name}.root", 5000), f"/juno/d/{name}.root", "--se", "IHEP-DISK")
    base = grid.ihep / "juno" / "d"
    (base / "lost.root").unlink()
    (base / "short.root").write_bytes(b"x" * 10)
    rot = bytearray((base / "rot.root").read_bytes())
    rot[100] ^= 1
    (base / "rot.root").write_bytes(bytes(rot))
    (base / "dark.root").write_bytes(b"nobody knows me")
    before = grid.snapshot()

    quick = {(i["kind"], i["lfn"] or i["path"]) for i in _issues(cli, "/juno")}
    assert quick == {
        ("lost", "/juno/d/lost.root"),
        ("size", "/juno/d/short.root"),
        ("dark", "/juno/d/dark.root"),
    }
    full = {(i["kind"], i["lfn"] or i["path"]) for i in _issues(cli, "/juno", "--checksum")}
    assert full == quick | {("checksum", "/juno/d/rot.root")}
    assert grid.snapshot() == before
    assert _issues(cli, "/juno", "--se", "CNAF-DISK") == []
    assert {i["path"] for i in _issues(cli, "/juno/d/lost.root")} == {"/juno/d/lost.root"}


def test_mark_bad_makes_get_avoid_the_replica(grid: Grid, cli: CLI, tmp_path: Path) -> None:
    src = grid.file("m.root", 4000)
    cli.ok("put", src, "/juno/m.root", "--se", "IHEP-DISK")
    cli.ok("replicate", "/juno/m.root", "--to", "CNAF-DISK")
    (grid.ihep / "juno" / "m.root").write_bytes(b"y" * 4000)
    issues = _issues(cli, "--checksum", "--mark-bad")
    assert [(i["kind"], i["se"], i["action"]) for i in issues] == [
        ("checksum", "IHEP-DISK", "marked bad")
    ]
    reps = {r["se"]: r["status"] for r in grid.json("replicas", "/juno/m.root")["/juno/m.root"]}  # type: ignore[index]
    assert reps == {"IHEP-DISK": "bad", "CNAF-DISK": "good"}
    run = cli.ok("--site", "IHEP", "get", "/juno/m.root", tmp_path / "m")
    assert "replica marked bad" in run.err
    assert (tmp_path / "m").read_bytes() == src.read_bytes()


def test_register_and_remove_dark(grid: Grid, cli: CLI, tmp_path: Path) -> None:
    (grid.ihep / "juno" / "new").mkdir(parents=True)
    (grid.ihep / "juno" / "new" / "found.root").write_bytes(b"found data" * 100)
    (grid.ihep / "juno" / "new" / ".x.dfc-part-abcd").write_bytes(b"half an upload")
    issues = _issues(cli, "/juno", "--register-dark")
    actions = {i["path"]: i["action"] for i in issues}
    assert actions["/juno/new/found.root"] == "registered as /juno/new/found.root"
    assert str(actions["/juno/new/.x.dfc-part-abcd"]).startswith("not registered")
    cli.ok("get", "/juno/new/found.root", tmp_path / "f")
    assert (tmp_path / "f").read_bytes() == b"found data" * 100
    removed = _issues(cli, "/juno", "--remove-dark")
    assert [(i["path"], i["action"]) for i in removed] == [
        ("/juno/new/.x.dfc-part-abcd", "removed")
    ]
    assert _issues(cli, "/juno") == []


def test_renamed_files_are_not_dark(grid: Grid, cli: CLI) -> None:
    cli.ok("put", grid.file("r.root", 300), "/juno/old/r.root", "--se", "IHEP-DISK")
    cli.ok("mv", "/juno/old", "/juno/new")
    cli.ok(
        "put", grid.file("r2.root", 400), "/juno/old/r.root", "--se", "IHEP-DISK"
    )  # gets a ~suffix path
    assert _issues(cli, "/", "--checksum") == []


def test_bad_options(grid: Grid, cli: CLI) -> None:
    run = cli("check", "--register-dark", "--remove-dark")
    assert run.code == 22 and "exclude each other" in run.err
    assert cli("check", "--se", "NOPE").code == 2
