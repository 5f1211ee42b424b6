"""Staging, as a job does it: ``dfc-job stage-in`` and ``dfc-job stage-out``."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest

from tests.wms_bridge.conftest import DATASET, INPUT_DIR, Grid, JobCLI, adler

OUT_DIR = "/juno/user/a/alice/stage"


@pytest.fixture
def inputs(grid: Grid) -> list[str]:
    return grid.add_inputs(8)


def outputs(grid: Grid, *names: str) -> list[Path]:
    work = grid.root / "work"
    work.mkdir(exist_ok=True)
    paths = []
    for name in names:
        path = work / name
        path.write_bytes(f"output {name} ".encode() * 50)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------- stage-in
def test_stage_in_writes_verified_files_and_a_manifest(
    grid: Grid, job_cli: JobCLI, inputs: list[str]
) -> None:
    dest = grid.root / "in"
    job_cli.ok("stage-in", *inputs[:3], "--dest", dest, "--parallel", "2")
    manifest = json.loads((dest / "inputs.json").read_text())
    assert [f["lfn"] for f in manifest["files"]] == inputs[:3]
    assert manifest["failed"] == {}
    for entry in manifest["files"]:
        data = grid.inputs[entry["lfn"]]
        assert Path(entry["path"]).read_bytes() == data
        assert entry["adler32"] == adler(data)
        assert entry["size"] == len(data)
        assert entry["se"] in {"IN1", "IN2"}
    # Again: the files are there and verified, nothing is downloaded.
    again = job_cli.ok("stage-in", "--manifest", dest / "inputs.json", "--dest", dest, "--json")
    assert [f["se"] for f in again.json()["files"]] == [None, None, None]


def test_stage_in_prefers_the_named_se(grid: Grid, job_cli: JobCLI, inputs: list[str]) -> None:
    for se in ("IN2", "IN1"):
        dest = grid.root / f"in-{se}"
        run = job_cli.ok("stage-in", *inputs[:2], "--dest", dest, "--preferred-se", se, "--json")
        assert {f["se"] for f in run.json()["files"]} == {se}


def test_stage_in_retries_over_replicas(grid: Grid, job_cli: JobCLI, inputs: list[str]) -> None:
    # The copy at IN2 is corrupt and the one at IN1 is lost: each needs the other SE.
    lfn_a, lfn_b = inputs[0], inputs[1]
    (grid.se_dirs["IN2"] / lfn_a.lstrip("/")).write_bytes(b"corrupt" * 10)
    (grid.se_dirs["IN1"] / lfn_b.lstrip("/")).unlink()
    dest = grid.root / "in"
    run = job_cli.ok("stage-in", lfn_a, lfn_b, "--dest", dest, "--preferred-se", "IN2", "--json")
    files = {f["lfn"]: f for f in run.json()["files"]}
    assert files[lfn_a]["se"] == "IN1"
    assert "IN2" in files[lfn_a]["bad_replicas"]
    assert files[lfn_b]["se"] == "IN2"
    assert (dest / Path(lfn_a).name).read_bytes() == grid.inputs[lfn_a]


def test_stage_in_failure_reports_each_file(grid: Grid, job_cli: JobCLI, inputs: list[str]) -> None:
    for se in ("IN1", "IN2"):
        (grid.se_dirs[se] / inputs[1].lstrip("/")).unlink()
    dest = grid.root / "in"
    run = job_cli(
        "stage-in", inputs[0], inputs[1], f"{INPUT_DIR}/nope.root", "--dest", dest, "--retries", "0"
    )
    assert run.code != 0
    assert f"{INPUT_DIR}/nope.root" in run.err
    assert f"{inputs[1]}: no replica could be read" in run.err
    assert "2 of 3 inputs not staged" in run.err
    manifest = json.loads((dest / "inputs.json").read_text())
    assert [f["lfn"] for f in manifest["files"]] == [inputs[0]]
    assert set(manifest["failed"]) == {inputs[1], f"{INPUT_DIR}/nope.root"}
    assert not (dest / Path(inputs[1]).name).exists()


def test_stage_in_dataset_and_query(grid: Grid, job_cli: JobCLI, inputs: list[str]) -> None:
    by_ds = job_cli.ok("stage-in", "--dataset", DATASET, "--dest", grid.root / "a", "--json")
    by_q = job_cli.ok(
        "stage-in", "--query", f"{INPUT_DIR} e2eTag=detsim", "--dest", grid.root / "b", "--json"
    )
    assert sorted(f["lfn"] for f in by_ds.json()["files"]) == sorted(inputs)
    assert sorted(f["lfn"] for f in by_q.json()["files"]) == sorted(inputs)


def test_stage_in_needs_some_input(grid: Grid, job_cli: JobCLI) -> None:
    assert job_cli("stage-in", "--dest", grid.root).code == 2


# ---------------------------------------------------------------------- stage-out
def test_stage_out_registers_with_meta_and_ancestry(
    grid: Grid, job_cli: JobCLI, inputs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = grid.root / "in"
    job_cli.ok("stage-in", *inputs[:2], "--dest", dest)
    files = outputs(grid, "a.root", "b.root", "c.log")
    monkeypatch.chdir(grid.root / "work")
    run = job_cli.ok(
        "stage-out", "*.root", "--to", OUT_DIR, "--se", "OUT", "--failover-se", "SPARE",
        "--meta", "runNumber=1234", "--meta", "stage=detsim",
        "--ancestors-from", dest / "inputs.json", "--json",
    )  # fmt: skip
    stored = run.json()["files"]
    assert [f["lfn"] for f in stored] == [f"{OUT_DIR}/a.root", f"{OUT_DIR}/b.root"]
    for item, path in zip(stored, files, strict=False):
        entry = grid.dfc.stat([item["lfn"]]).succeeded[item["lfn"]]
        assert entry.adler32 == adler(path.read_bytes())
        assert [r.se for r in entry.replicas] == ["OUT"]
        meta = grid.dfc.meta_get(item["lfn"])
        assert (meta["runNumber"].value, meta["stage"].value) == (1234, "detsim")
        ancestors = grid.dfc.ancestors([item["lfn"]]).succeeded[item["lfn"]]
        assert set(ancestors) == set(inputs[:2])
    assert grid.dfc.stat([f"{OUT_DIR}/c.log"]).failed


def test_stage_out_fails_over_when_the_primary_se_is_down(
    grid: Grid, job_cli: JobCLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs(grid, "a.root", "b.root")
    monkeypatch.chdir(grid.root / "work")
    run = job_cli.ok(
        "stage-out", "a.root", "b.root", "--to", OUT_DIR,
        "--se", "DOWN", "--failover-se", "SPARE", "--json",
    )  # fmt: skip
    for item in run.json()["files"]:
        assert item["se"] == "SPARE"
        assert "not mounted" in item["failed_ses"]["DOWN"]
        entry = grid.dfc.stat([item["lfn"]]).succeeded[item["lfn"]]
        assert [r.se for r in entry.replicas] == ["SPARE"]


def test_stage_out_nowhere_to_store_leaves_nothing(
    grid: Grid, job_cli: JobCLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs(grid, "a.root")
    monkeypatch.chdir(grid.root / "work")
    # SPARE's disk goes away too.
    shutil.move(grid.se_dirs["SPARE"], grid.root / "spare-offline")
    run = job_cli("stage-out", "a.root", "--to", OUT_DIR, "--se", "DOWN", "--failover-se", "SPARE")
    assert run.code == errno.ECONNREFUSED
    assert f"{OUT_DIR}/a.root: could not be stored on any SE (DOWN: " in run.err
    assert "; SPARE: " in run.err
    assert grid.dfc.stat([f"{OUT_DIR}/a.root"]).failed
    # Once SPARE is back, running the same command again completes the job.
    shutil.move(grid.root / "spare-offline", grid.se_dirs["SPARE"])
    job_cli.ok("stage-out", "a.root", "--to", OUT_DIR, "--se", "DOWN", "--failover-se", "SPARE")
    assert grid.dfc.stat([f"{OUT_DIR}/a.root"]).ok


def test_stage_out_rerun_completes_without_duplicates(
    grid: Grid, job_cli: JobCLI, inputs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    job_cli.ok("stage-in", inputs[0], "--dest", grid.root / "in")
    outputs(grid, "a.root", "b.root")
    monkeypatch.chdir(grid.root / "work")
    common = ["--to", OUT_DIR, "--se", "OUT", "--meta", "stage=rec"]
    common += ["--ancestors-from", str(grid.root / "in" / "inputs.json")]
    # The first run died after storing a.root (simulated: it only got that far).
    job_cli.ok("stage-out", "a.root", *common)
    first = grid.dfc.stat([f"{OUT_DIR}/a.root"]).succeeded[f"{OUT_DIR}/a.root"]
    run = job_cli.ok("stage-out", "*.root", *common, "--json")
    assert [(f["lfn"], f["reused"]) for f in run.json()["files"]] == [
        (f"{OUT_DIR}/a.root", True),
        (f"{OUT_DIR}/b.root", False),
    ]
    again = grid.dfc.stat([f"{OUT_DIR}/a.root"]).succeeded[f"{OUT_DIR}/a.root"]
    assert (again.guid, again.ctime, again.replicas) == (first.guid, first.ctime, first.replicas)
    assert len(grid.se_files("OUT")) == 2
    assert grid.dfc.meta_get(f"{OUT_DIR}/b.root")["stage"].value == "rec"


def test_stage_out_conflicts_and_overwrite(
    grid: Grid, job_cli: JobCLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    (path,) = outputs(grid, "a.root")
    monkeypatch.chdir(grid.root / "work")
    job_cli.ok("stage-out", "a.root", "--to", OUT_DIR, "--se", "OUT")
    path.write_bytes(b"new content")
    run = job_cli("stage-out", "a.root", "--to", OUT_DIR, "--se", "OUT", "--failover-se", "SPARE")
    assert run.code != 0
    assert "exists with other content (use --overwrite" in run.err
    job_cli.ok("stage-out", "a.root", "--to", OUT_DIR, "--se", "OUT", "--overwrite")
    entry = grid.dfc.stat([f"{OUT_DIR}/a.root"]).succeeded[f"{OUT_DIR}/a.root"]
    assert entry.adler32 == adler(b"new content")


def test_stage_out_metadata_failure_leaves_nothing_half_registered(
    grid: Grid, job_cli: JobCLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    grid.dfc.meta_index("runNumber", "int", level="file")
    outputs(grid, "a.root")
    monkeypatch.chdir(grid.root / "work")
    run = job_cli("stage-out", "a.root", "--to", OUT_DIR, "--se", "OUT", "--meta", "runNumber=abc")
    assert run.code == errno.EINVAL
    assert "runNumber" in run.err
    assert "the upload was removed again" in run.err
    assert grid.dfc.stat([f"{OUT_DIR}/a.root"]).failed
    assert grid.se_files("OUT") == []


def test_stage_out_unmatched_pattern(
    grid: Grid, job_cli: JobCLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs(grid, "a.root")
    monkeypatch.chdir(grid.root / "work")
    run = job_cli("stage-out", "a.root", "*.missing", "--to", OUT_DIR, "--se", "OUT")
    assert run.code == 2
    assert "*.missing: no file matches" in run.err
    assert grid.dfc.stat([f"{OUT_DIR}/a.root"]).ok
