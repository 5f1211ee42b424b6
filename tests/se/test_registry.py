from __future__ import annotations

import sys
import textwrap

import pytest

from dfc.errors import InvalidArgument, OptionalDependencyMissing
from dfc.models import SEInfo
from dfc.se import LocalSE, MemorySE, known_protocols, open_se, registry, resolve


def test_registry_is_read_only():
    with pytest.raises(TypeError):
        registry["ftp"] = {"class": "x:y"}  # type: ignore[index]
    with pytest.raises(TypeError):
        registry["file"]["class"] = "x:y"  # type: ignore[index]


def test_builtin_protocols():
    assert {"file", "memory", "root", "davs", "https", "http", "s3"} <= set(known_protocols())
    assert resolve("file") is LocalSE
    assert resolve("memory") is MemorySE


async def test_open_se_local_and_memory(tmp_path):
    local = open_se(SEInfo("L", f"file://{tmp_path}"))
    memory = open_se(SEInfo("M", "memory://reg-test"))
    try:
        assert isinstance(local, LocalSE)
        assert isinstance(memory, MemorySE)
        assert local.name == "L"
        assert memory.url == "memory://reg-test"
    finally:
        await local.close()
        await memory.close()


def test_unknown_protocol():
    with pytest.raises(InvalidArgument, match="unknown storage protocol 'gsiftp'"):
        open_se(SEInfo("G", "gsiftp://host/path"))


@pytest.mark.parametrize(
    ("url", "extra"),
    [("root://host//data", "xrootd"), ("davs://host/data", "webdav"), ("s3://bucket", "s3")],
)
def test_backends_not_yet_available(url, extra):
    failure = None
    try:
        se = open_se(SEInfo("X", url))
    except OptionalDependencyMissing as exc:
        failure = exc
    if failure is None:  # the backend exists by now: it must at least be an SE
        assert se.name == "X"
    else:
        assert url.split(":")[0] in str(failure)
        assert failure.errno == 38


@pytest.fixture
def plugin_dist(tmp_path, monkeypatch):
    """Install a real (path-based) distribution declaring dfc.storage_elements plugins."""
    dist = tmp_path / "dfc_plugin_demo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dfc-plugin-demo\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [dfc.storage_elements]
            demo = dfc_plugin_demo:DemoSE
            needy = dfc_plugin_needy:NeedySE
            file = dfc_plugin_demo:DemoSE
            """
        )
    )
    (tmp_path / "dfc_plugin_demo.py").write_text(
        textwrap.dedent(
            """\
            from dfc.se import MemorySE

            class DemoSE(MemorySE):
                @classmethod
                def from_info(cls, info, options=None):
                    se = cls(info.name, "memory://demo-plugin")
                    se.options = dict(options or {})
                    return se
            """
        )
    )
    (tmp_path / "dfc_plugin_needy.py").write_text("import a_package_nobody_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for mod in ("dfc_plugin_demo", "dfc_plugin_needy"):
        sys.modules.pop(mod, None)


async def test_entry_point_plugin(plugin_dist):
    assert "demo" in known_protocols()
    se = open_se(SEInfo("D", "demo://anything"), {"token": "t"})
    try:
        assert type(se).__name__ == "DemoSE"
        assert se.options == {"token": "t"}  # type: ignore[attr-defined]
    finally:
        await se.close()
    assert resolve("file") is LocalSE  # built-ins win over plugins


def test_plugin_with_missing_dependency(plugin_dist):
    with pytest.raises(OptionalDependencyMissing, match="a_package_nobody_installed"):
        open_se(SEInfo("N", "needy://x"))
