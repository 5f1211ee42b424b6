"""Transfer jobs and files: their states and the values the engine reports.

A *job* is a set of (LFN, destination SE) pairs submitted together; each pair is
a *file*. File states follow FTS3::

    SUBMITTED ──claim──► ACTIVE ──► FINISHED
        ▲                  │   ├──► FAILED   (not retryable, or out of retries)
        └── retry later ───┘   └──► CANCELED (by the operator)

``NOT_USED`` marks a source replica tried for a file and abandoned for another
one (it appears in the file's attempts, never as a file state). Final states
(FINISHED, FAILED, CANCELED) change only by an explicit retry (FAILED ->
SUBMITTED). The job state is derived from its files' counts
(:func:`job_state`): SUBMITTED (nothing started), ACTIVE, FINISHED (all
finished), FINISHEDDIRTY (some finished, some failed or canceled), FAILED,
CANCELED; the queue (:mod:`dfc.catalog.queue`) derives and stores it.

:class:`Task` is a claimed file as the engine holds it in memory and
:class:`Outcome` how its try ended.
"""

from __future__ import annotations

import errno as _errno
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from dfc import errors as _errors
from dfc.errors import DFCError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dfc.models import Entry, Replica

__all__ = [
    "FINAL_FILE_STATES",
    "FINAL_JOB_STATES",
    "AgentBusy",
    "AgentLost",
    "FailedTry",
    "FileState",
    "JobState",
    "LinkPlan",
    "Outcome",
    "Task",
    "TransferPlan",
    "error_from",
]


class FileState(StrEnum):
    """The state of one (LFN, destination) pair."""

    SUBMITTED = "SUBMITTED"
    ACTIVE = "ACTIVE"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    NOT_USED = "NOT_USED"


class JobState(StrEnum):
    """The state of a job, derived from the states of its files."""

    SUBMITTED = "SUBMITTED"
    ACTIVE = "ACTIVE"
    FINISHED = "FINISHED"
    FINISHEDDIRTY = "FINISHEDDIRTY"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


FINAL_FILE_STATES = frozenset({FileState.FINISHED, FileState.FAILED, FileState.CANCELED})
FINAL_JOB_STATES = frozenset(
    {JobState.FINISHED, JobState.FINISHEDDIRTY, JobState.FAILED, JobState.CANCELED}
)


class AgentBusy(DFCError):
    """Another transfer agent holds the queue (SQLite allows one agent at a time)."""

    errno = _errno.EBUSY


class AgentLost(DFCError):
    """The agent working on a file died or was declared dead; the file was taken over."""

    retryable = True


@dataclass(frozen=True, slots=True)
class LinkPlan:
    """Dry-run figures for one link: files and bytes to copy."""

    source: str
    dest: str
    files: int = 0
    bytes: int = 0


@dataclass(slots=True)
class TransferPlan:
    """What a submission would do (``--dry-run``).

    Attributes:
        links: per preferred (source, destination) link, files and bytes.
        skipped: files already at the destination.
        skipped_bytes: their size.
        no_source: LFN -> why no replica can be read (the first thousand).
        no_source_count: how many files have no usable source.
        failed: names that cannot be submitted (missing, directory without -r).
    """

    links: list[LinkPlan] = field(default_factory=list)
    skipped: int = 0
    skipped_bytes: int = 0
    no_source: dict[str, str] = field(default_factory=dict)
    no_source_count: int = 0
    failed: dict[str, DFCError] = field(default_factory=dict)

    @property
    def files(self) -> int:
        """Files to copy."""
        return sum(link.files for link in self.links)

    @property
    def bytes(self) -> int:
        """Bytes to copy."""
        return sum(link.bytes for link in self.links)


def error_from(
    kind: str | None, message: str, known: Mapping[str, type[DFCError]] | None = None
) -> DFCError:
    """Rebuild the :class:`~dfc.errors.DFCError` of a stored error (class name + message).

    Unknown kinds become a plain :class:`~dfc.errors.DFCError`.
    """
    table = known if known is not None else _KNOWN
    cls = table.get(kind or "", DFCError)
    return cls(message)


def _known_errors() -> dict[str, type[DFCError]]:
    out: dict[str, type[DFCError]] = {"AgentBusy": AgentBusy, "AgentLost": AgentLost}
    for name in _errors.__all__:
        value = getattr(_errors, name)
        if isinstance(value, type) and issubclass(value, DFCError):
            out[name] = value
    return out


_KNOWN = _known_errors()


@dataclass(slots=True)
class Task:
    """A file claimed by this engine: what to copy, where, and from which sources.

    Attributes:
        id: the queue's file id.
        job_id: its job.
        lfn: the file.
        dest: destination SE.
        size: bytes (from the queue; the catalogue entry is authoritative).
        attempt: this try's number (names the temporary file).
        retries: retries done so far.
        priority: the job's priority.
        only_source: the job reads only from this SE.
        max_retries: the job's retry limit (None: the engine's).
        recovered: taken over from a dead agent: leftovers may exist.
        entry: the catalogue entry with replicas (None: the LFN is gone).
        sources: usable source replicas, in the order to try.
        unusable: replicas left out, with the reason (SE -> why).
    """

    id: int
    job_id: int
    lfn: str
    dest: str
    size: int
    attempt: int
    retries: int
    priority: int
    only_source: str | None = None
    max_retries: int | None = None
    recovered: bool = False
    entry: Entry | None = None
    sources: list[Replica] = field(default_factory=list)
    unusable: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FailedTry:
    """A source that failed during a try: NOT_USED if another source or read followed."""

    source: str | None
    state: FileState
    error: DFCError


@dataclass(slots=True)
class Outcome:
    """How the try of a :class:`Task` ended.

    Attributes:
        task: the file.
        state: FINISHED, FAILED, or SUBMITTED (try again at ``retry_at``).
        source: the source used (finished) or last tried.
        path: the destination path to register (finished after a copy).
        skipped: finished without copying (a replica was there already).
        copied: this try wrote the file at ``path`` (not adopted).
        error: what ended a failed try.
        retry_at: earliest next try (SUBMITTED).
        count_retry: SUBMITTED counts against the retry limit.
        tries: failed sources along the way.
    """

    task: Task
    state: FileState
    source: str | None = None
    path: str | None = None
    skipped: bool = False
    copied: bool = False
    error: DFCError | None = None
    retry_at: float = 0.0
    count_retry: bool = True
    tries: list[FailedTry] = field(default_factory=list)
