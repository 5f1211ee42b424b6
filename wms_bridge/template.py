"""``$(var)`` substitution, as in JSUB task files.

``$(name)`` is replaced by the job's value of ``name``; ``$$`` is a literal
``$``. In an argument list, an argument that is exactly ``$(inputs)`` or
``$(input_lfns)`` (a list variable) becomes one argument per file; elsewhere a
list variable is joined with spaces.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["LIST_VARS", "expand_args", "names", "substitute"]

_VAR = re.compile(r"\$\$|\$\((\w+)\)")

#: Variables whose value is a list of words.
LIST_VARS = frozenset({"inputs", "input_lfns"})


def names(text: str) -> list[str]:
    """The variable names ``text`` refers to, in order."""
    return [m.group(1) for m in _VAR.finditer(text) if m.group(1)]


def substitute(text: str, values: Mapping[str, str | Sequence[str]]) -> str:
    """Replace every ``$(name)`` in ``text``; unknown names are left as they are."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        value = values.get(name)
        if value is None:
            return match.group(0)
        return value if isinstance(value, str) else " ".join(value)

    return _VAR.sub(one, text)


def expand_args(args: Sequence[str], values: Mapping[str, str | Sequence[str]]) -> list[str]:
    """Substitute an argument list, splitting whole-argument list variables."""
    out: list[str] = []
    for arg in args:
        whole = re.fullmatch(r"\$\((\w+)\)", arg)
        value = values.get(whole.group(1)) if whole else None
        if value is not None and not isinstance(value, str):
            out.extend(value)
        else:
            out.append(substitute(arg, values))
    return out
