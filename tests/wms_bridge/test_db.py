"""The task/job database on SQLite and on PostgreSQL, and where it is configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfc import Settings
from wms_bridge.config import JobSettings
from wms_bridge.db import ACTIVE, JobDB
from wms_bridge.errors import JobConfigError, JobNotFound, TaskNotFound


def exercise(db: JobDB) -> None:
    jobs = [(i, [f"/juno/f{i}"], {"job": str(i)}) for i in range(3)]
    task = db.create_task(
        name="t", owner="alice", backend="local", task_dir="/w/{id}-t", spec={"a": 1}, jobs_=jobs
    )
    assert task.task_dir == f"/w/{task.id}-t"
    assert task.spec == {"a": 1}
    again = db.create_task(
        name="t", owner="alice", backend="slurm", task_dir="/w/{id}", spec={}, jobs_=jobs[:1]
    )
    assert db.task("t").id == again.id  # a name means the newest task
    assert db.task(str(task.id)).id == task.id
    with pytest.raises(TaskNotFound):
        db.task("nope")
    assert [j.state for j in db.jobs(task.id)] == ["created"] * 3
    assert db.update_jobs(task.id, [0, 1, 2], state="queued", attempt=1) == 3
    # compare-and-set: only jobs in an expected state change
    assert db.update_job(task.id, 0, expect={"queued"}, state="running", backend_id="1:2")
    assert db.update_job(task.id, 1, expect={"queued"}, state="killed")
    assert not db.update_job(task.id, 1, expect=ACTIVE, state="done")
    assert db.update_job(task.id, 0, outputs=[{"lfn": "/x", "se": "S"}], exit_code=0)
    job = db.job(task.id, 0)
    assert (job.state, job.backend_id, job.outputs, job.inputs) == (
        "running", "1:2", [{"lfn": "/x", "se": "S"}], ["/juno/f0"],
    )  # fmt: skip
    assert [(j.task_id, j.idx) for j in db.active("local")] == [(task.id, 0), (task.id, 2)]
    assert db.counts()[task.id] == {"running": 1, "killed": 1, "queued": 1}
    assert [j.idx for j in db.jobs(task.id, states={"killed"})] == [1]
    assert [j.idx for j in db.jobs(task.id, indices=[2, 0])] == [0, 2]
    with pytest.raises(JobNotFound):
        db.job(task.id, 9)
    assert [t.id for t in db.tasks()] == [task.id, again.id]


def test_sqlite(tmp_path: Path) -> None:
    db = JobDB(f"sqlite:///{tmp_path / 'sub' / 'jobs.db'}")
    try:
        exercise(db)
    finally:
        db.close()
    reopened = JobDB(f"sqlite:///{tmp_path / 'sub' / 'jobs.db'}")
    try:
        assert len(reopened.tasks()) == 2
    finally:
        reopened.close()


@pytest.mark.postgres
def test_postgres(postgres_url: str) -> None:
    db = JobDB(postgres_url)
    try:
        exercise(db)
    finally:
        db.close()


def test_settings_defaults_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = Settings.load()
    js = JobSettings.load(base, env={})
    assert js.jobs_dir == base.data_dir / "jobs"
    assert js.db_url == f"sqlite:///{base.data_dir / 'jobs' / 'jobs.db'}"
    assert js.vo == "juno"
    pg = Settings.load(catalog="postgresql+psycopg://u@h/dfc")
    assert JobSettings.load(pg, env={}).db_url == "postgresql+psycopg://u@h/dfc"
    env = {"DFC_JOB_DIR": str(tmp_path / "j"), "DFC_JOB_DB": "sqlite:///x.db", "DFC_JOB_SLOTS": "3"}
    js = JobSettings.load(base, env=env)
    assert (js.jobs_dir, js.db_url, js.local_slots) == (tmp_path / "j", "sqlite:///x.db", 3)
    config = tmp_path / "c.toml"
    config.write_text('[jobs]\nvo = "cepc"\nlocal_slots = 0\n')
    with pytest.raises(JobConfigError, match="local_slots: expected a positive number"):
        JobSettings.load(Settings.load(config_file=config), env={})
