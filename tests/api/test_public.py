"""The public surface: `dfc.__all__` is sorted, complete and importable."""

from __future__ import annotations

import subprocess
import sys

import pytest

import dfc


def test_all_sorted_and_importable() -> None:
    assert dfc.__all__ == sorted(dfc.__all__)
    for name in dfc.__all__:
        assert getattr(dfc, name) is not None


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        dfc.no_such_thing  # type: ignore[attr-defined]  # noqa: B018


def test_import_dfc_is_light() -> None:
    code = "import sys, dfc; print(sorted(m for m in ('sqlalchemy', 'fsspec', 'aiohttp') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
