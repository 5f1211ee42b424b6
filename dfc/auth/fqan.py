"""VOMS fully qualified attribute names (FQANs): ``/juno/production/Role=production``.

Syntax: ``/<vo>[/<group>...][/Role=<role>][/Capability=<capability>]``. VOMS servers write
``Role=NULL`` and ``Capability=NULL`` for "none"; :func:`normalize_fqan` drops them, so
``/juno/Role=NULL/Capability=NULL`` and ``/juno`` compare equal. WLCG token groups
(``wlcg.groups``) use the same form without role and capability.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["FQAN", "fqan_groups", "fqan_roles", "normalize_fqan", "parse_fqan"]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, order=True)
class FQAN:
    """A parsed FQAN.

    Attributes:
        group: the group path, starting with the VO (``/juno/production``).
        role: the role name, or None (``Role=NULL``).
        capability: the capability, or None (``Capability=NULL``; deprecated in VOMS).
    """

    group: str
    role: str | None = None
    capability: str | None = None

    @property
    def vo(self) -> str:
        """The VO name: the first component of the group path."""
        return self.group.split("/", 2)[1]

    def __str__(self) -> str:
        text = self.group
        if self.role is not None:
            text += f"/Role={self.role}"
        if self.capability is not None:
            text += f"/Capability={self.capability}"
        return text


def parse_fqan(text: str, *, vo: str | None = None) -> FQAN:
    """Parse an FQAN.

    Args:
        text: e.g. ``/juno/production/Role=production/Capability=NULL``.
        vo: if given, the FQAN must belong to this VO (checked on a whole path component,
            so ``/junoX`` is not in VO ``juno``).

    Returns:
        The parsed FQAN, with ``NULL`` role and capability turned into None.

    Raises:
        ValueError: bad syntax, or outside ``vo``.
    """
    if not text.startswith("/") or text.endswith("/"):
        raise ValueError(f"FQAN must start and not end with '/': {text!r}")
    parts = text[1:].split("/")
    groups: list[str] = []
    role: str | None = None
    capability: str | None = None
    for index, part in enumerate(parts):
        key, sep, value = part.partition("=")
        if not sep:
            if role is not None or capability is not None or not _NAME.match(part):
                raise ValueError(f"bad group name {part!r} in FQAN {text!r}")
            groups.append(part)
        elif key == "Role" and role is None and capability is None and index > 0:
            if not _NAME.match(value):
                raise ValueError(f"bad role {value!r} in FQAN {text!r}")
            role = value
        elif key == "Capability" and capability is None and index > 0:
            if not _NAME.match(value):
                raise ValueError(f"bad capability {value!r} in FQAN {text!r}")
            capability = value
        else:
            raise ValueError(f"bad component {part!r} in FQAN {text!r}")
    if not groups:
        raise ValueError(f"FQAN has no VO: {text!r}")
    if vo is not None and groups[0] != vo:
        raise ValueError(f"FQAN {text!r} is outside VO {vo!r}")
    return FQAN(
        group="/" + "/".join(groups),
        role=None if role == "NULL" else role,
        capability=None if capability == "NULL" else capability,
    )


def normalize_fqan(text: str) -> str:
    """The canonical spelling of an FQAN: ``Role=NULL`` and ``Capability=NULL`` dropped.

    Args:
        text: an FQAN.

    Returns:
        E.g. ``/juno`` for ``/juno/Role=NULL/Capability=NULL``.

    Raises:
        ValueError: bad syntax.
    """
    return str(parse_fqan(text))


def fqan_groups(fqans: Iterable[str]) -> tuple[str, ...]:
    """The distinct group paths of some FQANs, in order of first appearance.

    Args:
        fqans: FQANs, the primary one first.

    Returns:
        E.g. ``("/juno", "/juno/production")``.

    Raises:
        ValueError: an FQAN has bad syntax.
    """
    return tuple(dict.fromkeys(parse_fqan(f).group for f in fqans))


def fqan_roles(fqans: Iterable[str]) -> tuple[str, ...]:
    """The distinct role names of some FQANs, in order of first appearance.

    Args:
        fqans: FQANs, the primary one first.

    Returns:
        E.g. ``("production",)``; ``NULL`` roles are not listed.

    Raises:
        ValueError: an FQAN has bad syntax.
    """
    roles = (parse_fqan(f).role for f in fqans)
    return tuple(dict.fromkeys(r for r in roles if r is not None))
