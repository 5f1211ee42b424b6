"""Splitters (as JSUB's) and the rendering of each job's command."""

from __future__ import annotations

from pathlib import Path

import pytest

from wms_bridge import template
from wms_bridge.errors import TaskFileError
from wms_bridge.split import render, split
from wms_bridge.task import load_task


def spec_of(tmp_path: Path, body: str):
    path = tmp_path / "t.toml"
    path.write_text('name = "t"\nexecutable = "prog"\n' + body)
    return load_task(path, user="alice")


def lfns(n: int) -> list[str]:
    return [f"/juno/d/f{i:02d}.root" for i in range(n)]


def test_files_per_job(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, "[splitter]\nfiles_per_job = 4\n")
    jobs = split(spec, lfns(10))
    assert [len(j.inputs) for j in jobs] == [4, 4, 2]
    assert [x for j in jobs for x in j.inputs] == lfns(10)
    assert jobs[2].vars == {"job": "2", "njobs": "3", "task": "t", "nfiles": "2"}


def test_files_per_job_needs_inputs(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, '[inputs]\ndirectory = "/juno/empty"\n[splitter]\nfiles_per_job = 4\n')
    with pytest.raises(TaskFileError, match="no input files"):
        split(spec, [])
    no_inputs = spec_of(tmp_path, "")
    assert [j.inputs for j in split(no_inputs, [])] == [()]


def test_same_file_name_in_one_job_is_refused(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, "[splitter]\nfiles_per_job = 2\n")
    with pytest.raises(TaskFileError, match=r"job 0 has two inputs named 'x\.root'"):
        split(spec, ["/a/x.root", "/b/x.root"])


def test_events_seeds_and_jsub_increments(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        "[splitter]\nnjobs = 3\nevents_per_job = 100\nseed = 42\n"
        '[splitter.vars]\nrun = 7\ntag = "mu"\nenergy = 1.5\n',
    )
    jobs = split(spec, [])
    assert [j.vars["seed"] for j in jobs] == ["42", "43", "44"]
    assert [j.vars["first_event"] for j in jobs] == ["0", "100", "200"]
    assert [j.vars["run"] for j in jobs] == ["7", "8", "9"]
    assert [j.vars["tag"] for j in jobs] == ["mu_0", "mu_1", "mu_2"]
    assert {j.vars["energy"] for j in jobs} == {"1.5"}
    assert all(j.inputs == () for j in jobs)


def test_jobvars_groups_multiply_jsub_example(tmp_path: Path) -> None:
    # JSUB's example: 6 nuclides x 20 seeds = 120 jobs.
    spec = spec_of(
        tmp_path,
        '[splitter.jobvars.nuclide]\ntype = "list"\n'
        'values = ["U238", "Th232", "K40", "Co60", "C14", "Rn222"]\ngroup = "a"\n'
        '[splitter.jobvars.seed]\ntype = "range"\nfirst = 1\nlength = 20\ngroup = "b"\n',
    )
    jobs = split(spec, [])
    assert len(jobs) == 120
    pairs = {(j.vars["nuclide"], j.vars["seed"]) for j in jobs}
    assert len(pairs) == 120
    assert (jobs[0].vars["nuclide"], jobs[0].vars["seed"]) == ("U238", "1")
    assert (jobs[21].vars["nuclide"], jobs[21].vars["seed"]) == ("Th232", "2")


def test_jobvars_zip_within_a_group_shortest_wins(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        '[splitter.jobvars.E]\ntype = "range"\nfirst = 10\nstep = 10\nlast = 50\ngroup = "g"\n'
        '[splitter.jobvars.P]\ntype = "list"\nvalues = ["e+", "e-", "mu"]\ngroup = "g"\n',
    )
    jobs = split(spec, [])
    assert [(j.vars["E"], j.vars["P"]) for j in jobs] == [("10", "e+"), ("20", "e-"), ("30", "mu")]


def test_jobvars_groupless_zip_with_the_product(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        '[splitter.jobvars.A]\ntype = "list"\nvalues = ["a1", "a2"]\ngroup = "x"\n'
        '[splitter.jobvars.B]\ntype = "list"\nvalues = ["b1", "b2"]\ngroup = "y"\n'
        '[splitter.jobvars.N]\ntype = "range"\nfirst = 0\nlength = 3\n',
    )
    jobs = split(spec, [])
    assert [(j.vars["A"], j.vars["B"], j.vars["N"]) for j in jobs] == [
        ("a1", "b1", "0"),
        ("a1", "b2", "1"),
        ("a2", "b1", "2"),
    ]


def test_jobvars_inputs_and_lines_in_file(tmp_path: Path) -> None:
    (tmp_path / "runs.txt").write_text("run1\n\nrun2\nrun3\n")
    spec = spec_of(
        tmp_path,
        "[splitter]\nmax_jobs = 2\n"
        '[splitter.jobvars.files]\ntype = "inputs"\nper_job = 2\n'
        '[splitter.jobvars.run]\ntype = "lines_in_file"\nfile = "runs.txt"\n',
    )
    jobs = split(spec, lfns(6))
    assert len(jobs) == 2  # capped by max_jobs
    assert jobs[1].inputs == tuple(lfns(6)[2:4])
    assert jobs[1].vars["run"] == "run2"
    assert jobs[1].vars["files"] == " ".join(lfns(6)[2:4])


def test_render_substitutes_everything(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        'arguments = ["-n", "$(nfiles)", "$(inputs)", "--first=$(input)", "$$(literal)"]\n'
        'environment = { JOB = "job$(job)" }\n'
        "[splitter]\nfiles_per_job = 2\n"
        '[outputs]\ndir = "/juno/user/a/alice/out"\nfiles = { "*.root" = "j$(job)" }\n'
        'meta = { jobId = "$(job)", code = "007", ratio = 0.5 }\n',
    )
    job = split(spec, lfns(4))[1]
    out = render(spec, job)
    assert out.argv == (
        "prog",
        "-n",
        "2",
        "inputs/f02.root",
        "inputs/f03.root",
        "--first=inputs/f02.root",
        "$(literal)",
    )
    assert out.environment == {"JOB": "job1"}
    assert out.outputs == (("*.root", "/juno/user/a/alice/out/j1"),)
    assert out.meta == {"jobId": 1, "code": "007", "ratio": 0.5}


def test_template_names_and_lists() -> None:
    assert template.names("a $(x) $$ $(y_1)") == ["x", "y_1"]
    assert template.substitute("$(a)-$(b)-$(c)", {"a": "1", "b": ["x", "y"]}) == "1-x y-$(c)"
    assert template.expand_args(["$(b)", "p$(b)"], {"b": ["x", "y"]}) == ["x", "y", "px y"]
