"""Task files: TOML and YAML, defaults, and errors that name the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from wms_bridge.errors import TaskFileError
from wms_bridge.task import TaskSpec, default_output_dir, load_task

FULL_TOML = """\
name = "detsim-e"
executable = "python3"
script = "run.py"
arguments = ["--seed", "$(seed)", "--out", "detsim-$(seed).root"]
environment = { MODE = "fast", SEED = "$(seed)" }

[inputs]
lfns = ["/juno/production/a.root"]
directory = "/juno/production/dir"
dataset = "/juno/production/ds"
query = "/juno/production energy>1"
preferred_se = ["IHEP-DISK"]

[splitter]
mode = "splitByEvent"
njobs = 5
events_per_job = 100
seed = 1000
vars = { tag = "run", first_run = 7 }

[outputs]
subdir = "jsub_tests"
files = { "*.root" = "root", "*.txt" = "" }
se = "IHEP-DISK"
failover_se = ["CNAF-DISK", "JINR-DISK"]
meta = { jobId = "$(job)", tag = "v1" }
overwrite = true

[backend]
type = "slurm"
partition = "debug"
max_running = 4
options = ["--qos=normal"]

[resources]
cores = 2
memory = "1.5G"
wall_time = "1h30m"
"""

FULL_YAML = """\
name: detsim-e
executable: python3
script: run.py
arguments: ["--seed", "$(seed)", "--out", "detsim-$(seed).root"]
environment: {MODE: fast, SEED: "$(seed)"}
inputs:
  lfns: [/juno/production/a.root]
  directory: /juno/production/dir
  dataset: /juno/production/ds
  query: /juno/production energy>1
  preferred_se: [IHEP-DISK]
splitter:
  mode: splitByEvent
  njobs: 5
  events_per_job: 100
  seed: 1000
  vars: {tag: run, first_run: 7}
outputs:
  subdir: jsub_tests
  files: {"*.root": root, "*.txt": ""}
  se: IHEP-DISK
  failover_se: [CNAF-DISK, JINR-DISK]
  meta: {jobId: "$(job)", tag: v1}
  overwrite: true
backend:
  type: slurm
  partition: debug
  max_running: 4
  options: ["--qos=normal"]
resources:
  cores: 2
  memory: 1.5G
  wall_time: "01:30:00"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / "run.py").write_text("print('hi')\n")
    path = tmp_path / name
    path.write_text(text)
    return path


def test_full_toml(tmp_path: Path) -> None:
    spec = load_task(write(tmp_path, "t.toml", FULL_TOML), user="alice")
    assert spec.name == "detsim-e"
    assert spec.script == str((tmp_path / "run.py").resolve())
    assert spec.inputs.directories == ("/juno/production/dir",)
    assert spec.splitter.mode == "events"
    assert (spec.splitter.njobs, spec.splitter.events_per_job, spec.splitter.seed) == (5, 100, 1000)
    assert spec.outputs.dir == "/juno/user/a/alice/jsub_tests/detsim-e"
    assert [(r.pattern, r.dir) for r in spec.outputs.rules] == [
        ("*.root", "/juno/user/a/alice/jsub_tests/detsim-e/root"),
        ("*.txt", "/juno/user/a/alice/jsub_tests/detsim-e"),
    ]
    assert spec.outputs.failover_se == ("CNAF-DISK", "JINR-DISK")
    assert spec.backend.type == "slurm"
    assert spec.backend.max_running == 4
    assert spec.resources.memory_mb == 1536
    assert spec.resources.wall_time == 5400
    assert TaskSpec.from_json(spec.to_json()) == spec


def test_yaml_gives_the_same_task(tmp_path: Path) -> None:
    toml_spec = load_task(write(tmp_path, "t.toml", FULL_TOML), user="alice")
    yaml_spec = load_task(write(tmp_path, "t.yaml", FULL_YAML), user="alice")
    assert yaml_spec.to_json() | {"source": ""} == toml_spec.to_json() | {"source": ""}


def test_defaults(tmp_path: Path) -> None:
    spec = load_task(write(tmp_path, "t.toml", 'name = "x"\nexecutable = "true"\n'), user="bob")
    assert spec.splitter.mode == "files_per_job"
    assert spec.splitter.files_per_job == 1
    assert spec.backend.type == "local"
    assert spec.outputs.dir == "/juno/user/b/bob/x"
    assert default_output_dir("juno", "zhangxt", "t", "tutor") == "/juno/user/z/zhangxt/tutor/t"


