"""Metadata, queries, datasets, provenance, du and dump through the CLI (SQLite, local SEs)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from tests.cli.conftest import Grid

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import CLI

PRD = "/juno/prd"
MUON = [f"{PRD}/J22/muon/detsim-{i}.root" for i in range(3)]
LASER = [f"{PRD}/J22/laser/detsim-{i}.root" for i in range(2)]
OLD = [f"{PRD}/J21/muon/detsim-9.root"]


@pytest.fixture
def prod(grid: Grid, cli: CLI) -> Grid:
    """A small production: files put to IHEP-DISK, fields declared and set."""
    for i, lfn in enumerate(MUON + LASER + OLD):
        grid.file(lfn.removeprefix("/juno/"), 1000 + i)
    cli.ok("put", "-r", grid.local / "prd", PRD, "--se", "IHEP-DISK")
    cli.ok("meta", "index", "-d", "softwareVersion", "string")
    cli.ok("meta", "index", "process", "string")  # -d is the default
    cli.ok("meta", "index", "-f", "runH", "int")
    cli.ok("meta", "set", f"{PRD}/J22", "softwareVersion=J22.1.0")
    cli.ok("meta", "set", f"{PRD}/J21", "softwareVersion=J21.0")
    cli.ok("meta", "set", f"{PRD}/J22/muon", "process=Muon")
    cli.ok("meta", "set", f"{PRD}/J21/muon", "process=Muon")
    cli.ok("meta", "set", f"{PRD}/J22/laser", "process=Laser")
    for i, lfn in enumerate(MUON):
        cli.ok("meta", "set", lfn, f"runH={100 * i}")
    return grid


def test_fields_values_and_inheritance(prod: Grid, cli: CLI) -> None:
    show = cli.ok("meta", "show").out.splitlines()
    assert [line.split() for line in show] == [
        ["process", "directory", "string"],
        ["runH", "file", "int"],
        ["softwareVersion", "directory", "string"],
    ]
    assert "already exists" in cli.ok("meta", "index", "-f", "runH", "int").out
    got = cli.ok("meta", "get", MUON[1]).out.splitlines()
    assert got[0].split()[:2] == ["*process", "Muon"] and f"(from {PRD}/J22/muon)" in got[0]
    assert got[1].split() == ["!runH", "100"]
    assert got[2].startswith("*softwareVersion")
    meta = prod.json("meta", "get", MUON[1])
    assert meta["runH"] == {  # type: ignore[index]
        "value": 100,
        "type": "int",
        "level": "file",
        "owner": MUON[1],
        "inherited": False,
    }
    assert meta["process"]["inherited"] is True  # type: ignore[index]
    cli.ok("meta", "rm", MUON[1], "runH")
    assert "runH" not in prod.json("meta", "get", MUON[1])  # type: ignore[operator]


def test_errors_are_one_clear_line(prod: Grid, cli: CLI) -> None:
    cases = [
        (("meta", "set", MUON[0], "runH=abc"), 22, "runH: 'abc' is not an int"),
        (("meta", "set", f"{PRD}/J22/muon", "softwareVersion=X"), 17, "metadata conflict"),
        (("meta", "set", PRD, "process=X"), 17, "a subdirectory"),
        (("meta", "set", PRD, "nope=1"), 22, "metadata field nope not defined"),
        (("meta", "index", "-f", "process", "int"), 17, "already defined for directories"),
        (("find", PRD, "Foo=1"), 22, "Metadata field Foo not defined"),
        (("find", PRD, "runH"), 22, "Illegal query element runH"),
        (("find", "/nowhere", "runH=1"), 2, "no such"),
        (("meta", "get", "/nowhere"), 2, "no such"),
    ]
    for args, code, message in cases:
        run = cli(*args)
        assert run.code == code, (args, run.err)
        assert message in run.err and len(run.err.strip().splitlines()) == 1, run.err
        assert "Traceback" not in run.err


def test_find(prod: Grid, cli: CLI) -> None:
    assert cli.ok("find", PRD, "process=Muon").out.split() == sorted(OLD + MUON)
    assert cli.ok("find", "/", "softwareVersion=J22.1.0", "process=Muon").out.split() == MUON
    assert cli.ok("find", PRD, "runH>=100").out.split() == MUON[1:]
    assert cli.ok("find", PRD, "process=Muon", "runH=Missing").out.split() == OLD
    assert cli.ok("find", PRD, "Name=*-1.root", "SE=IHEP-DISK").out.split() == [LASER[1], MUON[1]]
    assert cli.ok("find", "-D", PRD, "process=Any").out.split() == [
        f"{PRD}/J21/muon",
        f"{PRD}/J22/laser",
        f"{PRD}/J22/muon",
    ]
    assert prod.json("find", PRD, "process=Laser") == LASER
    assert prod.json("find", "--count", PRD, "process=Laser") == {"files": 2, "bytes": 2007}
    assert (
        cli.ok("find", "--count", PRD, "softwareVersion=J2*").out.strip() == "6 files, 6015 bytes"
    )
    empty = cli.ok("find", PRD)
    assert empty.out == "" and "empty query matches nothing" in empty.err
    assert cli.ok("meta", "tags", PRD, "process").out.split() == ["Laser", "Muon"]
    assert cli.ok("meta", "tags", PRD, "runH", "process=Muon").out.split() == ["0", "100", "200"]
    assert prod.json("meta", "tags", PRD, "softwareVersion", "runH>0") == ["J22.1.0"]


def test_bulk_set_from_file(prod: Grid, cli: CLI, tmp_path: Path) -> None:
    text = tmp_path / "meta.txt"
    text.write_text(
        "# run numbers\n" + "".join(f"{lfn} runH={7 + i}\n" for i, lfn in enumerate(LASER))
    )
    cli.ok("meta", "set", "--from-file", text)
    assert cli.ok("find", PRD, "runH=7,8").out.split() == LASER
    as_json = tmp_path / "meta.json"
    as_json.write_text(json.dumps({lfn: {"runH": 50} for lfn in [*OLD, "/juno/missing"]}))
    run = cli("meta", "set", "--from-file", as_json)
    assert run.code == 2 and "/juno/missing" in run.err
    assert cli.ok("find", PRD, "runH=50").out.split() == OLD
    assert cli("meta", "set", MUON[0]).code == 2  # no NAME=VALUE: a usage error


def test_datasets_and_their_use(prod: Grid, cli: CLI, tmp_path: Path) -> None:
    out = cli.ok("dataset", "add", "/juno/ds/muon22", PRD, "process=Muon", "softwareVersion=J22*")
    assert "3 files, 3003 bytes" in out.out
    assert cli.ok("dataset", "files", "/juno/ds/muon22").out.split() == MUON
    [info] = [prod.json("dataset", "show", "/juno/ds/muon22")]
    assert info["status"] == "dynamic" and info["query"].startswith(PRD)  # type: ignore[index]
    assert "unchanged" in cli.ok("dataset", "check", "/juno/ds/muon22").out
    cli.ok("put", prod.file("new.root", 10), f"{PRD}/J22/muon/detsim-new.root", "--se", "IHEP-DISK")
    assert "files 3 -> 4" in cli.ok("dataset", "check", "/juno/ds/muon22").out
    cli.ok("dataset", "update", "/juno/ds/muon22")
    cli.ok("dataset", "freeze", "/juno/ds/muon22")
    cli.ok("put", prod.file("new2.root", 10), f"{PRD}/J22/muon/detsim-z.root", "--se", "IHEP-DISK")
    assert len(cli.ok("dataset", "files", "/juno/ds/muon22").out.split()) == 4
    cli.ok("dataset", "annotate", "/juno/ds/muon22", "for the muon note")
    assert "annotation: for the muon note" in cli.ok("dataset", "show", "/juno/ds/muon22").out
    # a dataset as the input of replicate and get
    rep = cli.ok("replicate", "--dataset", "/juno/ds/muon22", "--to", "CNAF-DISK")
    assert rep.out.count("IHEP-DISK -> CNAF-DISK") == 4
    got = cli.ok("get", "--query", f"{PRD} process=Laser", tmp_path)
    assert sorted(p.name for p in tmp_path.glob("detsim-*.root")) == [
        "detsim-0.root",
        "detsim-1.root",
    ]
    assert got.out.count("IHEP-DISK") == 2
    cli.ok("dataset", "release", "/juno/ds/muon22")
    assert len(cli.ok("dataset", "files", "/juno/ds/muon22").out.split()) == 5
    listing = cli.ok("dataset", "show").out
    assert listing.startswith("/juno/ds/muon22  dynamic")
    cli.ok("dataset", "rm", "/juno/ds/muon22")
    assert cli("dataset", "show", "/juno/ds/muon22").code == 2
    assert cli("replicate", "--to", "CNAF-DISK").code == 2  # no input at all


def test_ancestry(prod: Grid, cli: CLI) -> None:
    cli.ok("ancestry", "add", MUON[1], MUON[0])
    cli.ok("ancestry", "add", MUON[2], MUON[1], LASER[0])
    out = cli.ok("ancestors", "--depth", "2", MUON[2]).out.splitlines()
    assert out == [MUON[2], f"  {LASER[0]}", f"  {MUON[1]}", f"    {MUON[0]}"]
    assert prod.json("descendants", "--depth", "5", MUON[0]) == {MUON[0]: {MUON[1]: 1, MUON[2]: 2}}
    bad = cli("ancestry", "add", MUON[0], MUON[2])
    assert bad.code == 22 and "cycle" in bad.err
    assert cli("ancestors", "/juno/nothing").code == 2


def test_du_dump_and_guid(prod: Grid, cli: CLI) -> None:
    out = cli.ok("du", PRD).out
    assert out.strip() == f"{PRD}: Logical Size: 6015 Files: 6 Directories: 5"
    cli.ok("replicate", MUON[0], "--to", "CNAF-DISK")
    long = cli.ok("du", "-l", f"{PRD}/J22").out.splitlines()
    assert long[1].split() == ["StorageElement", "Size", "Replicas"]
    assert long[2].split() == ["CNAF-DISK", "1000", "1"]
    assert long[3].split() == ["IHEP-DISK", "5010", "5"]
    assert long[4].split() == ["Total", "6010", "6"]
    usage = prod.json("du", "-l", "/")
    assert usage["ses"]["IHEP-DISK"] == {"files": 6, "bytes": 6015}  # type: ignore[index]
    assert prod.json("du", "--own", f"{PRD}/J22")["files"] == 0  # type: ignore[index]
    assert prod.json("du", "--recount", "/") == usage
    assert prod.json("du", "--from-files", "/") == usage
    cli.ok("rm", "--se", "IHEP-DISK", MUON[0])
    cli.ok("rm", MUON[1])
    after = prod.json("du", "-l", "/")
    assert after["files"] == 5 and after["ses"]["IHEP-DISK"]["files"] == 4  # type: ignore[index]
    assert cli.ok("du", "-H", PRD).out.startswith(f"{PRD}: Logical Size: 4.9K Files: 5")
    lines = cli.ok("dump", f"{PRD}/J22/muon").out.splitlines()
    assert [line.split("\t")[0] for line in lines] == [MUON[0], MUON[2]]
    fields = lines[0].split("\t")
    assert (fields[1], len(fields[2]), len(fields[3]), fields[4]) == ("1000", 8, 16, "CNAF-DISK")
    rows = [json.loads(line) for line in cli.ok("dump", "--json", "/").out.splitlines()]
    assert len(rows) == 5 and set(rows[0]) == {"lfn", "size", "adler32", "xxh3", "replicas"}
    guid = prod.json("stat", MUON[2])[0]["guid"]  # type: ignore[index]
    [found] = prod.json("stat", "--guid", guid)  # type: ignore[misc]
    assert found["lfn"] == MUON[2]
    assert cli("stat", "--guid", "no-such-guid").code == 2
