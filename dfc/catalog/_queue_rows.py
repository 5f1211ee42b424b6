"""Rows of the transfer queue as values: jobs, files, attempts, claims, agents, links.

Part of :mod:`dfc.catalog.queue` (which re-exports everything here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "FINAL_JOB_STATES",
    "AgentRow",
    "AttemptRecord",
    "ClaimRow",
    "JobCounts",
    "LinkRow",
    "Settlement",
    "TransferAttempt",
    "TransferFile",
    "TransferJob",
    "derive_job_state",
    "file_from_row",
    "job_from_row",
]

#: The final states of a job.
FINAL_JOB_STATES = ("FINISHED", "FINISHEDDIRTY", "FAILED", "CANCELED")


@dataclass(frozen=True, slots=True)
class JobCounts:
    """How many files of a job are in each state, and bytes.

    Attributes:
        files: every file of the job.
        submitted: waiting (including those waiting for a retry).
        active: claimed by an agent.
        finished: copied and registered, or already there (``skipped``).
        failed: given up.
        canceled: canceled by the operator.
        skipped: finished without a copy: the destination had a replica.
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


def derive_job_state(counts: JobCounts, *, canceled: bool = False) -> str:
    """Derive a job's state from its file counts (FTS3 rules).

    While files wait or are active the job is SUBMITTED until one of them
    started or ended, then ACTIVE. Once every file is final: all finished is
    FINISHED; a job the operator canceled is CANCELED; some finished is
    FINISHEDDIRTY; none finished is FAILED if any failed, else CANCELED.
    """
    if counts.submitted or counts.active:
        done = counts.finished + counts.failed + counts.canceled
        return "ACTIVE" if counts.active or done else "SUBMITTED"
    if counts.files and counts.finished == counts.files:
        return "FINISHED"
    if canceled:
        return "CANCELED"
    if counts.finished:
        return "FINISHEDDIRTY"
    if counts.failed:
        return "FAILED"
    return "CANCELED" if counts.canceled else "FINISHED"


@dataclass(frozen=True, slots=True)
class TransferJob:
    """A transfer job.

    Attributes:
        id: the job id.
        state: SUBMITTED, ACTIVE, FINISHED, FINISHEDDIRTY, FAILED or CANCELED.
        priority: 1 (lowest) to 5 (highest).
        owner: who submitted it.
        group: the submitter's group.
        created: submission time (seconds since the epoch).
        updated: last change of any of its files.
        finished: when it became final (None while it is not).
        source: the only source SE to read from, if one was named.
        description: what was submitted, for listings.
        canceled: the operator canceled it.
        counts: files per state and bytes.
        retries: its own retry limit (None: the agent's).
    """

    id: int
    state: str
    priority: int
    owner: str
    group: str
    created: float
    updated: float
    finished: float | None
    source: str | None
    description: str
    canceled: bool
    counts: JobCounts
    retries: int | None = None

    @property
    def final(self) -> bool:
        """The job is FINISHED, FINISHEDDIRTY, FAILED or CANCELED."""
        return self.state in FINAL_JOB_STATES


@dataclass(frozen=True, slots=True)
class TransferAttempt:
    """One failed try of a file, or a source abandoned for another one.

    Attributes:
        attempt: the try number.
        source: the source SE used (None when the try failed before reading).
        state: FAILED (the try ended) or NOT_USED (another source followed).
        error: what went wrong.
        kind: the error class (``ChecksumMismatch``, ``SEUnavailable``, ...).
        time: when (seconds since the epoch).
        agent: the agent that made the try.
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
    """One (LFN, destination SE) pair of a job.

    Attributes:
        id: the file id (unique over all jobs).
        job_id: its job.
        lfn: the file.
        dest: the destination SE.
        state: SUBMITTED, ACTIVE, FINISHED, FAILED or CANCELED.
        size: bytes, from the catalogue at submission.
        source: the SE the bytes came from (finished) or that was last tried.
        attempt: tries started.
        retries: failed tries that were retried.
        error: the last error, if any.
        error_kind: its class.
        skipped: finished without a copy (the destination had a replica).
        started: start of the current or last try.
        finished: when it became final.
        retry_at: earliest next try while waiting for a retry.
        agent: the agent holding it while ACTIVE.
        attempts: the failed tries, oldest first (when asked for).
    """

    id: int
    job_id: int
    lfn: str
    dest: str
    state: str
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
    attempts: tuple[TransferAttempt, ...] = ()


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """A file an agent just claimed (now ACTIVE and held by it)."""

    id: int
    job_id: int
    lfn: str
    dest: str
    size: int
    attempt: int
    retries: int
    priority: int
    source: str | None
    job_retries: int | None
    recovered: bool = False


@dataclass(frozen=True, slots=True)
class AgentRow:
    """A transfer agent and its heartbeat."""

    id: int
    host: str
    pid: int
    started: float
    beat: float
    state: str


@dataclass(frozen=True, slots=True)
class LinkRow:
    """Per (source, destination) figures of a job, and the link's current limit."""

    source: str | None
    dest: str
    submitted: int = 0
    active: int = 0
    finished: int = 0
    failed: int = 0
    bytes_done: int = 0
    recent_bytes: int = 0
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """A failed try to store: (source, NOT_USED or FAILED, message, error class)."""

    source: str | None
    state: str
    error: str
    kind: str


@dataclass(slots=True)
class Settlement:
    """How one ACTIVE file ends its try.

    Attributes:
        file_id: the file.
        job_id: its job.
        size: its size (for the job's byte counter).
        state: FINISHED, FAILED, or SUBMITTED (try again at ``retry_at``).
        source: the source SE used or last tried.
        skipped: finished without a copy.
        error: the error that ended the try (FAILED or SUBMITTED).
        kind: its class.
        retry_at: earliest next try (SUBMITTED).
        count_retry: SUBMITTED counts as a retry (not for an agent shutting down).
        attempts: failed tries to record.
        attempt: the try number.
    """

    file_id: int
    job_id: int
    size: int
    state: str
    source: str | None = None
    skipped: bool = False
    error: str | None = None
    kind: str | None = None
    retry_at: float = 0.0
    count_retry: bool = True
    attempts: Sequence[AttemptRecord] = field(default_factory=tuple)
    attempt: int = 0


def job_from_row(r: Any) -> TransferJob:
    """Build a :class:`TransferJob` from a row of ``fts_jobs`` (queue column order)."""
    return TransferJob(
        id=int(r[0]),
        state=r[1],
        priority=int(r[2]),
        owner=r[3],
        group=r[4],
        created=float(r[5]),
        updated=float(r[6]),
        finished=None if r[7] is None else float(r[7]),
        source=r[8],
        description=r[9],
        canceled=bool(r[10]),
        counts=JobCounts(*(int(x) for x in r[11:20])),
        retries=None if r[20] is None else int(r[20]),
    )


def file_from_row(r: Any) -> TransferFile:
    """Build a :class:`TransferFile` from a row of ``fts_files`` (queue column order)."""
    return TransferFile(
        id=int(r[0]),
        job_id=int(r[1]),
        lfn=r[2],
        dest=r[3],
        state=r[4],
        size=int(r[5]),
        source=r[6],
        attempt=int(r[7]),
        retries=int(r[8]),
        error=r[9],
        error_kind=r[10],
        skipped=bool(r[11]),
        started=None if r[12] is None else float(r[12]),
        finished=None if r[13] is None else float(r[13]),
        retry_at=float(r[14]) if r[4] == "SUBMITTED" and r[14] else None,
        agent=None if r[15] is None else int(r[15]),
    )
