"""Which failures are worth another try, and when to try again.

Classification (in the spirit of FTS3's ``retryTransfer`` table and rclone's
``fserrors``):

- An error whose class says ``retryable`` (timeouts, refused or reset
  connections, busy servers, HTTP 429/5xx, EAGAIN: :class:`~dfc.errors.SETransient`,
  :class:`~dfc.errors.CatalogUnavailable`) is retried with exponential backoff,
  up to :attr:`RetryPolicy.retries` times.
- A generic :class:`~dfc.errors.StorageError` is retried when its message
  names a transient condition (``timed out``, ``end of file``, ``connection
  reset``, ...), as FTS3 does for messages it recognises.
- Everything else fails at once: a missing source, permission denied, a
  destination that exists with other content, no space.
- A checksum or size mismatch is a fault of the *source* bytes (or of the path
  between): the copy is deleted and another source tried; the same source is
  re-read at most :attr:`RetryPolicy.checksum_rereads` times. It is never
  retried blindly later.

Backoff: ``delay * factor**(n-1)`` for the n-th retry, capped at ``max_delay``,
with +/- ``jitter`` (a fraction) so that files failed together do not all come
back in the same second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dfc.errors import ChecksumMismatch, DFCError, SizeMismatch, StorageError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["RetryPolicy", "is_corruption", "is_retryable"]

_TRANSIENT_TEXT = (
    "timed out",
    "timeout",
    "end of file",
    "end-of-file",
    "connection reset",
    "connection refused",
    "connection aborted",
    "broken pipe",
    "temporarily unavailable",
    "try again",
    "server busy",
    "name or service not known",
)


def is_corruption(err: DFCError) -> bool:
    """True for a checksum or size mismatch (bad bytes, not a failed operation)."""
    return isinstance(err, ChecksumMismatch | SizeMismatch)


def is_retryable(err: DFCError) -> bool:
    """True when trying the same operation later may succeed."""
    if err.retryable:
        return True
    if type(err) in (StorageError, DFCError):
        text = str(err).lower()
        return any(s in text for s in _TRANSIENT_TEXT)
    return False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how late failed files are tried again.

    Attributes:
        retries: retries after the first try (so ``retries + 1`` tries at most).
        delay: seconds before the first retry.
        factor: growth of the delay per retry.
        max_delay: the longest delay.
        jitter: +/- this fraction of the delay, at random.
        checksum_rereads: times the same source is read again after a mismatch.
    """

    retries: int = 3
    delay: float = 10.0
    factor: float = 2.0
    max_delay: float = 600.0
    jitter: float = 0.1
    checksum_rereads: int = 1

    def backoff(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        base = min(self.max_delay, self.delay * self.factor ** max(0, retry - 1))
        return max(0.0, base * (1 + self.jitter * (2 * rand() - 1)))

    def should_retry(self, err: DFCError, retries_done: int) -> bool:
        """True when ``err`` is transient and retries are left."""
        return is_retryable(err) and retries_done < self.retries
