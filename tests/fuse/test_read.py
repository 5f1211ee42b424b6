"""Reading through a real read-only mount with the usual tools."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.fuse.conftest import Grid, data, ok, sh

MiB = 1 << 20


@pytest.fixture
def tree(grid: Grid) -> dict[str, bytes]:
    """A small tree: /juno/prod/{a.txt, sub/b.bin, sub/c.root, big.bin}."""
    files = {
        "/juno/prod/a.txt": b"hello from the grid\nneedle in line two\n",
        "/juno/prod/sub/b.bin": data(300_000, 1),
        "/juno/prod/sub/c.root": data(5 * MiB + 123, 2),
        "/juno/prod/big.bin": data(9 * MiB + 7, 3),
    }
    for lfn, content in files.items():
        grid.put(lfn, content)
    return files


def test_ls_stat_cat(grid: Grid, tree: dict[str, bytes], make_mount) -> None:
    mnt = make_mount()
    assert ok(f"ls {mnt.path}").split() == ["juno"]
    assert ok(f"ls {mnt / 'juno/prod'}").split() == ["a.txt", "big.bin", "sub"]
    st = os.stat(mnt / "juno/prod/sub/c.root")
    assert stat.S_ISREG(st.st_mode)
    assert st.st_size == len(tree["/juno/prod/sub/c.root"])
    assert stat.S_IMODE(st.st_mode) == 0o644
    assert stat.S_ISDIR(os.stat(mnt / "juno/prod/sub").st_mode)
    listing = ok(f"ls -l {mnt / 'juno/prod'}")
    assert "a.txt" in listing and str(len(tree["/juno/prod/big.bin"])) in listing
    assert ok(f"cat {mnt / 'juno/prod/a.txt'}").encode() == tree["/juno/prod/a.txt"]
    assert ok(f"stat -c %s {mnt / 'juno/prod/big.bin'}").strip() == str(9 * MiB + 7)


def test_cp_r_md5sum_find_grep_tar(
    grid: Grid, tree: dict[str, bytes], make_mount, tmp_path: Path
) -> None:
    mnt = make_mount()
    out = tmp_path / "copy"
    ok(f"cp -r {mnt / 'juno/prod'} {out}")
    for lfn, content in tree.items():
        assert (out / lfn.removeprefix("/juno/prod/")).read_bytes() == content
    sums = ok(f"cd {mnt / 'juno/prod'} && md5sum a.txt big.bin sub/b.bin sub/c.root")
    for line in sums.splitlines():
        digest, name = line.split()
        assert digest == hashlib.md5(tree[f"/juno/prod/{name}"]).hexdigest()
    found = ok(f"find {mnt / 'juno'} -type f").split()
    assert sorted(found) == sorted(str(mnt.path) + lfn for lfn in tree)
    assert ok(f"find {mnt.path} -type d -name sub").strip() == str(mnt / "juno/prod/sub")
    hits = ok(f"grep -r -l needle {mnt / 'juno'}").split()
    assert hits == [str(mnt / "juno/prod/a.txt")]
    archive = tmp_path / "prod.tar"
    ok(f"tar -C {mnt / 'juno'} -cf {archive} prod")
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        assert set(members) == {"prod" + lfn.removeprefix("/juno/prod") for lfn in tree}
        for lfn, content in tree.items():
            extracted = tar.extractfile("prod" + lfn.removeprefix("/juno/prod"))
            assert extracted is not None and extracted.read() == content
    assert "Traceback" not in mnt.log


def test_extended_attributes(grid: Grid, tree: dict[str, bytes], make_mount) -> None:
    grid.cli.ok("replicate", "--to", "CNAF-DISK", "/juno/prod/a.txt")
    grid.cli.ok("meta", "index", "-d", "softwareVersion", "string")
    grid.cli.ok("meta", "index", "-f", "runH", "int")
    grid.cli.ok("meta", "set", "/juno/prod", "softwareVersion=J22.1.0")
    grid.cli.ok("meta", "set", "/juno/prod/a.txt", "runH=42")
    meta = __import__("json").loads(grid.cli.ok("stat", "--json", "/juno/prod/a.txt").out)[0]
    mnt = make_mount()
    path = mnt / "juno/prod/a.txt"
    names = os.listxattr(path)
    for name in ("user.dfc.replicas", "user.dfc.adler32", "user.dfc.xxh3", "user.dfc.guid"):
        assert name in names
    assert os.getxattr(path, "user.dfc.adler32").decode() == meta["checksums"]["adler32"]
    assert os.getxattr(path, "user.dfc.xxh3").decode() == meta["checksums"]["xxh3"]
    assert os.getxattr(path, "user.dfc.guid").decode() == meta["guid"]
    replicas = os.getxattr(path, "user.dfc.replicas").decode().splitlines()
    assert sorted(r.split()[0] for r in replicas) == ["CNAF-DISK", "IHEP-DISK"]
    assert all(r.split()[1].startswith("file://") for r in replicas)
    with pytest.raises(OSError) as info:
        os.getxattr(path, "user.dfc.nothing")
    assert info.value.errno == errno.ENODATA
    with pytest.raises(OSError) as info:  # so that `ls -l` stops asking for every file
        os.getxattr(path, "security.selinux")
    assert info.value.errno == errno.ENOTSUP
    assert os.getxattr(mnt / "juno/prod", "user.dfc.lfn") == b"/juno/prod"
    assert os.getxattr(path, "user.dfc.meta.runH") == b"42"
    assert os.getxattr(path, "user.dfc.meta.softwareVersion") == b"J22.1.0"  # inherited
    assert os.getxattr(mnt / "juno/prod", "user.dfc.meta.softwareVersion") == b"J22.1.0"
    assert "user.dfc.meta.runH" not in os.listxattr(mnt / "juno/prod")


def test_getfattr(grid: Grid, tree: dict[str, bytes], make_mount) -> None:
    from tests.servers._proc import find_binary, missing

    if find_binary("getfattr") is None:
        missing("getfattr not found (install Debian attr)")
    mnt = make_mount()
    dump = ok(f"getfattr -d {mnt / 'juno/prod/big.bin'}")
    assert 'user.dfc.adler32="' in dump
    assert "user.dfc.replicas=" in dump
    value = ok(f"getfattr --only-values -n user.dfc.lfn {mnt / 'juno/prod/big.bin'}")
    assert value == "/juno/prod/big.bin"


def test_dd_with_seeks(grid: Grid, tree: dict[str, bytes], make_mount) -> None:
    content = tree["/juno/prod/big.bin"]
    mnt = make_mount()
    src = mnt / "juno/prod/big.bin"
    for bs, skip, count in ((4096, 0, 1), (4096, 1000, 3), (65536, 100, 7), (1 << 20, 8, 4)):
        got = subprocess.run(
            ["dd", f"if={src}", f"bs={bs}", f"skip={skip}", f"count={count}", "status=none"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        assert got == content[bs * skip : bs * (skip + count)]
    with open(src, "rb") as fh:  # ROOT-like: seek around, read small pieces
        for offset in (9 * MiB, 17, 4 * MiB - 3, 123_456, len(content) - 5):
            fh.seek(offset)
            assert fh.read(1000) == content[offset : offset + 1000]


def test_two_concurrent_readers(grid: Grid, tree: dict[str, bytes], make_mount) -> None:
    mnt = make_mount()
    files = ["juno/prod/big.bin", "juno/prod/sub/c.root"]
    procs = [
        subprocess.Popen(["md5sum", str(mnt / name)], stdout=subprocess.PIPE, text=True)
        for name in files * 2
    ]
    for proc, name in zip(procs, files * 2, strict=True):
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        assert out.split()[0] == hashlib.md5(tree["/" + name]).hexdigest()


def test_direct_io_mount_reads_the_same_bytes(
    grid: Grid, tree: dict[str, bytes], make_mount
) -> None:
    mnt = make_mount("--direct-io")
    for lfn in ("/juno/prod/big.bin", "/juno/prod/sub/c.root"):
        got = ok(f"md5sum {mnt.path}{lfn}").split()[0]
        assert got == hashlib.md5(tree[lfn]).hexdigest()
    assert ok(f"head -c 5 {mnt / 'juno/prod/a.txt'}") == "hello"


def test_read_fails_over_when_a_replica_is_deleted(grid: Grid, make_mount) -> None:
    content = data(6 * MiB, 7)
    grid.put("/juno/x/f.root", content, se="IHEP-DISK")
    grid.cli.ok("replicate", "--to", "CNAF-DISK", "/juno/x/f.root")
    grid.se_path("IHEP-DISK", "/juno/x/f.root").unlink()  # deleted underneath
    mnt = make_mount(site="IHEP")  # the user's site holds the broken replica: tried first
    assert (mnt / "juno/x/f.root").read_bytes() == content
    assert "replica at IHEP-DISK failed" in mnt.log


@pytest.mark.parametrize(
    "how",
    [
        (),  # served zero-copy from the local replica, hashed alongside
        ("--direct-io",),
        ("--cache-dir", "CACHE"),  # through the block cache: hashed as the bytes pass
    ],
    ids=["zero-copy", "direct-io", "cache"],
)
def test_corrupt_replica_read_whole_is_eio(
    grid: Grid, make_mount, tmp_path: Path, how: tuple[str, ...]
) -> None:
    content = data(3 * MiB, 8)
    grid.put("/juno/x/bad.root", content)
    on_disk = grid.se_path("IHEP-DISK", "/juno/x/bad.root")
    corrupt = bytearray(content)
    corrupt[2 * MiB] ^= 0xFF
    on_disk.write_bytes(bytes(corrupt))  # same size, other bytes
    mnt = make_mount(*(str(tmp_path / a) if a == "CACHE" else a for a in how))
    done = sh(f"cat {mnt / 'juno/x/bad.root'} > /dev/null")
    assert done.returncode != 0
    assert "Input/output error" in done.stderr
    assert "/juno/x/bad.root: read whole but does not match the catalogue" in mnt.log
    assert "adler32 mismatch" in mnt.log


def test_local_replica_of_the_wrong_size_is_skipped(grid: Grid, make_mount) -> None:
    content = data(2 * MiB + 5, 10)
    grid.put("/juno/x/g.root", content, se="IHEP-DISK")
    grid.cli.ok("replicate", "--to", "CNAF-DISK", "/juno/x/g.root")
    grid.se_path("IHEP-DISK", "/juno/x/g.root").write_bytes(content[:MiB])  # truncated
    mnt = make_mount(site="IHEP")
    assert (mnt / "juno/x/g.root").read_bytes() == content  # from CNAF-DISK
    assert "replica at IHEP-DISK failed" in mnt.log


def test_errors_map_to_errno(grid: Grid, tree: dict[str, bytes], make_mount) -> None:
    mnt = make_mount()
    with pytest.raises(FileNotFoundError):
        os.stat(mnt / "juno/nothing")
    with pytest.raises(OSError) as info:
        (mnt / "juno/new.txt").write_bytes(b"x")
    assert info.value.errno == errno.EROFS
    with pytest.raises(OSError) as info:
        os.mkdir(mnt / "juno/newdir")
    assert info.value.errno == errno.EROFS
    with pytest.raises(NotADirectoryError):
        os.listdir(mnt / "juno/prod/a.txt")
    with pytest.raises(IsADirectoryError):
        (mnt / "juno/prod").read_bytes()


def test_root_option_mounts_a_subtree(grid: Grid, tree: dict[str, bytes], make_mount) -> None:
    mnt = make_mount("--root", "/juno/prod/sub")
    assert sorted(os.listdir(mnt.path)) == ["b.bin", "c.root"]
    assert (mnt / "b.bin").read_bytes() == tree["/juno/prod/sub/b.bin"]
    assert os.getxattr(mnt / "b.bin", "user.dfc.lfn") == b"/juno/prod/sub/b.bin"


def test_large_directory_listing(grid: Grid, make_mount) -> None:
    from dfc import DFC, FileRecord

    with DFC() as api:
        api.mkdir(["/juno/many"], parents=True).raise_first()
        records = [
            FileRecord(f"/juno/many/f{i:05d}.root", i, "00000001", None, f"G-{i}")
            for i in range(2000)
        ]
        with api.catalog.transaction() as tx:
            tx.add_files(records, owner="alice", group="juno").raise_first()
    mnt = make_mount()
    lines = ok(f"ls -l {mnt / 'juno/many'}").splitlines()
    assert len(lines) == 2001  # "total" + one per file
    assert lines[-1].split()[4] == "1999"
    assert lines[-1].endswith("f01999.root")


def test_local_cache_serves_repeated_reads(grid: Grid, make_mount, tmp_path: Path) -> None:
    content = data(10 * MiB + 5, 9)
    grid.put("/juno/c/a.root", content)
    cache = tmp_path / "cache"
    mnt = make_mount("--cache-dir", str(cache), "--cache-size", "64M")
    assert (mnt / "juno/c/a.root").read_bytes() == content
    assert mnt.unmount() == 0
    blocks = [p for p in cache.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in blocks) == len(content)
    # The only replica is gone: a new mount still reads it, from the cache.
    grid.se_path("IHEP-DISK", "/juno/c/a.root").unlink()
    again = make_mount("--cache-dir", str(cache), "--cache-size", "64M", name="mnt2")
    assert (again / "juno/c/a.root").read_bytes() == content


def test_local_cache_stays_within_its_size(grid: Grid, make_mount, tmp_path: Path) -> None:
    files = {f"/juno/c/{n}.root": data(5 * MiB, n) for n in range(4)}
    for lfn, content in files.items():
        grid.put(lfn, content)
    cache = tmp_path / "cache"
    mnt = make_mount("--cache-dir", str(cache), "--cache-size", "9M")
    for lfn, content in files.items():
        assert (mnt / lfn.lstrip("/")).read_bytes() == content
        used = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
        assert used <= 9 * MiB
