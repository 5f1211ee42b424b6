"""The XRootD client's process-wide settings: dfc's defaults, the user's XRD_* variables first."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = """
from XRootD.client import env
from dfc.se import _xrd
_xrd.configure_client()
print(*(env.EnvGetInt(k) for k in ("WorkerThreads", "ConnectionRetry", "StreamErrorWindow")))
"""


def _settings(**env: str) -> list[int]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("XRD_")}
    run = subprocess.run(
        [sys.executable, "-c", CODE],
        env={**environ, **env},
        check=True,
        capture_output=True,
        text=True,
    )
    return [int(v) for v in run.stdout.split()]


def test_dfc_defaults_apply() -> None:
    # One callback thread: dfc's callbacks are Python code, serialised by the GIL anyway.
    assert _settings() == [1, 1, 0]


def test_the_users_variables_win() -> None:
    assert _settings(XRD_WORKERTHREADS="4", XRD_CONNECTIONRETRY="7") == [4, 7, 0]
