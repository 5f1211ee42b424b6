"""The library API as a Python user calls it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfc import DFC, Settings
from dfc.errors import LFNExists, LFNNotFound, NotFound, SENotFound


@pytest.fixture
def api(tmp_path: Path) -> DFC:
    with DFC(Settings.load()) as d:
        d.init()
        d.se_add("A", f"file://{tmp_path}/a", site="S1")
        d.se_add("B", f"file://{tmp_path}/b", site="S2")
        yield d


def test_bulk_put_reports_each_item(api: DFC, tmp_path: Path) -> None:
    good = tmp_path / "good.dat"
    good.write_bytes(b"x" * 1000)
    res = api.put([good, tmp_path / "missing.dat"], "/vo/data/", se="A")
    assert list(res.succeeded) == ["/vo/data/good.dat"]
    assert isinstance(res.failed[str(tmp_path / "missing.dat")], NotFound)
    again = api.put([good], "/vo/data/", se="A")
    assert isinstance(again.failed["/vo/data/good.dat"], LFNExists)
    entry = res.succeeded["/vo/data/good.dat"]
    assert entry.size == 1000
    assert entry.replicas[0].se == "A"


def test_stat_keeps_caller_order_and_reports_missing(api: DFC) -> None:
    api.mkdir(["/vo/b", "/vo/a"], parents=True)
    res = api.stat(["/vo/b", "/vo/none", "/vo/a", "bad"])
    assert list(res.succeeded) == ["/vo/b", "/vo/a"]
    assert isinstance(res.failed["/vo/none"], LFNNotFound)
    assert "not an absolute path" in str(res.failed["bad"])


def test_ls_streams_sorted(api: DFC) -> None:
    api.mkdir([f"/vo/d/{n}" for n in ("c", "a", "b")], parents=True)
    assert [e.lfn for e in api.ls("/vo/d")] == ["/vo/d/a", "/vo/d/b", "/vo/d/c"]


def test_default_se_choice(api: DFC, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"1")
    with pytest.raises(Exception, match="use --se"):
        api.put([f], "/vo/f")
    monkeypatch.setenv("DFC_SITE", "S2")
    with DFC(Settings.load()) as at_s2:
        res = at_s2.put([f], "/vo/f")
    assert res.succeeded["/vo/f"].replicas[0].se == "B"
    with pytest.raises(SENotFound):
        api.put([f], "/vo/g", se="NOPE")


def test_replicate_and_get(api: DFC, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"payload" * 1000)
    api.put([f], "/vo/f", se="A")
    rep = api.replicate(["/vo/f"], "B")
    assert rep.succeeded["/vo/f"].source == "A"
    got = api.get(["/vo/f"], tmp_path / "back", se="B")
    assert got.succeeded["/vo/f"].se == "B"
    assert (tmp_path / "back").read_bytes() == f.read_bytes()
