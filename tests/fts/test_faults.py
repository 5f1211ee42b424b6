"""Injected faults: transient ones end in success, permanent ones fail with their error,
every corruption is detected and no corrupt replica is ever registered."""

from __future__ import annotations

from typing import Any

from dfc.se import open_se
from tests.fts.conftest import Grid, payload, temp_leftovers
from tests.fts.faults import Fates, FaultLog, FaultySE

SIZE = 3000


def test_faulty_sources_and_destination(grid: Grid) -> None:
    lfns = grid.files(240, size=SIZE)
    source = Fates(transient=0.12, permanent=0.04, corrupt=0.08, rotten=0.03, seed=7)
    dest = Fates(put_transient=0.05, seed=7)
    log = FaultLog()

    def opener(info: Any, options: Any) -> Any:
        se = open_se(info, options)
        if info.name == "A":
            return FaultySE(se, source, log)
        return FaultySE(se, dest, log) if info.name == "B" else se

    job = grid.submit(lfns, "B")
    grid.run(opener=opener, concurrency=6)
    files = {f.lfn: f for f in grid.job_files(job.id)}
    fate = {lfn: source.fate(lfn) for lfn in lfns}
    assert {"transient", "permanent", "corrupt", "rotten", "ok"} <= set(fate.values())
    assert sum(log.put_failures.values()) > 0 and sum(log.corrupted.values()) > 0

    on_b = grid.on_disk("B")
    registered = {lfn for lfn, ses in grid.replicas(lfns).items() if "B" in ses}
    index = {lfn: i for i, lfn in enumerate(lfns)}
    for lfn, f in files.items():
        kind = fate[lfn]
        if kind in ("ok", "transient", "corrupt"):
            assert f.state == "FINISHED", (lfn, kind, f.error)
            assert lfn in registered and on_b[lfn] == payload(index[lfn], SIZE)
        if kind == "transient":
            assert f.retries >= 1 and "SEUnavailable" in {a.kind for a in f.attempts}
        if kind == "corrupt":
            mismatches = [a for a in f.attempts if a.kind == "ChecksumMismatch"]
            assert len(mismatches) == 1, "detected, then re-read"
        if kind == "permanent":
            assert f.state == "FAILED" and f.error_kind == "PermissionDenied"
            # Retried only if the destination failed first (a transient put failure).
            assert f.retries == int(dest.put_fails(lfn)), "a permanent error is not retried"
        if kind == "rotten":
            assert f.state == "FAILED" and f.error_kind == "NoReplicaAvailable"
            assert "mismatch" in (f.error or "")
        if f.state != "FINISHED":
            assert lfn not in registered and lfn not in on_b
    # Every corrupted read was caught: all registered copies are byte-exact.
    for lfn in registered:
        assert on_b[lfn] == payload(index[lfn], SIZE)
    assert set(on_b) == registered
    assert temp_leftovers(grid.root / "se") == []
    job_now = grid.job(job.id)
    assert job_now.state == "FINISHEDDIRTY"
    assert job_now.counts.failed == sum(1 for k in fate.values() if k in ("permanent", "rotten"))
