"""Per-link concurrency: an FTS3-style optimizer that finds the knee of a link.

Every ``interval`` seconds the engine hands each busy link (source SE ->
destination SE) a :class:`LinkSample`: bytes moved in the interval (counted as
they stream, so a large file in flight counts), copies that succeeded, copies
that failed with a *retryable* error (non-retryable failures say nothing about
the link, as in FTS3), files waiting for the link and copies in flight.
:meth:`LinkOptimizer.update` then returns the link's new concurrency limit.

The algorithm, after FTS3's ``OptimizerConnections`` (TRANSFERS.md §1.5):

1. ``ema = alpha * throughput + (1 - alpha) * ema`` over intervals that moved
   bytes (reported with each decision, as FTS3 stores it).
2. The first limit is ``max`` when the link is configured explicitly, else
   ``min + (max - min) // 2``; ``min == max`` pins the link.
3. Success rate below 97% (FTS3 ``LowSuccessRate``): step down by 1, unless
   it is improving (above the previous rate, at least 96%, failures not
   growing): hold.
4. No bytes moved, or no file waiting beyond those in flight: hold (more
   connections cannot help an emptying queue).
5. Otherwise judge the last move by the throughput it brought, against what
   a link that is *not* saturated would give (``moved / previous limit`` in
   relative terms): the move paid if it changed throughput by at least
   ``gain`` (half) of that.

   - after an increase that paid: step up again by ``step``; one that did not
     pay: undo it and hold ``steady`` intervals (the knee is found);
   - after a decrease that cost throughput: undo it and hold ``steady``
     intervals; one that cost nothing: step down again (free connections);
   - after a hold: probe by one step, up or, after an increase that did not
     pay (or at ``max``), down.

The limit is clamped to ``[min, max]``. FTS3 increases while throughput does
not fall and so climbs to ``max`` on a link that saturates; judging each move
by its marginal gain makes such a link settle at its knee, probing one
connection either side every ``steady + 2`` intervals. Every decision carries a
human-readable ``reason``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BASE_SUCCESS_RATE", "LOW_SUCCESS_RATE", "Decision", "LinkOptimizer", "LinkSample"]

#: Below this success rate (%) the link steps down (FTS3 ``LowSuccessRate``).
LOW_SUCCESS_RATE = 97.0
#: An improving rate at least this high holds instead (FTS3 ``BaseSuccessRate``).
BASE_SUCCESS_RATE = 96.0


@dataclass(frozen=True, slots=True)
class LinkSample:
    """What one link did during one optimizer interval.

    Attributes:
        throughput: bytes per second moved over the link.
        successes: copies that finished.
        failures: copies that failed with a retryable error.
        queued: files waiting for the link (not yet started).
        active: copies in flight at the end of the interval.
    """

    throughput: float
    successes: int = 0
    failures: int = 0
    queued: int = 0
    active: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    """A new concurrency limit and why."""

    limit: int
    reason: str
    ema: float
    success_rate: float


class LinkOptimizer:
    """The concurrency controller of one link.

    Args:
        min_active: the lowest limit (at least 1).
        max_active: the highest limit.
        configured: the link has an explicit configuration (start at max).
        alpha: EMA weight of the newest throughput sample.
        gain: the fraction of a proportional change that makes a move pay.
        step: increase per decision (FTS3: 1 conservative, 2 aggressive).
        steady: intervals to hold after the knee is found.

    Raises:
        ValueError: the bounds or parameters are inconsistent.
    """

    def __init__(
        self,
        min_active: int,
        max_active: int,
        *,
        configured: bool = False,
        alpha: float = 0.5,
        gain: float = 0.5,
        step: int = 1,
        steady: int = 6,
    ) -> None:
        if min_active < 1 or max_active < min_active:
            raise ValueError(f"invalid link bounds [{min_active}, {max_active}]")
        if not 0 < alpha <= 1 or gain < 0 or step < 1 or steady < 0:
            raise ValueError("invalid optimizer parameters")
        self.min = min_active
        self.max = max_active
        self.alpha = alpha
        self.gain = gain
        self.step = step
        self.steady_intervals = steady
        self.limit = max_active if configured else min_active + (max_active - min_active) // 2
        self.ema: float | None = None
        self._prev_rate = 100.0
        self._prev_failures = 0
        self._last_move = 0
        self._moved_from = self.limit
        self._prev_sample: float | None = None
        self._steady = 0
        self._probe = 1

    def set_bounds(self, min_active: int, max_active: int) -> None:
        """Change the bounds (SE limits changed); the limit is clamped into them.

        Raises:
            ValueError: the bounds are inconsistent.
        """
        if min_active < 1 or max_active < min_active:
            raise ValueError(f"invalid link bounds [{min_active}, {max_active}]")
        self.min, self.max = min_active, max_active
        self.limit = self._clamp(self.limit)

    def _clamp(self, value: int) -> int:
        return max(self.min, min(self.max, value))

    def update(self, sample: LinkSample) -> Decision:
        """Take one interval's figures and return the new limit."""
        if sample.throughput > 0:
            self.ema = (
                sample.throughput
                if self.ema is None
                else self.alpha * sample.throughput + (1 - self.alpha) * self.ema
            )
        done = sample.successes + sample.failures
        rate = 100.0 * sample.successes / done if done else 100.0
        move, reason = self._decide(sample, rate)
        new = self._clamp(self.limit + move)
        if new != self.limit:
            self._last_move = 1 if new > self.limit else -1
        else:
            # A hold (or a move stopped by a bound) starts the probing afresh.
            self._last_move = 0
        self._moved_from = self.limit
        self.limit = new
        if done:
            self._prev_rate = rate
            self._prev_failures = sample.failures
        if sample.throughput > 0:
            self._prev_sample = sample.throughput
        return Decision(new, reason, self.ema or 0.0, rate)

    def _decide(self, sample: LinkSample, rate: float) -> tuple[int, str]:
        if self.min == self.max:
            return 0, "fixed: min == max"
        if rate < LOW_SUCCESS_RATE:
            improving = (
                rate > self._prev_rate
                and rate >= BASE_SUCCESS_RATE
                and sample.failures <= self._prev_failures
            )
            if improving:
                return 0, f"success rate {rate:.0f}% low but improving: hold"
            return -1, f"success rate {rate:.0f}% < {LOW_SUCCESS_RATE:.0f}%: step down"
        if sample.throughput <= 0:
            return 0, "no throughput information: hold"
        if sample.queued <= 0:
            return 0, "no file waiting: hold"
        if self._steady > 0:
            self._steady -= 1
            return 0, "steady at the knee: hold"
        if self._prev_sample is None or self._last_move == 0:
            if self.limit >= self.max:
                self._probe = -1
            elif self.limit <= self.min:
                self._probe = 1
            if self._probe > 0:
                return self.step, "probe up"
            return -1, "probe down"
        change = (sample.throughput - self._prev_sample) / self._prev_sample
        # What one connection more or less would change on a link that is not
        # saturated: the move paid if it changed throughput by ``gain`` of that.
        expected = abs(self.limit - self._moved_from) / max(1, self._moved_from)
        if self._last_move > 0:
            if change >= self.gain * expected:
                return self.step, f"throughput {change:+.0%} after an increase: step up"
            self._steady = self.steady_intervals
            self._probe = -1
            back = self._moved_from - self.limit
            return back, f"throughput {change:+.0%} after an increase: back down, knee found"
        if change <= -self.gain * expected:
            self._steady = self.steady_intervals
            self._probe = 1
            return 1, f"throughput {change:+.0%} after a decrease: back up, knee found"
        return -1, f"throughput {change:+.0%} after a decrease: step down"
