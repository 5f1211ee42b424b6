"""The issue's user story, end to end through the CLI on SQLite and local SEs."""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path

import xxhash

from tests.cli.conftest import Grid
from tests.conftest import CLI

RUN1 = "/juno/user/a/alice/run1"


def test_user_story(grid: Grid, cli: CLI, tmp_path: Path) -> None:
    src = grid.file("detsim-001.root", 300_000)
    data = src.read_bytes()
    cli.ok("mkdir", "-p", RUN1)
    put = cli.ok("put", src, f"{RUN1}/", "--se", "IHEP-DISK")
    assert f"{RUN1}/detsim-001.root" in put.out
    cli.ok("replicate", f"{RUN1}/detsim-001.root", "--to", "CNAF-DISK")

    ls = cli.ok("ls", "-l", RUN1).out.splitlines()
    assert len(ls) == 1 and ls[0].endswith("detsim-001.root") and " 2 " in ls[0]
    assert str(len(data)) in ls[0]

    reps = grid.json("replicas", f"{RUN1}/detsim-001.root")
    assert isinstance(reps, dict)
    ses = {r["se"]: r for r in reps[f"{RUN1}/detsim-001.root"]}
    assert set(ses) == {"IHEP-DISK", "CNAF-DISK"}
    assert ses["CNAF-DISK"]["pfn"] == f"file://{grid.cnaf}{RUN1}/detsim-001.root"
    assert all(r["status"] == "good" for r in ses.values())
    assert (grid.cnaf / RUN1.lstrip("/") / "detsim-001.root").read_bytes() == data

    [st] = grid.json("stat", f"{RUN1}/detsim-001.root")  # type: ignore[misc]
    assert st["size"] == len(data)
    assert st["checksums"]["adler32"] == f"{zlib.adler32(data) & 0xFFFFFFFF:08x}"
    assert st["checksums"]["xxh3"] == xxhash.xxh3_64_hexdigest(data)
    assert len(st["guid"]) == 36 and st["type"] == "file"
    for key in ("owner", "group", "mode", "ctime", "mtime", "status"):
        assert key in st

    copy = tmp_path / "copy.root"
    cli.ok("get", f"{RUN1}/detsim-001.root", copy)
    assert hashlib.sha256(copy.read_bytes()).digest() == hashlib.sha256(data).digest()

    cli.ok("rm", f"{RUN1}/detsim-001.root")
    assert cli.ok("ls", RUN1).out == ""
    assert grid.se_files() == {"IHEP-DISK": set(), "CNAF-DISK": set()}


def test_init_is_idempotent(cli: CLI, dfc_home: Path) -> None:
    first = cli.ok("init")
    assert "created" in first.out
    cli.ok("se", "add", "X", f"file://{dfc_home}/x")
    second = cli.ok("init")
    assert "created" not in second.out
    assert [s["name"] for s in _json(cli, "se", "list")] == ["X"]


def _json(cli: CLI, *args: str) -> list[dict[str, object]]:
    import json

    out = json.loads(cli.ok(*args, "--json").out)
    assert isinstance(out, list)
    return out


def test_empty_file_is_a_file(grid: Grid, cli: CLI, tmp_path: Path) -> None:
    src = grid.file("empty.root", b"")
    cli.ok("put", src, "/juno/empty.root", "--se", "IHEP-DISK")
    [st] = grid.json("stat", "/juno/empty.root")  # type: ignore[misc]
    assert st["size"] == 0 and st["checksums"]["adler32"] == "00000001"
    cli.ok("get", "/juno/empty.root", tmp_path / "e")
    assert (tmp_path / "e").read_bytes() == b""


