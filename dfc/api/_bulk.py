"""Helpers of the bulk calls: names checked at the edge, results in the caller's order."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, TypeVar

from dfc import lfn as lfnmod
from dfc.errors import DFCError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dfc.models import BulkResult

__all__ = ["reorder", "validate_all"]

T = TypeVar("T")


# The common case of a valid LFN, checked in one step: ASCII, components of 1 to 255
# characters without "/" or control characters, none "." or "..". Anything else goes
# through dfc.lfn.validate, which says what is wrong.
_PLAIN_LFN = re.compile(r"(?:/(?!\.\.?(?:/|\Z))[^/\x00-\x1f\x7f]{1,255})+\Z").match


def validate_all(names: Iterable[object], result: BulkResult[T]) -> list[str]:
    """Return the valid LFNs among ``names``; each invalid one fails in ``result``."""
    valid: list[str] = []
    for name in names:
        if type(name) is str and len(name) <= 4096 and name.isascii() and _PLAIN_LFN(name):
            valid.append(name)
            continue
        try:
            valid.append(lfnmod.validate(name))  # type: ignore[arg-type]
        except DFCError as exc:
            result.failed[str(name)] = exc
    return valid


def reorder(result: BulkResult[T], keys: Iterable[object]) -> None:
    """Put the items of ``result`` in the order of ``keys`` (the caller's), in place.

    Items that ``keys`` does not name follow, in their present order.
    """
    rank: dict[str, int] = {}
    for i, key in enumerate(keys):
        rank.setdefault(str(key), i)
    last = len(rank)
    result.succeeded = dict(sorted(result.succeeded.items(), key=lambda kv: rank.get(kv[0], last)))
    result.failed = dict(sorted(result.failed.items(), key=lambda kv: rank.get(kv[0], last)))