def test_backend_as_a_string_and_arguments_as_a_line(tmp_path: Path) -> None:
    text = 'name = "x"\nexecutable = "sh"\narguments = "-c \'echo $(job)\'"\nbackend = "slurm"\n'
    spec = load_task(write(tmp_path, "t.toml", text), user="bob")
    assert spec.arguments == ("-c", "echo $(job)")
    assert spec.backend.type == "slurm"


# (file name, content, expected "file:line: field: message" fragments)
BAD = [
    (
        "syntax.toml",
        'name = "x"\nexecutable = "true"\n[splitter]\nfiles_per_job = = 4\n',
        ["syntax.toml:4: invalid TOML"],
    ),
    (
        "typo.toml",
        'name = "x"\nexecutable = "true"\n\n[splitter]\nfile_per_job = 4\n',
        ["typo.toml:5: splitter.file_per_job: unknown field (did you mean 'files_per_job'?)"],
    ),
    (
        "type.toml",
        'name = "x"\nexecutable = "true"\n[splitter]\nmode = "files_per_job"\n'
        'files_per_job = "four"\n',
        ["type.toml:5: splitter.files_per_job: expected an integer, got 'four'"],
    ),
    (
        "zero.toml",
        'name = "x"\nexecutable = "true"\n[splitter]\nfiles_per_job = 0\n',
        ["zero.toml:4: splitter.files_per_job: must be at least 1"],
    ),
    ("noname.toml", 'executable = "true"\n', ["noname.toml: name: missing (required)"]),
    ("noexe.toml", 'name = "x"\n', ["noexe.toml: executable: missing (required)"]),
    (
        "var.toml",
        'name = "x"\nexecutable = "true"\narguments = [\n  "$(job)",\n  "$(sed)",\n]\n',
        ["var.toml:3: arguments[1]: unknown variable $(sed)"],
    ),
    (
        "inline.toml",
        'name = "x"\nexecutable = "true"\n[outputs]\nmeta = { jobId = "$(jbo)" }\n',
        ["inline.toml:4: outputs.meta.jobId: unknown variable $(jbo)"],
    ),
    (
        "mem.toml",
        'name = "x"\nexecutable = "true"\n\n[resources]\ncores = 1\nmemory = "lots"\n',
        ["mem.toml:6: resources.memory: expected a size such as 512M or 2G"],
    ),
    (
        "backend.toml",
        'name = "x"\nexecutable = "true"\n[backend]\ntype = "condor"\n',
        ["backend.toml:4: backend.type: unknown backend 'condor'"],
    ),
    (
        "mode.toml",
        'name = "x"\nexecutable = "true"\n[splitter]\nmode = "events"\nfiles_per_job = 3\n',
        ["mode.toml:5: splitter.files_per_job: not used by mode 'events'"],
    ),
    (
        "range.toml",
        'name = "x"\nexecutable = "true"\n[splitter.jobvars.E]\ntype = "range"\nfirst = 1\n',
        ["range.toml:3: splitter.jobvars.E: a range needs exactly one of 'length' and 'last'"],
    ),
    (
        "lfn.toml",
        'name = "x"\nexecutable = "true"\n[inputs]\nlfns = ["/ok", "relative/x"]\n',
        ["lfn.toml:4: inputs.lfns[1]: not an absolute LFN: 'relative/x'"],
    ),
    (
        "script.toml",
        'name = "x"\nscript = "missing.sh"\n',
        ["script.toml:2: script: no such file"],
    ),
    (
        "name.toml",
        'name = "has space"\nexecutable = "true"\n',
        ["name.toml:1: name: use letters, digits"],
    ),
    (
        "yaml.yaml",
        "name: x\nexecutable: 'true'\nsplitter:\n  files_per_job: [4\n",
        ["yaml.yaml:5: invalid YAML"],
    ),
    (
        "yamltype.yaml",
        "name: x\nexecutable: 'true'\nsplitter:\n  mode: files_per_job\n  files_per_job: four\n",
        ["yamltype.yaml:5: splitter.files_per_job: expected an integer, got 'four'"],
    ),
]


@pytest.mark.parametrize(("name", "text", "fragments"), BAD, ids=[b[0] for b in BAD])
def test_bad_task_files_name_line_and_field(
    tmp_path: Path, name: str, text: str, fragments: list[str]
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(TaskFileError) as info:
        load_task(path, user="alice")
    message = str(info.value)
    assert info.value.errno == 22
    for fragment in fragments:
        assert f"{tmp_path}/{fragment}" in message, message


def test_unreadable_task_file(tmp_path: Path) -> None:
    with pytest.raises(TaskFileError, match="cannot read the task file"):
        load_task(tmp_path / "nope.toml", user="alice")
