"""add_files on SQLite: chunks of plain records go a column at a time.

Each case registers the same calls into two catalogues, one with that path and
one with it turned off (every chunk record by record), and compares the
answers and everything stored: files, replicas, directories, usage.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from dfc.catalog import Catalog
from dfc.catalog import _files as files_mod
from dfc.models import FileRecord, Replica, SEInfo
from tests.catalog.helpers import GROUP, OWNER

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

SES = ("DISK", "TAPE", "CACHE")


def plain(lfn: str, i: int, ses: Sequence[str] = ("DISK", "TAPE")) -> FileRecord:
    """A plain record: normal checksums, a GUID, replicas good at the LFN."""
    return FileRecord(
        lfn,
        1000 + i,
        f"{i:08x}",
        f"{i:016x}",
        f"guid-{i}",
        tuple(Replica(se, lfn) for se in ses),
    )


def batch(prefix: str, n: int, start: int = 0, **kw: Any) -> list[FileRecord]:
    """``n`` plain records spread over three directories below ``prefix``."""
    return [plain(f"{prefix}/d{i % 3}/f{i:05d}", i, **kw) for i in range(start, start + n)]


def _state(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = sqlite3.connect(path)
    try:
        queries = {
            "files": "SELECT d.path, f.name, f.size, f.adler32, f.xxh3, f.guid, f.status, "
            "f.owner, f.grp, f.mode FROM files f JOIN directories d ON d.id = f.dir_id",
            "replicas": "SELECT d.path, f.name, s.name, r.path, r.status FROM replicas r "
            "JOIN files f ON f.id = r.file_id JOIN directories d ON d.id = f.dir_id "
            "JOIN storage_elements s ON s.id = r.se_id",
            "directories": "SELECT path, owner, grp, mode FROM directories",
            "usage": "SELECT d.path, u.se_id, u.files, u.bytes FROM dir_usage u "
            "JOIN directories d ON d.id = u.dir_id WHERE u.files != 0 OR u.bytes != 0",
        }
        state = {name: sorted(con.execute(sql).fetchall()) for name, sql in queries.items()}
    finally:
        con.close()
    # a GUID made by the catalogue differs between the two
    state["files"] = [
        (*row[:5], row[5] if row[5].startswith("guid-") else "fresh", *row[6:])
        for row in state["files"]
    ]
    return state


def _run(
    path: Path, calls: list[list[FileRecord]], *, overwrite: bool = False
) -> tuple[list[tuple[set[str], dict[str, str]]], dict[str, list[tuple[Any, ...]]]]:
    cat = Catalog(f"sqlite:///{path}")
    cat.upgrade()
    answers = []
    try:
        with cat.transaction() as tx:
            for se in SES:
                tx.add_se(SEInfo(se, f"file:///data/{se.lower()}"))
        for records in calls:
            with cat.transaction() as tx:
                res = tx.add_files(records, owner=OWNER, group=GROUP, overwrite=overwrite)
            answers.append(
                (set(res.succeeded), {k: type(v).__name__ for k, v in res.failed.items()})
            )
        with cat.reader() as tx:
            assert tx.usage_mismatches("/") == []
    finally:
        cat.close()
    return answers, _state(path)


def _compare(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    calls: list[list[FileRecord]],
    *,
    overwrite: bool = False,
) -> list[tuple[set[str], dict[str, str]]]:
    """Run ``calls`` both ways; assert equal answers and contents; return the answers.

    Also asserts that the column path took at least one chunk.
    """
    taken: list[int] = []
    real: Callable[..., Any] = files_mod._plain_columns

    def spy(part: Sequence[FileRecord], call: Any) -> Any:
        out = real(part, call)
        if out is not None:
            taken.append(len(part))
        return out

    monkeypatch.setattr(files_mod, "_plain_columns", spy)
    fast = _run(tmp_path / "fast.db", calls, overwrite=overwrite)
    assert taken, "no chunk went a column at a time"
    monkeypatch.setattr(files_mod, "_plain_columns", lambda part, call: None)
    slow = _run(tmp_path / "slow.db", calls, overwrite=overwrite)
    assert fast[0] == slow[0]
    assert fast[1] == slow[1]
    return fast[0]


def test_bulk_of_plain_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = [
        batch("/a", 5000),  # three chunks
        batch("/a", 10, start=7000, ses=("TAPE",)),
        batch("/b", 10, ses=()),  # no replicas
        [plain(f"/top{i}", i) for i in range(6)],  # files at the top
        batch("/c", 3),  # too few for the column path
    ]
    answers = _compare(tmp_path, monkeypatch, calls)
    assert all(not failed for _, failed in answers)
    assert len(answers[0][0]) == 5000


@pytest.mark.parametrize("new_first", [False, True])
def test_registered_again_same_and_different(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_first: bool
) -> None:
    """Some files of a plain chunk exist already: the rest go in, those are compared.

    The chunk starts with a file that exists (looked at first: the chunk is
    compared), or with a new one (inserted, then the others are compared).
    """
    first = batch("/a", 30)
    again = batch("/a", 60)  # the first 30 identical
    again[3] = replace(again[3], size=1)  # another size: mismatch
    if new_first:
        again.reverse()
    answers = _compare(tmp_path, monkeypatch, [first, again])
    succeeded, failed = answers[1]
    assert failed == {again[56 if new_first else 3].lfn: "MetadataMismatch"}
    assert len(succeeded) == 59


def test_registered_again_with_a_new_replica(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = batch("/a", 30, ses=("DISK",))
    again = batch("/a", 40)  # DISK and TAPE
    answers = _compare(tmp_path, monkeypatch, [first, again, list(reversed(again))])
    assert all(not failed for _, failed in answers)


def test_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = batch("/a", 30)
    again = [replace(r, size=r.size + 1, guid=r.guid + "x") for r in batch("/a", 40)]
    answers = _compare(tmp_path, monkeypatch, [first, again], overwrite=True)
    assert len(answers[1][0]) == 40


@pytest.mark.parametrize(
    "odd",
    [
        # the same SEs as the others, one replica otherwise
        lambda r: replace(r, replicas=(Replica("DISK", ""), Replica("TAPE", r.lfn))),
        lambda r: replace(r, replicas=(Replica("DISK", r.lfn), Replica("TAPE", "/elsewhere/x"))),
        lambda r: replace(
            r, replicas=(Replica("DISK", r.lfn, status="bad"), Replica("TAPE", r.lfn))
        ),
        lambda r: replace(r, replicas=(Replica("DISK", r.lfn), Replica("NOPE", r.lfn))),
        # other SEs
        lambda r: replace(r, replicas=(Replica("DISK", r.lfn), Replica("DISK", r.lfn))),
        lambda r: replace(r, replicas=(Replica("TAPE", r.lfn), Replica("DISK", r.lfn))),
        lambda r: replace(r, replicas=(Replica("DISK", r.lfn),)),
        lambda r: replace(r, replicas=()),
        lambda r: replace(r, guid=""),
        lambda r: replace(r, owner="carol"),
        lambda r: replace(r, group="ops"),
        lambda r: replace(r, mode=0o600),
        lambda r: replace(r, size=-1),
        lambda r: replace(r, adler32="ABCD"),
        lambda r: replace(r, xxh3=None),
        lambda r: replace(r, lfn="/a/d0"),  # a directory of the same call
        lambda r: replace(r, lfn="/a/d1/f00004/under"),  # below a file of the call
    ],
)
def test_one_odd_record_among_plain_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, odd: Callable[[FileRecord], FileRecord]
) -> None:
    """One record unlike the others: its chunk goes record by record, with the same answers."""
    records = batch("/a", 50)
    records[20] = odd(records[20])
    later = batch("/z", 10)  # a later plain call still goes a column at a time
    _compare(tmp_path, monkeypatch, [records, later])


def test_parent_is_a_file_or_lfn_is_a_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain records the namespace refuses: the chunk falls back and says why per record."""
    setup = [plain("/a/d0", 1), *batch("/b", 6)]  # a file where a directory is wanted
    clash = batch("/a", 12)  # its records in /a/d0 fail: NotADirectory
    onto_dir = [plain("/b/d1", 2), *batch("/c", 6)]  # a file where a directory is
    answers = _compare(tmp_path, monkeypatch, [setup, clash, onto_dir])
    assert set(answers[1][1].values()) == {"NotADirectory"}
    assert len(answers[1][1]) == 4
    assert answers[2][1] == {"/b/d1": "IsADirectory"}


def test_every_record_odd_the_same_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk alike throughout, yet not plain: two replicas at one SE in every record."""
    doubled = [replace(r, replicas=(r.replicas[0], r.replicas[0])) for r in batch("/a", 20)]
    answers = _compare(tmp_path, monkeypatch, [doubled, batch("/b", 5)])
    assert set(answers[0][1].values()) == {"InvalidArgument"}
    assert len(answers[0][1]) == 20
