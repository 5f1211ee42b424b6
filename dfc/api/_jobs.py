"""What the transfer-job operations of :mod:`dfc.api._transfers` return.

Loaded when a job is submitted or its status asked for: generating these
dataclasses would otherwise cost every start of the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dfc.api._transfers import RATE_WINDOW

if TYPE_CHECKING:
    from dfc.catalog.queue import LinkRow, TransferJob
    from dfc.errors import DFCError

__all__ = ["JobStatus", "SubmitResult"]


@dataclass(slots=True)
class SubmitResult:
    """The job a submission created (None if nothing could be queued), and the rejects.

    Attributes:
        job: the new job.
        failed: names that were not queued, with the reason.
    """

    job: TransferJob | None
    failed: dict[str, DFCError] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job with its per-link figures.

    Attributes:
        job: the job and its counters.
        links: per (source, destination): files per state, bytes, rate, limit.
        rate: bytes/s over the last minute (or since the job started).
        eta: seconds to go at that rate (None when unknown or final).
        window: the seconds ``rate`` (and each link's ``recent_bytes``) covers.
    """

    job: TransferJob
    links: tuple[LinkRow, ...] = ()
    rate: float = 0.0
    eta: float | None = None
    window: float = RATE_WINDOW
