"""Who a principal is, read from the identity registry with driver-level SQL.

Every command resolves its caller, so this part of :mod:`dfc.catalog.identities`
runs without SQLAlchemy Core (and without importing it): the registry's tables
are read with the ``?``-placeholder SQL of :class:`~dfc.catalog._base.TxBase`.
:class:`~dfc.catalog.identities.AccessControl` uses the same functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from dfc.catalog._base import chunks, marks
from dfc.errors import InvalidArgument

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dfc.catalog._base import TxBase

__all__ = [
    "Resolution",
    "UserInfo",
    "check_name",
    "load_users",
    "principal_key",
    "props",
    "resolve",
]

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A registered user.

    Attributes:
        name: the catalogue user name (owner of entries).
        dns: the principal names mapped to this user (DNs, token principals, ``local:x``).
        account: the local account, or None (the user name is used).
        group: the default group of new entries, or None.
        properties: ``admin``, ``production``.
        groups: the groups the user was added to.
    """

    name: str
    dns: tuple[str, ...] = ()
    account: str | None = None
    group: str | None = None
    properties: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


class Resolution(NamedTuple):
    """What the registry knows about a principal holding some FQANs.

    A named tuple rather than a dataclass: its class is made several times faster,
    which every start of the command line pays.

    Attributes:
        user: the registered user, or None.
        groups: group names: FQAN groups (primary FQAN first), then explicit memberships,
            then the user's default group.
        primary_group: the group of new entries: the primary FQAN's group, else the
            user's default group, else the first group, else None.
        properties: the union of the user's and the groups' properties.
        account: the primary FQAN rule's account, else the user's, else None.
    """

    user: UserInfo | None
    groups: tuple[str, ...]
    primary_group: str | None
    properties: frozenset[str]
    account: str | None


def principal_key(name: str) -> str:
    """The matching key of a principal name: DNs compared structurally.

    Args:
        name: a DN in oneline form, ``<issuer>#<subject>`` or ``local:<name>``.

    Returns:
        For DNs, the attribute OIDs and values in order; other names unchanged.

    Raises:
        InvalidArgument: a name starting with ``/`` is not a valid DN.
    """
    if not name.startswith("/"):
        return name
    from dfc.auth.dn import parse_dn  # only DNs need it

    try:
        key = parse_dn(name)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    return "".join("/" + "+".join(f"{oid}={value}" for oid, value in rdn) for rdn in key)


def check_name(kind: str, name: str) -> str:
    """Return ``name`` if it is a valid user, group or account name.

    Raises:
        InvalidArgument: it is not: letters, digits, '_', '.', '-', at most 64.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgument(
            f"invalid {kind} name {name!r}: letters, digits, '_', '.', '-' (at most 64)"
        )
    return name


def props(text: str) -> tuple[str, ...]:
    """The properties stored as ``text`` (comma-separated)."""
    return tuple(p for p in text.split(",") if p)


def load_users(tx: TxBase, where: str = "", params: Sequence[Any] = ()) -> list[UserInfo]:
    """Return the users matching the SQL condition ``where`` on ``u``, sorted by name.

    Args:
        tx: the transaction to read in.
        where: a condition on ``auth_users u`` with ``?`` placeholders; empty for all.
        params: its parameters.

    Raises:
        sqlalchemy.exc.DBAPIError: the database failed.
    """
    cond = f" WHERE {where}" if where else ""
    rows = tx._fetchall(
        f"SELECT u.id, u.name, u.account, u.grp, u.properties FROM auth_users u{cond} "
        "ORDER BY u.name",
        params,
    )
    if not rows:
        return []
    dns: dict[int, list[str]] = {}
    grps: dict[int, list[str]] = {}
    for part in chunks([r[0] for r in rows]):
        in_part = f"IN ({marks(len(part))})"
        for uid, dn in tx._fetchall(
            f"SELECT user_id, dn FROM auth_user_dns WHERE user_id {in_part} ORDER BY id", part
        ):
            dns.setdefault(uid, []).append(dn)
        for uid, gname in tx._fetchall(
            "SELECT m.user_id, g.name FROM auth_members m "
            f"JOIN auth_groups g ON g.id = m.group_id WHERE m.user_id {in_part} ORDER BY g.name",
            part,
        ):
            grps.setdefault(uid, []).append(gname)
    return [
        UserInfo(
            name=name,
            dns=tuple(dns.get(uid, ())),
            account=account,
            group=grp,
            properties=props(text),
            groups=tuple(grps.get(uid, ())),
        )
        for uid, name, account, grp, text in rows
    ]


def resolve(tx: TxBase, principal: str, fqans: Sequence[str] = ()) -> Resolution:
    """What the registry in ``tx`` says about a principal holding ``fqans`` (primary first).

    Args:
        tx: the transaction to read in.
        principal: a DN, ``<issuer>#<subject>`` or ``local:<name>``.
        fqans: normalised FQANs (verified by the caller).

    Returns:
        The resolution (``user`` None when the principal is not registered).

    Raises:
        InvalidArgument: a malformed DN.
        sqlalchemy.exc.DBAPIError: the database failed.
    """
    key = principal_key(principal)
    # One statement fewer than finding the name first (every command resolves).
    found = load_users(tx, "u.id = (SELECT user_id FROM auth_user_dns WHERE dn_key = ?)", [key])
    user = found[0] if found else None
    rules: dict[str, tuple[str, str | None, str]] = {}
    if fqans:
        wanted = list(dict.fromkeys(fqans))
        for part in chunks(wanted):
            for fqan, gname, account, text in tx._fetchall(
                "SELECT r.fqan, g.name, r.account, g.properties FROM auth_fqan_rules r "
                f"JOIN auth_groups g ON g.id = r.group_id WHERE r.fqan IN ({marks(len(part))})",
                part,
            ):
                rules[fqan] = (gname, account, text)
    names: list[str] = [rules[f][0] for f in fqans if f in rules]
    properties: set[str] = {p for f in fqans if f in rules for p in props(rules[f][2])}
    if user is not None:
        names += user.groups
        properties.update(user.properties)
        for part in chunks(user.groups):
            for (text,) in tx._fetchall(
                f"SELECT properties FROM auth_groups WHERE name IN ({marks(len(part))})", part
            ):
                properties.update(props(text))
        if user.group:
            names.append(user.group)
    primary_rule = rules.get(fqans[0]) if fqans else None
    ordered = tuple(dict.fromkeys(names))
    primary = (
        primary_rule[0]
        if primary_rule
        else (user.group if user and user.group else (ordered[0] if ordered else None))
    )
    account = (primary_rule[1] if primary_rule else None) or (user.account if user else None)
    return Resolution(user, ordered, primary, frozenset(properties), account)
