"""``dfc`` in a subprocess, with test instrumentation of the same-host copy step.

Environment:
    DFC_TEST_COPY_DELAY: seconds to sleep after each temporary file is written
        (so that a kill finds copies half done);
    DFC_TEST_COPY_LOG: a file that gets one line ``<pid> <final path>`` per
        completed copy (appends of one short line are atomic).
"""

from __future__ import annotations

import os
import sys
import time

from dfc.fts import copy as _copy
from dfc.fts import localcopy as _localcopy

_delay = float(os.environ.get("DFC_TEST_COPY_DELAY", "0"))
_log = os.environ.get("DFC_TEST_COPY_LOG")
_pump = _localcopy._pump
_copy_local = _localcopy.copy_local


def _slow_pump(*args, **kwargs):
    n = _pump(*args, **kwargs)
    time.sleep(_delay)
    return n


def _logged_copy(src, tmp, final, **kwargs):
    n = _copy_local(src, tmp, final, **kwargs)
    if _log:
        fd = os.open(_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{os.getpid()} {final}\n".encode())
        finally:
            os.close(fd)
    return n


_localcopy._pump = _slow_pump
_copy.copy_local = _logged_copy  # type: ignore[attr-defined]

if __name__ == "__main__":
    from dfc.cli import main

    main(sys.argv[1:])
