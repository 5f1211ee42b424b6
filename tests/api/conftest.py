"""Fixtures of the library API tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dfc import DFC, Settings


@pytest.fixture
def memory_api(tmp_path: Path) -> Iterator[DFC]:
    """An initialised catalogue with two in-memory SEs, ``M`` and ``N``.

    fsspec's memory store is shared by the whole process: each test gets its own
    roots (``memory://<test dir>-m`` and ``-n``).
    """
    with DFC(Settings.load()) as api:
        api.init()
        api.se_add("M", f"memory://{tmp_path.name}-m")
        api.se_add("N", f"memory://{tmp_path.name}-n")
        yield api
