"""Source choice and the storage elements the engine talks to.

:func:`order_sources` ranks a file's replicas for reading towards a
destination: replicas at the destination's site first, then the others, each
group shuffled so that load spreads; SEs that failed recently
(:class:`SourceHealth`) go last. Replicas marked bad, on SEs banned for
reading or unknown are left out, with the reason.

:class:`SEPool` opens SE clients on demand (on the running event loop) and
closes them at the end.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

from dfc.errors import SENotFound

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from dfc.errors import DFCError
    from dfc.models import Replica, SEInfo
    from dfc.se import StorageElement

__all__ = ["SEPool", "SourceHealth", "order_sources"]


class SourceHealth:
    """SEs that failed as sources recently (a simple circuit breaker).

    Args:
        quarantine: seconds an SE stays at the back of the line after a failure.
        clock: the time source.
    """

    def __init__(self, quarantine: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._quarantine = quarantine
        self._clock = clock
        self._until: dict[str, float] = {}

    def failed(self, se: str, _error: DFCError | None = None) -> None:
        """Record that reading from ``se`` failed (not by bad bytes)."""
        self._until[se] = self._clock() + self._quarantine

    def suspect(self, se: str) -> bool:
        """True while ``se`` is in quarantine."""
        until = self._until.get(se)
        if until is None:
            return False
        if until <= self._clock():
            del self._until[se]
            return False
        return True


def order_sources(
    replicas: Sequence[Replica],
    ses: Mapping[str, SEInfo],
    dest_site: str | None,
    *,
    only: str | None = None,
    health: SourceHealth | None = None,
    rand: random.Random | None = None,
    shuffle: bool = True,
) -> tuple[list[Replica], dict[str, str]]:
    """Order ``replicas`` for copying to a destination at ``dest_site``.

    ``shuffle=False`` orders each group by SE name instead (a stable plan).

    Returns:
        The usable replicas in the order to try, and the others (SE -> reason).
    """
    mix = (rand or random).shuffle
    groups: tuple[list[Replica], list[Replica], list[Replica]] = ([], [], [])
    skipped: dict[str, str] = {}
    for rep in replicas:
        if only is not None and rep.se != only:
            continue
        info = ses.get(rep.se)
        if info is None:
            skipped[rep.se] = "unknown storage element"
        elif not info.read:
            skipped[rep.se] = f"storage element {rep.se} is banned for reading"
        elif rep.status != "good":
            skipped[rep.se] = f"replica marked {rep.status}"
        elif health is not None and health.suspect(rep.se):
            groups[2].append(rep)
        elif dest_site and info.site == dest_site:
            groups[0].append(rep)
        else:
            groups[1].append(rep)
    for group in groups:
        if shuffle:
            mix(group)
        else:
            group.sort(key=lambda r: r.se)
    return groups[0] + groups[1] + groups[2], skipped


class SEPool:
    """Storage-element clients opened on demand, for one event loop.

    Args:
        infos: the registered SEs by name.
        options: this machine's per-SE options (``Settings.se_options``).
        opener: builds a client from a record and options (default
            :func:`dfc.se.open_se`); tests wrap it to inject faults.
    """

    def __init__(
        self,
        infos: Mapping[str, SEInfo],
        options: Mapping[str, Mapping[str, Any]] | None = None,
        opener: Callable[[SEInfo, Mapping[str, Any] | None], StorageElement] | None = None,
    ) -> None:
        self.infos: dict[str, SEInfo] = dict(infos)
        self._options = options or {}
        self._opener = opener
        self._open: dict[str, StorageElement] = {}

    def info(self, name: str) -> SEInfo:
        """Return the record of SE ``name``.

        Raises:
            SENotFound: no such SE.
        """
        try:
            return self.infos[name]
        except KeyError:
            raise SENotFound(f"unknown storage element {name!r}") from None

    def update(self, infos: Mapping[str, SEInfo]) -> None:
        """Take new SE records (bans lifted or added); open clients of changed URLs close."""
        self.infos = dict(infos)

    def get(self, name: str) -> StorageElement:
        """Return the client of SE ``name``, opening it on first use.

        Raises:
            SENotFound: no such SE.
            OptionalDependencyMissing: its protocol needs a missing extra.
        """
        se = self._open.get(name)
        if se is None:
            info = self.info(name)
            if self._opener is None:
                from dfc.se import open_se

                se = open_se(info, self._options.get(name))
            else:
                se = self._opener(info, self._options.get(name))
            self._open[name] = se
        return se

    async def aclose(self) -> None:
        """Close every client opened so far."""
        opened, self._open = self._open, {}
        for se in opened.values():
            await se.close()
