"""Pytest fixtures for the test PKI; other test packages may use them too.

Use from a conftest with ``from tests.auth.fixtures import pki, trust  # noqa: F401``,
or list ``tests.auth.fixtures`` in the root conftest's ``pytest_plugins``.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

import pytest

from dfc.auth.ca import TrustStore
from tests.auth.pki import TestPKI, build_pki

if TYPE_CHECKING:
    from pathlib import Path

_BUILT: dict[str, TestPKI] = {}


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    """The session's test PKI (built once per session, even if requested from two plugins)."""
    if "pki" not in _BUILT:
        _BUILT["pki"] = build_pki(tmp_path_factory.mktemp("pki"))
    return _BUILT["pki"]


@pytest.fixture(scope="session")
def trust(pki: TestPKI) -> TrustStore:
    """The PKI's CA directory, loaded."""
    return TrustStore.from_dir(pki.ca_dir)


def need_tool(name: str) -> str:
    """The path of a command-line tool; skip without it, or fail under ``CI=true``.

    ``scripts/install-auth-deps`` installs every tool the auth tests use.
    """
    path = shutil.which(name)
    if path is None:
        reason = f"{name} not installed (run scripts/install-auth-deps)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def grid_env(pki: TestPKI, **extra: str | Path) -> dict[str, str]:
    """Environment for grid tools pointed at the test PKI."""
    env = dict(os.environ)
    env.update(X509_CERT_DIR=str(pki.ca_dir), X509_VOMS_DIR=str(pki.vomsdir))
    env.update({k: str(v) for k, v in extra.items()})
    return env
