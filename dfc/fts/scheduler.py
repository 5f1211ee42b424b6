"""Which claimed file starts next: caps, per-link limits, priorities, fair shares.

Files wait per link (first-choice source SE -> destination SE). A file may
start when every limit has room:

- the engine's global cap (``concurrency``);
- the source SE's outbound cap and the destination SE's inbound cap;
- the link's limit, set by the optimizer.

Among links with room, the highest priority waiting wins (FTS3 serves the
highest priority present first); links of equal best priority take turns
(round-robin), and within a link the jobs of that priority take turns too, so
jobs of equal priority share a link file by file, whatever their sizes.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from dfc.fts.config import EngineConfig
    from dfc.fts.job import Task

__all__ = ["Link", "Scheduler"]

#: (source SE, destination SE)
Link = tuple[str, str]


class Scheduler:
    """The in-memory queue of claimed files and the counts of copies in flight.

    Args:
        config: caps and concurrency.
        initial_limit: the first limit of a link never seen before.
    """

    def __init__(self, config: EngineConfig, initial_limit: Callable[[Link], int]) -> None:
        self._config = config
        self._initial = initial_limit
        self._queues: dict[Link, dict[int, OrderedDict[int, deque[Task]]]] = {}
        self._order: deque[Link] = deque()
        self._limits: dict[Link, int] = {}
        self._link_of: dict[int, Link] = {}
        self._waiting: Counter[Link] = Counter()
        self.link_active: Counter[Link] = Counter()
        self._out: Counter[str] = Counter()
        self._in: Counter[str] = Counter()
        self.active = 0
        self.pending = 0

    # ------------------------------------------------------------ limits
    def limit(self, link: Link) -> int:
        """The current concurrency limit of ``link``."""
        value = self._limits.get(link)
        if value is None:
            value = self._limits[link] = self._initial(link)
        return value

    def set_limit(self, link: Link, value: int) -> None:
        """Change the limit of ``link`` (the optimizer's decision)."""
        self._limits[link] = max(1, value)

    def links(self) -> list[Link]:
        """Every link seen so far."""
        return list(self._limits)

    def waiting(self, link: Link) -> int:
        """Files queued for ``link``."""
        return self._waiting[link]

    # ------------------------------------------------------------ queue
    def add(self, task: Task) -> None:
        """Queue ``task`` (its ``sources`` must not be empty) on its first source's link."""
        link = (task.sources[0].se, task.dest)
        self.limit(link)
        by_prio = self._queues.get(link)
        if by_prio is None:
            by_prio = self._queues[link] = {}
            self._order.append(link)
        jobs = by_prio.setdefault(task.priority, OrderedDict())
        jobs.setdefault(task.job_id, deque()).append(task)
        self._link_of[task.id] = link
        self._waiting[link] += 1
        self.pending += 1

    def _room(self, link: Link) -> bool:
        src, dst = link
        return (
            self.link_active[link] < self.limit(link)
            and self._out[src] < self._config.outbound_cap(src)
            and self._in[dst] < self._config.inbound_cap(dst)
        )

    def pop(self) -> Task | None:
        """Take the next file to start, or None when nothing may start now."""
        if self.active >= self._config.concurrency or not self.pending:
            return None
        best: int | None = None
        chosen: Link | None = None
        for link in self._order:
            by_prio = self._queues.get(link)
            if not by_prio or not self._room(link):
                continue
            top = max(by_prio)
            if best is None or top > best:
                best, chosen = top, link
        if chosen is None or best is None:
            return None
        # Round-robin: the chosen link goes to the back of the line.
        self._order.remove(chosen)
        self._order.append(chosen)
        by_prio = self._queues[chosen]
        jobs = by_prio[best]
        job_id, tasks = next(iter(jobs.items()))
        task = tasks.popleft()
        jobs.move_to_end(job_id)
        if not tasks:
            del jobs[job_id]
        if not jobs:
            del by_prio[best]
        if not by_prio:
            del self._queues[chosen]
            self._order.remove(chosen)
        self._waiting[chosen] -= 1
        self.pending -= 1
        self._start(chosen)
        return task

    def _start(self, link: Link) -> None:
        self.link_active[link] += 1
        self._out[link[0]] += 1
        self._in[link[1]] += 1
        self.active += 1

    def done(self, task: Task) -> None:
        """A started ``task`` ended: free its slots."""
        link = self._link_of.pop(task.id)
        self.link_active[link] -= 1
        self._out[link[0]] -= 1
        self._in[link[1]] -= 1
        self.active -= 1

    def remove(self, keep: Callable[[Task], bool]) -> list[Task]:
        """Take out every queued task for which ``keep`` is false, and return them."""
        out: list[Task] = []
        for link in list(self._queues):
            by_prio = self._queues[link]
            for prio in list(by_prio):
                jobs = by_prio[prio]
                for job_id in list(jobs):
                    kept = deque(t for t in jobs[job_id] if keep(t))
                    out.extend(t for t in jobs[job_id] if not keep(t))
                    if kept:
                        jobs[job_id] = kept
                    else:
                        del jobs[job_id]
                if not jobs:
                    del by_prio[prio]
            if not by_prio:
                del self._queues[link]
                self._order.remove(link)
        for task in out:
            link = self._link_of.pop(task.id)
            self._waiting[link] -= 1
            self.pending -= 1
        return out

    def queued(self) -> Iterable[Task]:
        """Every queued (not started) task."""
        for by_prio in self._queues.values():
            for jobs in by_prio.values():
                for tasks in jobs.values():
                    yield from tasks