def test_put_recursive_cp_semantics(grid: Grid, cli: CLI, tmp_path: Path) -> None:
    grid.file("tree/a.root", 10)
    grid.file("tree/sub/b.root", 20)
    (grid.local / "tree" / "emptydir").mkdir()
    cli.ok(
        "put", "-r", grid.local / "tree", "/juno/new", "--se", "IHEP-DISK"
    )  # new: becomes the copy
    cli.ok(
        "put", "-r", grid.local / "tree", "/juno/new", "--se", "IHEP-DISK"
    )  # exists: goes inside
    names = {e["lfn"] for e in _json(cli, "ls", "-R", "/juno/new")}
    assert names == {
        "/juno/new/a.root",
        "/juno/new/sub",
        "/juno/new/sub/b.root",
        "/juno/new/emptydir",
        "/juno/new/tree",
        "/juno/new/tree/a.root",
        "/juno/new/tree/sub",
        "/juno/new/tree/sub/b.root",
        "/juno/new/tree/emptydir",
    }
    out = tmp_path / "back"
    cli.ok("get", "-r", "/juno/new", out)
    assert (out / "sub" / "b.root").read_bytes() == (grid.local / "tree/sub/b.root").read_bytes()
    assert (out / "tree" / "emptydir").is_dir()


def test_many_files_put_replicate_rm_recursive(grid: Grid, cli: CLI) -> None:
    for i in range(40):
        grid.file(f"many/f{i:03d}.dat", 100 + i)
    cli.ok("put", "-r", grid.local / "many", "/juno/many", "--se", "IHEP-DISK")
    rep = cli.ok("replicate", "-r", "/juno/many", "--to", "CNAF-DISK")
    assert rep.out.count("IHEP-DISK -> CNAF-DISK") == 40
    again = cli.ok("replicate", "-r", "/juno/many", "--to", "CNAF-DISK")
    assert again.out.count("already at CNAF-DISK") == 40
    assert len(grid.se_files()["CNAF-DISK"]) == 40
    cli.ok("rm", "-r", "/juno/many")
    assert cli("ls", "/juno/many").code != 0
    assert grid.se_files() == {"IHEP-DISK": set(), "CNAF-DISK": set()}


def test_rm_single_replica_and_last_replica_refused(grid: Grid, cli: CLI) -> None:
    src = grid.file("x.root")
    cli.ok("put", src, "/juno/x.root", "--se", "IHEP-DISK")
    cli.ok("replicate", "/juno/x.root", "--to", "CNAF-DISK")
    cli.ok("rm", "--se", "IHEP-DISK", "/juno/x.root")
    assert [r["se"] for r in grid.json("replicas", "/juno/x.root")["/juno/x.root"]] == ["CNAF-DISK"]  # type: ignore[index]
    before = grid.snapshot()
    last = cli("rm", "--se", "CNAF-DISK", "/juno/x.root")
    assert last.code != 0
    assert "last replica" in last.err and "dfc rm /juno/x.root" in last.err
    assert len(last.err.strip().splitlines()) == 1
    assert grid.snapshot() == before


def test_rm_of_missing_is_success_and_mkdir_existing_ok(grid: Grid, cli: CLI) -> None:
    cli.ok("rm", "/juno/never-was")
    cli.ok("mkdir", "-p", "/juno/d")
    cli.ok("mkdir", "/juno/d")


def test_mv_keeps_data_in_place(grid: Grid, cli: CLI, tmp_path: Path) -> None:
    src = grid.file("m.root", 5000)
    cli.ok("put", src, "/juno/a/m.root", "--se", "IHEP-DISK")
    cli.ok("mkdir", "/juno/b")
    cli.ok("mv", "/juno/a", "/juno/b")  # into the existing directory
    reps = grid.json("replicas", "/juno/b/a/m.root")
    assert reps["/juno/b/a/m.root"][0]["pfn"].endswith("/juno/a/m.root")  # type: ignore[index]
    cli.ok("get", "/juno/b/a/m.root", tmp_path / "m")
    assert (tmp_path / "m").read_bytes() == src.read_bytes()
    # A new file at the old name must not clobber the moved file's bytes.
    other = grid.file("other.root", 7000)
    cli.ok("put", other, "/juno/a/m.root", "--se", "IHEP-DISK")
    cli.ok("get", "/juno/b/a/m.root", tmp_path / "m2")
    assert (tmp_path / "m2").read_bytes() == src.read_bytes()
    cli.ok("get", "/juno/a/m.root", tmp_path / "m3")
    assert (tmp_path / "m3").read_bytes() == other.read_bytes()


