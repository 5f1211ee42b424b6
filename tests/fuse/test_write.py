"""Writing through a real --writable mount: new files, namespace changes, the overwrite rule."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from tests.fuse.conftest import Grid, data, ok, sh

MiB = 1 << 20


def stat_json(grid: Grid, lfn: str) -> dict:
    return json.loads(grid.cli.ok("stat", "--json", lfn).out)[0]


def fetch(grid: Grid, lfn: str, tmp_path: Path) -> bytes:
    target = tmp_path / "fetched"
    target.unlink(missing_ok=True)
    grid.cli.ok("get", lfn, str(target))  # verified against the catalogue
    return target.read_bytes()


def test_cp_and_shell_redirection(grid: Grid, make_mount, tmp_path: Path) -> None:
    grid.cli.ok("mkdir", "-p", "/juno/user/alice")
    src = tmp_path / "run.root"
    src.write_bytes(data(7 * MiB + 11, 1))
    mnt = make_mount("--writable", "--se", "CNAF-DISK")
    home = mnt / "juno/user/alice"
    ok(f"cp {src} {home}/run.root")
    ok(f"echo 'hello world' > {home}/note.txt")
    ok(f"printf '' > {home}/empty.txt")
    assert (home / "run.root").read_bytes() == src.read_bytes()
    assert fetch(grid, "/juno/user/alice/run.root", tmp_path) == src.read_bytes()
    assert fetch(grid, "/juno/user/alice/note.txt", tmp_path) == b"hello world\n"
    assert stat_json(grid, "/juno/user/alice/empty.txt")["size"] == 0
    entry = stat_json(grid, "/juno/user/alice/run.root")
    assert [r["se"] for r in entry["replicas"]] == ["CNAF-DISK"]
    assert entry["mode"] == "0644"
    assert stat.S_IMODE(os.stat(home / "note.txt").st_mode) == 0o644
    assert grid.se_path("CNAF-DISK", "/juno/user/alice/run.root").read_bytes() == src.read_bytes()
    assert sorted(os.listdir(home)) == ["empty.txt", "note.txt", "run.root"]
    assert "Traceback" not in mnt.log


def test_cp_r_into_the_mount(grid: Grid, make_mount, tmp_path: Path) -> None:
    grid.cli.ok("mkdir", "-p", "/juno/user")
    tree = tmp_path / "run2"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_bytes(b"a" * 1000)
    (tree / "sub" / "b.bin").write_bytes(data(2 * MiB, 2))
    mnt = make_mount("--writable", site="IHEP")  # new files go to the site's SE
    ok(f"cp -r {tree} {mnt / 'juno/user'}/")
    listing = json.loads(grid.cli.ok("ls", "-R", "--json", "/juno/user/run2").out)
    assert sorted(e["lfn"] for e in listing) == [
        "/juno/user/run2/a.txt",
        "/juno/user/run2/sub",
        "/juno/user/run2/sub/b.bin",
    ]
    assert fetch(grid, "/juno/user/run2/sub/b.bin", tmp_path) == data(2 * MiB, 2)


def test_existing_files_are_not_changed_in_place(grid: Grid, make_mount, tmp_path: Path) -> None:
    grid.put("/juno/d/old.txt", b"old content\n")
    before = stat_json(grid, "/juno/d/old.txt")
    new = tmp_path / "new.txt"
    new.write_bytes(b"new content\n")
    mnt = make_mount("--writable", site="IHEP")
    for cmd in (f"cp {new} {mnt / 'juno/d/old.txt'}", f"echo more >> {mnt / 'juno/d/old.txt'}"):
        done = sh(cmd)
        assert done.returncode != 0
        assert "Operation not permitted" in done.stderr
    with pytest.raises(PermissionError):
        os.truncate(mnt / "juno/d/old.txt", 0)
    ok(f"echo x > {mnt / 'juno/d/other.txt'}")
    done = sh(f"mv {mnt / 'juno/d/other.txt'} {mnt / 'juno/d/old.txt'}")
    assert done.returncode != 0
    assert stat_json(grid, "/juno/d/old.txt") == before


def test_overwrite_mount_replaces_files(grid: Grid, make_mount, tmp_path: Path) -> None:
    grid.put("/juno/d/old.txt", b"old content\n")
    new = tmp_path / "new.txt"
    new.write_bytes(b"new content\n")
    mnt = make_mount("--writable", "--overwrite", site="IHEP")
    ok(f"cp {new} {mnt / 'juno/d/old.txt'}")
    assert fetch(grid, "/juno/d/old.txt", tmp_path) == b"new content\n"
    ok(f"echo more >> {mnt / 'juno/d/old.txt'}")
    assert fetch(grid, "/juno/d/old.txt", tmp_path) == b"new content\nmore\n"


def test_mkdir_rmdir_unlink_rename(grid: Grid, make_mount) -> None:
    grid.put("/juno/d/f.txt", b"data\n")
    replica = grid.se_path("IHEP-DISK", "/juno/d/f.txt")
    assert replica.exists()
    mnt = make_mount("--writable", site="IHEP")
    os.mkdir(mnt / "juno/d/new")
    with pytest.raises(FileExistsError):
        os.mkdir(mnt / "juno/d/new")
    os.rename(mnt / "juno/d/f.txt", mnt / "juno/d/new/g.txt")
    assert grid.cli.ok("ls", "/juno/d/new").out.split() == ["g.txt"]
    with pytest.raises(OSError) as info:
        os.rmdir(mnt / "juno/d/new")
    assert info.value.errno == errno.ENOTEMPTY
    os.rename(mnt / "juno/d/new", mnt / "juno/d/renamed")
    assert (mnt / "juno/d/renamed/g.txt").read_bytes() == b"data\n"
    os.unlink(mnt / "juno/d/renamed/g.txt")
    assert not replica.exists()  # the replica went with the file
    assert grid.cli("stat", "/juno/d/renamed/g.txt").code == errno.ENOENT
    os.rmdir(mnt / "juno/d/renamed")
    assert grid.cli.ok("ls", "/juno/d").out.split() == []
    with pytest.raises(FileNotFoundError):
        os.unlink(mnt / "juno/d/nothing")
    with pytest.raises(IsADirectoryError):
        os.unlink(mnt / "juno")


def test_failed_upload_is_reported_on_close(grid: Grid, make_mount, tmp_path: Path) -> None:
    grid.cli.ok("mkdir", "-p", "/juno/d")
    grid.cli.ok("se", "add", "GONE-DISK", f"file://{tmp_path / 'gone'}")
    shutil.rmtree(tmp_path / "gone")  # the SE's disk is not there any more
    src = tmp_path / "x.txt"
    src.write_bytes(b"data\n")
    mnt = make_mount("--writable", "--se", "GONE-DISK")
    done = sh(f"cp {src} {mnt / 'juno/d/x.txt'}")
    assert done.returncode != 0
    assert "failed to close" in done.stderr and "Input/output error" in done.stderr
    fh = open(mnt / "juno/d/y.txt", "wb")  # noqa: SIM115 - the close is what is tested
    fh.write(b"data")
    with pytest.raises(OSError) as info:
        fh.close()
    assert info.value.errno == errno.EIO
    assert grid.cli("stat", "/juno/d/x.txt").code == errno.ENOENT
    assert grid.cli("stat", "/juno/d/y.txt").code == errno.ENOENT
    assert "/juno/d/x.txt: upload failed: SE GONE-DISK" in mnt.log
