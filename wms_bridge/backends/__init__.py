"""Batch-system backends: where the jobs of a task run.

A backend submits jobs (whose specs are already written), reports its own view
of them and cancels them; the job database and the jobs' own reports are kept
by :mod:`wms_bridge.control`. Backends: ``local`` (a detached runner with a
bounded process pool on this host) and ``slurm``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from wms_bridge.errors import TaskFileError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from wms_bridge.config import JobSettings
    from wms_bridge.db import JobRow, TaskRow
    from wms_bridge.reconcile import BackendView

__all__ = ["Backend", "get_backend", "python_path", "wrapper_command"]


class Backend(Protocol):
    """What the controller needs from a batch system."""

    name: str

    def submit(self, task: TaskRow, jobs: Sequence[JobRow]) -> dict[int, str]:
        """Hand queued ``jobs`` (specs written) to the batch system.

        Returns:
            Job index -> the backend's id of the job, for the ids known now.

        Raises:
            BackendError: the batch system refused the jobs.
        """
        ...

    def poll(self, task: TaskRow, jobs: Sequence[JobRow]) -> Mapping[int, BackendView]:
        """The batch system's view of active ``jobs``, by job index.

        Raises:
            BackendError: the batch system cannot be asked.
        """
        ...

    def cancel(self, task: TaskRow, jobs: Sequence[JobRow]) -> None:
        """Stop ``jobs`` (queued or running); those already gone are fine.

        Raises:
            BackendError: the batch system refused.
        """
        ...


def get_backend(name: str, settings: JobSettings) -> Backend:
    """The backend called ``name``.

    Raises:
        TaskFileError: no such backend.
    """
    if name == "local":
        from wms_bridge.backends.local import LocalBackend

        return LocalBackend(settings)
    if name == "slurm":
        from wms_bridge.backends.slurm import SlurmBackend

        return SlurmBackend(settings)
    raise TaskFileError(f"unknown backend {name!r}: use local or slurm")


def python_path() -> str:
    """``PYTHONPATH`` for child processes: where ``wms_bridge`` and ``dfc`` are imported from.

    Jobs and the runner must run the very code that submitted them, whether it
    is installed or a source checkout.
    """
    import dfc
    import wms_bridge

    roots: list[str] = []
    for module in (wms_bridge, dfc):
        root = str(Path(module.__file__ or ".").resolve().parent.parent)
        if root not in roots:
            roots.append(root)
    return ":".join(roots)


def wrapper_command(spec: Path) -> list[str]:
    """The command line of the job wrapper for the job spec at ``spec``."""
    return [sys.executable, "-m", "wms_bridge.wrapper", str(spec)]