def test_overwrite_replaces_content(grid: Grid, cli: CLI, tmp_path: Path) -> None:
    one = grid.file("v1.root", b"first version")
    two = grid.file("v2.root", b"second, longer version")
    cli.ok("put", one, "/juno/v.root", "--se", "IHEP-DISK")
    cli.ok("replicate", "/juno/v.root", "--to", "CNAF-DISK")
    refused = cli("put", two, "/juno/v.root", "--se", "IHEP-DISK")
    assert refused.code != 0 and "--overwrite" in refused.err
    cli.ok("put", two, "/juno/v.root", "--se", "IHEP-DISK", "--overwrite")
    [st] = grid.json("stat", "/juno/v.root")  # type: ignore[misc]
    assert st["size"] == len(b"second, longer version")
    assert [r["se"] for r in st["replicas"]] == ["IHEP-DISK"]
    assert sum(len(v) for v in grid.se_files().values()) == 1
    cli.ok("get", "/juno/v.root", tmp_path / "v")
    assert (tmp_path / "v").read_bytes() == b"second, longer version"


def test_get_prefers_local_site(grid: Grid, cli: CLI, tmp_path: Path, monkeypatch: object) -> None:
    src = grid.file("s.root", 4000)
    cli.ok("put", src, "/juno/s.root", "--se", "IHEP-DISK")
    cli.ok("replicate", "/juno/s.root", "--to", "CNAF-DISK")
    for _ in range(5):
        run = cli.ok("--site", "CNAF", "get", "/juno/s.root", tmp_path / "s", "--json")
        assert '"se": "CNAF-DISK"' in run.out
        os.unlink(tmp_path / "s")


def test_ban_and_allow(grid: Grid, cli: CLI, tmp_path: Path) -> None:
    src = grid.file("b.root", 3000)
    cli.ok("put", src, "/juno/b.root", "--se", "IHEP-DISK")
    cli.ok("replicate", "/juno/b.root", "--to", "CNAF-DISK")
    cli.ok("se", "ban", "IHEP-DISK", "--read")
    listing = {s["name"]: s for s in _json(cli, "se", "list")}
    assert listing["IHEP-DISK"]["read"] is False and listing["IHEP-DISK"]["write"] is True
    run = cli.ok("--site", "IHEP", "get", "/juno/b.root", tmp_path / "b", "--json")
    assert '"se": "CNAF-DISK"' in run.out
    assert "IHEP-DISK is banned for reading" in run.err
    cli.ok("se", "ban", "CNAF-DISK", "--write")
    refused = cli("put", src, "/juno/c.root", "--se", "CNAF-DISK")
    assert refused.code == 13 and "banned for writing" in refused.err
    cli.ok("se", "ban", "CNAF-DISK")
    none = cli("get", "/juno/b.root", tmp_path / "b2")
    assert none.code != 0 and "banned for reading" in none.err
    cli.ok("se", "allow", "IHEP-DISK")
    cli.ok("se", "allow", "CNAF-DISK")
    assert all(s["read"] and s["write"] for s in _json(cli, "se", "list"))


def test_se_test_probe(grid: Grid, cli: CLI) -> None:
    run = cli.ok("se", "test", "IHEP-DISK", "--json")
    import json

    probe = json.loads(run.out)
    assert probe["ok"] is True
    assert set(probe["timings"]) >= {"write", "stat", "read", "remove"}
    assert grid.se_files()["IHEP-DISK"] == set()
