"""Errors of wms_bridge: :class:`dfc.DFCError` subclasses with an errno.

Tree::

    DFCError (from dfc)
    ├── TaskFileError (EINVAL): a task file is malformed; the message names the
    │                           file, the line and the field
    ├── JobConfigError (EINVAL): a [jobs] setting or DFC_JOB_* variable is invalid
    ├── TaskNotFound (ENOENT): no task with this id or name
    ├── JobNotFound (ENOENT): no job with this index in the task
    ├── StagingError (EIO): an input or output could not be staged
    └── BackendError (EIO): the batch system refused or failed a command
        └── BackendUnavailable (EAGAIN, retryable): it cannot be reached
"""

from __future__ import annotations

import errno as _errno
from typing import ClassVar

from dfc import DFCError

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "JobConfigError",
    "JobNotFound",
    "StagingError",
    "TaskFileError",
    "TaskNotFound",
]


class TaskFileError(DFCError, ValueError):
    """A task file cannot be read or is invalid; the message names the line and field."""

    errno = _errno.EINVAL


class JobConfigError(DFCError, ValueError):
    """A ``[jobs]`` setting or a ``DFC_JOB_*`` variable is invalid."""

    errno = _errno.EINVAL


class TaskNotFound(DFCError, LookupError):
    """No task has this id or name."""

    errno = _errno.ENOENT


class JobNotFound(DFCError, LookupError):
    """The task has no job with this index."""

    errno = _errno.ENOENT


class StagingError(DFCError):
    """A file could not be staged in or out.

    ``errno`` may be given to carry the errno of the underlying failure.
    """

    def __init__(self, message: str = "", *, errno: int | None = None) -> None:
        super().__init__(message)
        if errno is not None:
            self.errno = errno


class BackendError(DFCError):
    """The batch system refused or failed a command."""


class BackendUnavailable(BackendError):
    """The batch system cannot be reached: try again later."""

    errno = _errno.EAGAIN
    retryable: ClassVar[bool] = True
