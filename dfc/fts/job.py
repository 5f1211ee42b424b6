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
CANCELED.
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

__all__ = [
    "FINAL_FILE_STATES",
    "FINAL_JOB_STATES",
    "AgentBusy",
    "AgentLost",
    "AttemptInfo",
    "FileState",
    "JobCounts",
    "JobInfo",
    "JobState",
    "LinkPlan",
    "LinkStats",
    "SubmitResult",
    "TransferFile",
    "TransferPlan",
    "error_from",
    "job_state",
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
class JobCounts:
    """How many files of a job are in each state, and bytes.

    Attributes:
        files: every file of the job.
        submitted: waiting (including those waiting for a retry).
        active: claimed by an agent.
        finished: copied and registered (or already there: ``skipped``).
        failed: given up.
        canceled: canceled by the operator.
        skipped: finished without a copy: the destination had a replica already.
        bytes_total: the size of all files.
        bytes_done: the size of the finished files that were copied.
    """

    files: int = 0
    submitted: int = 0
    active: int = 0
    finished: int = 0
    failed: int = 0
    canceled: int = 0
    skipped: int = 0
    bytes_total: int = 0
    bytes_done: int = 0


def job_state(counts: JobCounts, *, canceled: bool = False) -> JobState:
    """Derive a job's state from its file counts (FTS3 rules).

    A job with files still waiting or active is SUBMITTED until one of them
    started or ended, then ACTIVE. Once every file is final: all finished is
    FINISHED; some finished is FINISHEDDIRTY (CANCELED if the operator canceled
    the job); none finished is FAILED if any failed, else CANCELED.
    """
    if counts.submitted or counts.active:
        done = counts.finished + counts.failed + counts.canceled
        return JobState.ACTIVE if counts.active or done else JobState.SUBMITTED
    if counts.files and counts.finished == counts.files:
        return JobState.FINISHED
    if canceled:
        return JobState.CANCELED
    if counts.finished:
        return JobState.FINISHEDDIRTY
    if counts.failed:
        return JobState.FAILED
    return JobState.CANCELED if counts.canceled else JobState.FINISHED


@dataclass(frozen=True, slots=True)
class JobInfo:
    """A transfer job as stored in the queue.

    Attributes:
        id: the job id.
        state: derived from the file counts.
        priority: 1 (lowest) to 5 (highest); 3 by default.
        owner: who submitted it.
        created: submission time (seconds since the epoch).
        updated: last change of any of its files.
        finished: when it became final (None while not).
        source: the only source SE to read from, if the submitter named one.
        description: what was submitted (for listings).
        counts: files per state and bytes.
        canceled: the operator canceled it.
    """

    id: int
    state: JobState
    priority: int
    owner: str
    created: float
    updated: float
    finished: float | None
    source: str | None
    description: str
    counts: JobCounts
    canceled: bool = False


@dataclass(frozen=True, slots=True)
class AttemptInfo:
    """One failed try of a file: its source, error and when.

    ``state`` is FAILED for an attempt that ended the try (the file was retried
    later or failed) and NOT_USED for a source abandoned for another one.
    """

    attempt: int
    source: str | None
    state: str
    error: str
    kind: str
    time: float
    agent: int | None = None


@dataclass(frozen=True, slots=True)
class TransferFile:
    """One (LFN, destination) pair of a job.

    Attributes:
        id: the file id (unique over all jobs).
        job_id: its job.
        lfn: the file.
        dest: destination SE.
        state: its state.
        size: bytes (from the catalogue at submission).
        source: the SE the bytes came from (when finished) or last tried.
        attempt: tries started so far.
        retries: failed tries that were retried.
        error: the last error (``kind: message``), if any.
        error_kind: the class of the last error (``ChecksumMismatch`` ...).
        skipped: finished without copying: the destination had it already.
        started: start time of the current or last try.
        finished: end time, for final states.
        retry_at: earliest time of the next try, while waiting.
        agent: the agent holding it while ACTIVE.
        attempts: the failed tries, oldest first (filled by ``files(...)``).
    """

    id: int
    job_id: int
    lfn: str
    dest: str
    state: FileState
    size: int
    source: str | None = None
    attempt: int = 0
    retries: int = 0
    error: str | None = None
    error_kind: str | None = None
    skipped: bool = False
    started: float | None = None
    finished: float | None = None
    retry_at: float | None = None
    agent: int | None = None
    attempts: tuple[AttemptInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class LinkStats:
    """Per (source SE, destination SE) figures of a job.

    Attributes:
        source: source SE (``None`` for files not started yet).
        dest: destination SE.
        submitted, active, finished, failed: file counts.
        bytes_done: bytes of finished copies.
        rate: bytes/s over the last minute of finished copies.
        concurrency: the optimizer's current limit for the link, if known.
    """

    source: str | None
    dest: str
    submitted: int = 0
    active: int = 0
    finished: int = 0
    failed: int = 0
    bytes_done: int = 0
    rate: float = 0.0
    concurrency: int | None = None


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
        no_source: LFN -> why no replica can be read.
        failed: names that cannot be submitted (missing, directory without -r).
    """

    links: list[LinkPlan] = field(default_factory=list)
    skipped: int = 0
    skipped_bytes: int = 0
    no_source: dict[str, str] = field(default_factory=dict)
    failed: dict[str, DFCError] = field(default_factory=dict)

    @property
    def files(self) -> int:
        """Files to copy."""
        return sum(link.files for link in self.links)

    @property
    def bytes(self) -> int:
        """Bytes to copy."""
        return sum(link.bytes for link in self.links)


@dataclass(slots=True)
class SubmitResult:
    """The job created by a submission (None if no file could be queued), and rejects.

    Attributes:
        job: the new job.
        failed: names that were not queued, with the reason.
    """

    job: JobInfo | None
    failed: dict[str, DFCError] = field(default_factory=dict)


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
