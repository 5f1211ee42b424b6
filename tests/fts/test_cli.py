"""The operator's commands: replicate --async/--dry-run/--from-file, dfc fts ..."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tests.fts.conftest import Grid

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import CLI


def _grid(tmp_path: Path) -> Grid:
    grid = Grid(tmp_path / "home", config="[transfers]\nretry_delay = 0.01\n")
    grid.se("A", "S1")
    grid.se("B", "S2")
    return grid


def test_async_job_lifecycle(tmp_path: Path, cli: CLI) -> None:
    grid = _grid(tmp_path)
    lfns = grid.files(6, size=500)
    (grid.dirs["A"] / lfns[0].lstrip("/")).unlink()  # this one will fail
    listing = tmp_path / "lfns.txt"
    listing.write_text("# to copy\n" + "\n".join(lfns[3:]) + "\n\n/vo/missing\n")
    run = cli(
        "replicate", *lfns[:3], "--from-file", listing, "--to", "B", "--async", "--priority", "4"
    )
    assert run.code == 2 and "/vo/missing" in run.err, "a missing name is reported"
    job_id = int(run.out.strip())
    assert f"dfc fts status {job_id} --watch" in run.err

    jobs = json.loads(cli.ok("fts", "list", "--json").out)
    assert [(j["id"], j["state"], j["priority"], j["counts"]["files"]) for j in jobs] == [
        (job_id, "SUBMITTED", 4, 6)
    ]
    assert "SUBMITTED" in cli.ok("fts", "list").out

    agent = cli.ok("fts", "agent", "--once")
    assert "5 copied" in agent.err and "1 failed" in agent.err

    status = json.loads(cli.ok("fts", "status", str(job_id), "--json").out)
    assert status["state"] == "FINISHEDDIRTY"
    assert status["counts"]["finished"] == 5 and status["counts"]["failed"] == 1
    [link] = [x for x in status["links"] if x["source"] == "A"]
    assert (link["dest"], link["finished"], link["failed"]) == ("B", 5, 1)
    human = cli.ok("fts", "status", str(job_id)).out
    assert "FINISHEDDIRTY" in human and "A -> B" in human

    failed = json.loads(
        cli.ok("fts", "status", str(job_id), "--files", "--state", "FAILED", "--json").out
    )
    assert [f["lfn"] for f in failed] == [lfns[0]]
    assert failed[0]["error_kind"] == "PFNNotFound" and failed[0]["attempts"]
    assert lfns[0] in cli.ok("fts", "status", str(job_id), "--files", "--state", "failed").out

    watch = cli("fts", "status", str(job_id), "--watch")
    assert watch.code == 1 and "FINISHEDDIRTY" in watch.out, "not FINISHED: exit status 1"

    (grid.dirs["A"] / lfns[0].lstrip("/")).write_bytes(b"back")
    grid.api.close()
    cli.ok("fts", "retry", str(job_id))
    cli.ok("fts", "agent", "--once")
    # The restored file has other bytes than the catalogue says: it fails again, verified.
    again = json.loads(
        cli.ok("fts", "status", str(job_id), "--files", "--state", "FAILED", "--json").out
    )
    assert again[0]["error_kind"] == "NoReplicaAvailable" and "mismatch" in again[0]["error"]
    grid.close()


def test_dry_run_and_cancel(tmp_path: Path, cli: CLI) -> None:
    grid = _grid(tmp_path)
    grid.files(4, size=1000)
    plan = json.loads(cli.ok("replicate", "-r", "/vo", "--to", "B", "--dry-run", "--json").out)
    assert (plan["files"], plan["bytes"], plan["skipped"]) == (4, 4000, 0)
    assert plan["links"] == [{"source": "A", "dest": "B", "files": 4, "bytes": 4000}]
    text = cli.ok("replicate", "-r", "/vo", "--to", "B", "--dry-run").out
    assert "would copy 4 file(s)" in text and "A -> B: 4 file(s)" in text
    assert json.loads(cli.ok("fts", "list", "--json").out) == [], "a dry run queues nothing"

    job_id = int(cli.ok("replicate", "-r", "/vo", "--to", "B", "--async").out)
    canceled = json.loads(cli.ok("fts", "cancel", str(job_id), "--json").out)
    assert canceled["state"] == "CANCELED" and canceled["counts"]["canceled"] == 4
    assert "0 copied" in cli.ok("fts", "agent", "--once").err
    assert grid.on_disk("B") == {}
    assert cli("fts", "status", "999").code == 2, "no such job: ENOENT"
    grid.close()


def test_foreground_replicate_is_a_job_too(tmp_path: Path, cli: CLI) -> None:
    grid = _grid(tmp_path)
    lfns = grid.files(3, size=700)
    run = cli.ok("replicate", "-r", "/vo/d", "--to", "B", "--json")
    assert sorted(r["lfn"] for r in json.loads(run.out)) == lfns
    [job] = json.loads(cli.ok("fts", "list", "--json").out)
    assert job["state"] == "FINISHED" and job["description"].startswith("replicate -r /vo/d")
    assert cli("replicate", "--to", "B").code == 2, "nothing to replicate"
    grid.close()
