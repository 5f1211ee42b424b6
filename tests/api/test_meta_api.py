"""The metadata part of the library API: names at the edge, streams, inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dfc import DFC, Settings
from dfc.errors import InvalidArgument, InvalidLFN, InvalidQuery, LFNNotFound, NotFound

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def api(tmp_path: Path) -> Iterator[DFC]:
    with DFC(Settings.load()) as d:
        d.init()
        d.se_add("A", f"file://{tmp_path}/a")
        sources = []
        for i in range(6):
            src = tmp_path / f"f{i}.dat"
            src.write_bytes(b"x" * (10 + i))
            sources.append(src)
        assert d.put(sources[:3], "/vo/run1/", se="A").ok
        assert d.put(sources[3:], "/vo/run2/", se="A").ok
        d.meta_index("run", "int")
        d.meta_index("quality", "float", level="file")
        d.meta_set([("/vo/run1", {"run": 1}), ("/vo/run2", {"run": 2})]).raise_first()
        yield d


def test_find_checks_when_called_and_streams(api: DFC) -> None:
    with pytest.raises(InvalidQuery, match="Metadata field nope not defined"):
        api.find("/vo", ["nope=1"])  # raised at the call, not at the first next()
    with pytest.raises(LFNNotFound):
        api.find("/nowhere", "run=1")
    with pytest.raises(InvalidLFN):
        api.find("vo", "run=1")
    found = api.find("/vo", "run=2")  # one string: split like DIRAC's shell
    assert next(found) == "/vo/run2/f3.dat"
    assert list(found) == ["/vo/run2/f4.dat", "/vo/run2/f5.dat"]
    assert list(api.find("/vo", ["run>0"], directories=True)) == ["/vo/run1", "/vo/run2"]
    assert api.find_count("/vo", ["run=1"]) == (3, 33)
    assert api.parse_query("run=1,2 quality<0.5") == {"run": {"in": [1, 2]}, "quality": {"<": 0.5}}
    assert api.meta_tags("/vo", "run") == [1, 2]


def test_bulk_calls_report_each_item(api: DFC) -> None:
    res = api.meta_set(
        [("/vo/run1/f0.dat", {"quality": 0.5}), ("bad", {"quality": 1}), ("/vo/x", {"run": 3})]
    )
    assert list(res.succeeded) == ["/vo/run1/f0.dat"]
    assert isinstance(res.failed["bad"], InvalidLFN)
    assert isinstance(res.failed["/vo/x"], LFNNotFound)
    got = api.meta_get("/vo/run1/f0.dat")
    assert (got["quality"].value, got["run"].value, got["run"].inherited) == (0.5, 1, True)
    assert api.meta_rm([("/vo/run1/f0.dat", ["quality"])]).ok
    assert [f.name for f in api.meta_show()] == ["quality", "run"]


def test_resolve_inputs(api: DFC) -> None:
    api.dataset_add("/vo/ds/one", "/vo run=1")
    assert api.resolve_inputs(dataset="/vo/ds/one") == [f"/vo/run1/f{i}.dat" for i in range(3)]
    both = api.resolve_inputs(dataset="/vo/ds/one", query="/vo/run2 run=2")
    assert len(both) == 6
    assert api.resolve_inputs(query="Size>=14") == ["/vo/run2/f4.dat", "/vo/run2/f5.dat"]
    with pytest.raises(InvalidArgument, match="more than 2 files"):
        api.resolve_inputs(query="/vo run>0", limit=2)
    with pytest.raises(InvalidQuery, match="no terms"):
        api.resolve_inputs(query="/vo")
    with pytest.raises(InvalidArgument):
        api.resolve_inputs()
    with pytest.raises(NotFound):
        api.resolve_inputs(dataset="/vo/ds/none")


def test_usage_dump_guid_and_provenance(api: DFC) -> None:
    usage = api.du("/vo")
    assert (usage.files, usage.bytes, usage.directories) == (6, 75, 2)
    assert usage.ses["A"].files == 6
    assert api.du_recount("/vo") == usage
    assert [e.lfn for e in api.dump("/vo/run1")] == [f"/vo/run1/f{i}.dat" for i in range(3)]
    entry = next(iter(api.stat(["/vo/run1/f1.dat"]).succeeded.values()))
    assert entry.guid is not None
    assert api.stat_guid(entry.guid).lfn == "/vo/run1/f1.dat"
    assert api.ancestry_add([("/vo/run2/f3.dat", ["/vo/run1/f0.dat"])]).ok
    assert api.descendants(["/vo/run1/f0.dat"]).succeeded == {
        "/vo/run1/f0.dat": {"/vo/run2/f3.dat": 1}
    }
    bad = api.ancestry_add([("/vo/run2/f4.dat", ["rel"])])
    assert isinstance(bad.failed["/vo/run2/f4.dat"], InvalidLFN)
