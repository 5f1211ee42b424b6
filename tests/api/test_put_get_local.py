"""put and get on local SEs (read and hash in one thread, write behind): checksums, failover."""

from __future__ import annotations

import errno
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xxhash

from dfc import DFC, Settings
from dfc.api import _local, _put
from dfc.errors import NoReplicaAvailable, NotFound, PermissionDenied
from dfc.se._localio import COPY_BUFFER

DATA = os.urandom(2 * COPY_BUFFER + 777)


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DFC]:
    monkeypatch.setenv("DFC_SITE", "S1")  # replica A is tried first
    with DFC(Settings.load()) as d:
        d.init()
        d.se_add("A", f"file://{tmp_path}/a", site="S1")
        d.se_add("B", f"file://{tmp_path}/b", site="S2")
        yield d


@pytest.fixture
def stored(api: DFC, tmp_path: Path) -> str:
    src = tmp_path / "src.dat"
    src.write_bytes(DATA)
    api.put([src], "/vo/f.dat", se="A").raise_first()
    api.replicate(["/vo/f.dat"], "B").raise_first()
    return "/vo/f.dat"


def _leftovers(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*") if "dfc-part" in p.name]


def test_put_registers_both_checksums_of_the_bytes(api: DFC, stored: str, tmp_path: Path) -> None:
    entry = api.stat([stored]).succeeded[stored]
    assert entry.size == len(DATA)
    assert entry.adler32 == f"{zlib.adler32(DATA) & 0xFFFFFFFF:08x}"
    assert entry.xxh3 == xxhash.xxh3_64_hexdigest(DATA)
    assert (tmp_path / "a/vo/f.dat").read_bytes() == DATA
    assert _leftovers(tmp_path) == []


def test_put_of_unreadable_file_is_a_local_error(
    api: DFC, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "secret.dat"
    src.write_bytes(b"x")
    src.chmod(0)
    if os.access(src, os.R_OK):
        # root reads anything (CI runs as root): the kernel's refusal is then the
        # only thing simulated, for this one file.
        real_open = open

        def refusing_open(path: Any, *args: Any, **kwargs: Any) -> Any:
            if Path(path) == src:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)

        # The local SE's worker opens the file (_put), other SEs read it through _local.
        monkeypatch.setattr(_put, "open", refusing_open, raising=False)
        monkeypatch.setattr(_local, "open", refusing_open, raising=False)
    res = api.put([src], "/vo/s.dat", se="A")
    assert isinstance(res.failed["/vo/s.dat"], PermissionDenied)
    assert "local file" in str(res.failed["/vo/s.dat"])
    assert not (tmp_path / "a/vo/s.dat").exists()
    assert _leftovers(tmp_path) == []


def test_get_fails_over_from_corrupt_replica(api: DFC, stored: str, tmp_path: Path) -> None:
    bad = tmp_path / "a/vo/f.dat"
    bad.write_bytes(b"X" + DATA[1:])
    out = tmp_path / "out.dat"
    res = api.get([stored], out)
    res.raise_first()
    got = res.succeeded[stored]
    assert got.se == "B"
    assert "A" in got.bad_replicas
    assert out.read_bytes() == DATA
    assert _leftovers(tmp_path) == []


def test_get_with_all_replicas_bad_leaves_nothing(api: DFC, stored: str, tmp_path: Path) -> None:
    for se in ("a", "b"):
        (tmp_path / se / "vo/f.dat").write_bytes(DATA[:-1])
    out = tmp_path / "out.dat"
    res = api.get([stored], out)
    assert isinstance(res.failed[stored], NoReplicaAvailable)
    assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_local_write_failure_is_not_blamed_on_the_replica(
    api: DFC, stored: str, tmp_path: Path
) -> None:
    res = api.get([stored], tmp_path / "no-such-dir" / "out.dat")
    err = res.failed[stored]
    assert isinstance(err, NotFound)
    assert "local" in str(err)
    assert not isinstance(err, NoReplicaAvailable)


def test_get_of_vanished_replica_tries_the_next(api: DFC, stored: str, tmp_path: Path) -> None:
    (tmp_path / "a/vo/f.dat").unlink()
    out = tmp_path / "out.dat"
    res = api.get([stored], out)
    res.raise_first()
    assert res.succeeded[stored].se == "B"
    assert "A" in res.succeeded[stored].bad_replicas
    assert out.read_bytes() == DATA


@pytest.mark.parametrize("data", [b"", b"x" * 1000, DATA])
def test_get_from_a_local_replica_creates_the_file_once(
    api: DFC, tmp_path: Path, data: bytes
) -> None:
    src = tmp_path / "src.dat"
    src.write_bytes(data)
    api.put([src], "/vo/g.dat", se="A").raise_first()
    out = tmp_path / "out.dat"
    api.get(["/vo/g.dat"], out).raise_first()
    assert out.read_bytes() == data
    # A target that cannot be created is the local side's failure, whatever the size.
    res = api.get(["/vo/g.dat"], tmp_path / "no-such-dir" / "out.dat")
    assert isinstance(res.failed["/vo/g.dat"], NotFound)
    assert "local" in str(res.failed["/vo/g.dat"])
    assert _leftovers(tmp_path) == []
