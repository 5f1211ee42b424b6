"""Replica choice: the user's site first, then the others, each group shuffled.

Bad replicas and SEs banned for reading are left out, with the reason.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dfc.models import Replica, SEInfo

__all__ = ["order_replicas"]


def order_replicas(
    replicas: Sequence[Replica],
    ses: Mapping[str, SEInfo],
    site: str | None,
    *,
    only: str | None = None,
) -> tuple[list[Replica], dict[str, str]]:
    """Order ``replicas`` for reading.

    Args:
        replicas: the file's replicas.
        ses: every known SE by name.
        site: the preferred site (the user's, or the destination's).
        only: use only the replica at this SE.

    Returns:
        The usable replicas in the order to try, and the skipped ones (SE -> reason).
    """
    local: list[Replica] = []
    remote: list[Replica] = []
    skipped: dict[str, str] = {}
    for rep in replicas:
        info = ses.get(rep.se)
        if only is not None and rep.se != only:
            continue
        if info is None:
            skipped[rep.se] = "unknown storage element"
        elif not info.read:
            skipped[rep.se] = f"storage element {rep.se} is banned for reading"
        elif rep.status != "good":
            skipped[rep.se] = f"replica marked {rep.status}"
        elif site and info.site == site:
            local.append(rep)
        else:
            remote.append(rep)
    random.shuffle(local)
    random.shuffle(remote)
    return local + remote, skipped
