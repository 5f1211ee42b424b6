"""Access control data of the catalogue: who is who, and the modes of entries.

:class:`AccessControl` works inside one catalogue transaction::

    with catalog.transaction() as tx:
        acl = AccessControl(tx)
        acl.add_user("alice", dns=["/DC=org/DC=junotest/O=JUNO/CN=Alice Tester"])
        acl.map_fqan("/juno/production/Role=production", "juno_prod")
        acl.resolve("/DC=org/DC=junotest/O=JUNO/CN=Alice Tester", ["/juno"])

It holds the identity registry (users with their DNs and local account, groups with
properties, rules from VOMS FQANs to groups, grid-mapfile import) and changes the owner,
group and mode of entries (``chmod``, ``chown``). It decides nothing: the API layer
(``dfc.api``) authorises; this module only stores and looks up.

Principals are matched by their name: an X.509 DN (``/DC=org/.../CN=Alice``, compared
structurally, so ``E=`` and ``emailAddress=`` spellings agree), a token principal
``<issuer>#<subject>``, or a local user ``local:<name>``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    ForeignKey,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)

from dfc.auth.fqan import normalize_fqan
from dfc.catalog import _modes
from dfc.catalog._base import chunks
from dfc.catalog._principals import (
    Resolution,
    UserInfo,
    load_users,
    principal_key,
    resolve,
)
from dfc.catalog._principals import check_name as _check_name
from dfc.catalog._principals import props as _props
from dfc.catalog.schema import ID, NAME, UTCDateTime
from dfc.errors import AlreadyExists, InvalidArgument, NotFound

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy.engine import Connection

    from dfc.catalog.tx import CatalogTx
    from dfc.models import BulkResult

__all__ = [
    "PROPERTIES",
    "AccessControl",
    "FqanRule",
    "GridmapImport",
    "GroupInfo",
    "Resolution",
    "UserInfo",
    "principal_key",
    "tables",
]

#: The properties a user or group may carry: ``admin`` (may do everything) and
#: ``production`` (a production manager: writes where the policy names the production role).
PROPERTIES = frozenset({"admin", "production"})

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

tables = MetaData(
    naming_convention={
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    }
)
users = Table(
    "auth_users",
    tables,
    Column("id", ID, primary_key=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("account", NAME, nullable=True),
    Column("grp", NAME, nullable=True),
    Column("properties", Text, nullable=False),
    Column("ctime", UTCDateTime, nullable=False),
)
user_dns = Table(
    "auth_user_dns",
    tables,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("auth_users.id", ondelete="CASCADE"), nullable=False),
    Column("dn", Text, nullable=False),
    Column("dn_key", Text, nullable=False, unique=True),
)
groups = Table(
    "auth_groups",
    tables,
    Column("id", ID, primary_key=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("properties", Text, nullable=False),
    Column("ctime", UTCDateTime, nullable=False),
)
members = Table(
    "auth_members",
    tables,
    Column("user_id", ID, ForeignKey("auth_users.id", ondelete="CASCADE"), nullable=False),
    Column("group_id", ID, ForeignKey("auth_groups.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("user_id", "group_id"),
)
fqan_rules = Table(
    "auth_fqan_rules",
    tables,
    Column("id", ID, primary_key=True),
    Column("fqan", String(512), nullable=False, unique=True),
    Column("group_id", ID, ForeignKey("auth_groups.id", ondelete="CASCADE"), nullable=False),
    Column("account", NAME, nullable=True),
)


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """A group of users.

    Attributes:
        name: the group name (group of entries).
        properties: what membership grants (``admin``, ``production``).
        members: the users added to it (FQAN rules add members per request, not here).
        fqans: the FQANs that make their holders members.
    """

    name: str
    properties: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    fqans: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FqanRule:
    """A rule: holders of ``fqan`` are members of ``group`` (and use ``account``).

    Attributes:
        fqan: a normalised FQAN (``/juno/production/Role=production``).
        group: the group its holders belong to.
        account: the local account of holders whose primary FQAN this is, or None.
    """

    fqan: str
    group: str
    account: str | None = None


@dataclass(frozen=True, slots=True)
class GridmapImport:
    """What a grid-mapfile import did.

    Attributes:
        added: user names created.
        updated: user names that got a new DN.
        skipped: lines not imported, each with the reason.
    """

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()


def _check_properties(props: Iterable[str]) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(props))
    unknown = set(out) - PROPERTIES
    if unknown:
        raise InvalidArgument(
            f"unknown properties {sorted(unknown)}; known: {', '.join(sorted(PROPERTIES))}"
        )
    return tuple(sorted(out))


def _check_principal(dn: str) -> str:
    if not isinstance(dn, str) or not dn.strip() or len(dn) > 1024 or _CONTROL.search(dn):
        raise InvalidArgument(f"invalid principal name {dn!r}")
    dn = dn.strip()
    if dn.startswith('"') and dn.endswith('"') and len(dn) >= 2:
        dn = dn[1:-1]
    principal_key(dn)
    return dn


def _fqan(text: str) -> str:
    if not isinstance(text, str) or len(text) > 512:
        raise InvalidArgument("an FQAN is a string of at most 512 characters")
    try:
        return normalize_fqan(text)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None


class AccessControl:
    """The identity registry and entry permissions, inside one catalogue transaction.

    Args:
        tx: the transaction to work in (a write transaction for changes).
    """

    def __init__(self, tx: CatalogTx) -> None:
        self._tx = tx
        self._conn: Connection = tx._conn

    # ------------------------------------------------------------------ users
    def _user_id(self, name: str) -> int:
        row = self._conn.execute(select(users.c.id).where(users.c.name == name)).first()
        if row is None:
            raise NotFound(f"{name}: no such user")
        return int(row[0])

    def _group_id(self, name: str) -> int:
        row = self._conn.execute(select(groups.c.id).where(groups.c.name == name)).first()
        if row is None:
            raise NotFound(f"{name}: no such group")
        return int(row[0])

    def add_user(
        self,
        name: str,
        *,
        dns: Sequence[str] = (),
        account: str | None = None,
        group: str | None = None,
        properties: Sequence[str] | None = None,
    ) -> UserInfo:
        """Register a user, or add DNs to (and update) an existing one.

        Args:
            name: the user name.
            dns: principal names to map to the user.
            account: the local account (None leaves it unchanged).
            group: the default group of new entries (None leaves it unchanged).
            properties: the user's properties (None leaves them unchanged).

        Returns:
            The user as registered now.

        Raises:
            InvalidArgument: a malformed name, DN, account, group or property.
            AlreadyExists: a DN is mapped to another user.
        """
        _check_name("user", name)
        if account is not None:
            _check_name("account", account)
        if group is not None:
            _check_name("group", group)
        props = _check_properties(properties) if properties is not None else None
        clean = [_check_principal(dn) for dn in dns]
        row = self._conn.execute(select(users.c.id).where(users.c.name == name)).first()
        if row is None:
            self._conn.execute(
                insert(users).values(
                    name=name,
                    account=account,
                    grp=group,
                    properties=",".join(props or ()),
                    ctime=datetime.now(UTC),
                )
            )
            user_id = self._user_id(name)
        else:
            user_id = row[0]
            changes: dict[str, Any] = {}
            if account is not None:
                changes["account"] = account
            if group is not None:
                changes["grp"] = group
            if props is not None:
                changes["properties"] = ",".join(props)
            if changes:
                self._conn.execute(update(users).where(users.c.id == user_id).values(**changes))
        for dn in clean:
            key = principal_key(dn)
            owner = self._conn.execute(
                select(user_dns.c.user_id).where(user_dns.c.dn_key == key)
            ).first()
            if owner is None:
                self._conn.execute(insert(user_dns).values(user_id=user_id, dn=dn, dn_key=key))
            elif owner[0] != user_id:
                raise AlreadyExists(f"{dn} is mapped to another user already")
        return self.get_user(name)

    def remove_user_dn(self, name: str, dn: str) -> UserInfo:
        """Unmap one principal name from a user.

        Raises:
            NotFound: no such user, or the DN is not mapped to it.
            InvalidArgument: a malformed DN.
        """
        user_id = self._user_id(name)
        key = principal_key(_check_principal(dn))
        gone = self._conn.execute(
            delete(user_dns).where(user_dns.c.user_id == user_id, user_dns.c.dn_key == key)
        ).rowcount
        if not gone:
            raise NotFound(f"{dn} is not mapped to user {name}")
        return self.get_user(name)

    def get_user(self, name: str) -> UserInfo:
        """Return one user.

        Raises:
            NotFound: no such user.
        """
        found = load_users(self._tx, "u.name = ?", [name])
        if not found:
            raise NotFound(f"{name}: no such user")
        return found[0]

    def list_users(self) -> list[UserInfo]:
        """Return every user, sorted by name."""
        return load_users(self._tx)

    def remove_user(self, name: str) -> None:
        """Unregister a user (its entries keep their owner name).

        Raises:
            NotFound: no such user.
        """
        user_id = self._user_id(name)
        self._conn.execute(delete(user_dns).where(user_dns.c.user_id == user_id))
        self._conn.execute(delete(members).where(members.c.user_id == user_id))
        self._conn.execute(delete(users).where(users.c.id == user_id))

    # ------------------------------------------------------------------ groups
    def add_group(self, name: str, *, properties: Sequence[str] | None = None) -> GroupInfo:
        """Create a group, or change the properties of an existing one.

        Raises:
            InvalidArgument: a malformed name or an unknown property.
        """
        _check_name("group", name)
        props = _check_properties(properties) if properties is not None else None
        row = self._conn.execute(select(groups.c.id).where(groups.c.name == name)).first()
        if row is None:
            self._conn.execute(
                insert(groups).values(
                    name=name, properties=",".join(props or ()), ctime=datetime.now(UTC)
                )
            )
        elif props is not None:
            self._conn.execute(
                update(groups).where(groups.c.id == row[0]).values(properties=",".join(props))
            )
        return self.get_group(name)

    def get_group(self, name: str) -> GroupInfo:
        """Return one group.

        Raises:
            NotFound: no such group.
        """
        found = self._groups(groups.c.name == name)
        if not found:
            raise NotFound(f"{name}: no such group")
        return found[0]

    def list_groups(self) -> list[GroupInfo]:
        """Return every group, sorted by name."""
        return self._groups(None)

    def _groups(self, where: Any) -> list[GroupInfo]:
        stmt = select(groups)
        if where is not None:
            stmt = stmt.where(where)
        rows = self._conn.execute(stmt.order_by(groups.c.name)).all()
        if not rows:
            return []
        ids = [r.id for r in rows]
        mem: dict[int, list[str]] = {}
        fq: dict[int, list[str]] = {}
        for part in chunks(ids):
            for gid, uname in self._conn.execute(
                select(members.c.group_id, users.c.name)
                .join(users, users.c.id == members.c.user_id)
                .where(members.c.group_id.in_(part))
                .order_by(users.c.name)
            ):
                mem.setdefault(gid, []).append(uname)
            for gid, fqan in self._conn.execute(
                select(fqan_rules.c.group_id, fqan_rules.c.fqan)
                .where(fqan_rules.c.group_id.in_(part))
                .order_by(fqan_rules.c.fqan)
            ):
                fq.setdefault(gid, []).append(fqan)
        return [
            GroupInfo(
                name=r.name,
                properties=_props(r.properties),
                members=tuple(mem.get(r.id, ())),
                fqans=tuple(fq.get(r.id, ())),
            )
            for r in rows
        ]

    def remove_group(self, name: str) -> None:
        """Delete a group with its memberships and FQAN rules.

        Raises:
            NotFound: no such group.
        """
        group_id = self._group_id(name)
        self._conn.execute(delete(members).where(members.c.group_id == group_id))
        self._conn.execute(delete(fqan_rules).where(fqan_rules.c.group_id == group_id))
        self._conn.execute(delete(groups).where(groups.c.id == group_id))

    def add_member(self, group: str, user: str) -> GroupInfo:
        """Add a user to a group (already a member: no change).

        Raises:
            NotFound: no such group or user.
        """
        group_id, user_id = self._group_id(group), self._user_id(user)
        exists = self._conn.execute(
            select(members.c.user_id).where(
                members.c.user_id == user_id, members.c.group_id == group_id
            )
        ).first()
        if exists is None:
            self._conn.execute(insert(members).values(user_id=user_id, group_id=group_id))
        return self.get_group(group)

    def remove_member(self, group: str, user: str) -> GroupInfo:
        """Remove a user from a group (not a member: no change).

        Raises:
            NotFound: no such group or user.
        """
        group_id, user_id = self._group_id(group), self._user_id(user)
        self._conn.execute(
            delete(members).where(members.c.user_id == user_id, members.c.group_id == group_id)
        )
        return self.get_group(group)

    # ------------------------------------------------------------------ FQAN rules
    def map_fqan(self, fqan: str, group: str, *, account: str | None = None) -> FqanRule:
        """Make holders of ``fqan`` members of ``group`` (replacing an existing rule).

        Raises:
            InvalidArgument: a malformed FQAN or account.
            NotFound: no such group.
        """
        norm = _fqan(fqan)
        if account is not None:
            _check_name("account", account)
        group_id = self._group_id(group)
        self._conn.execute(delete(fqan_rules).where(fqan_rules.c.fqan == norm))
        self._conn.execute(insert(fqan_rules).values(fqan=norm, group_id=group_id, account=account))
        return FqanRule(norm, group, account)

    def unmap_fqan(self, fqan: str) -> None:
        """Delete the rule of an FQAN.

        Raises:
            InvalidArgument: a malformed FQAN.
            NotFound: no rule for it.
        """
        norm = _fqan(fqan)
        if not self._conn.execute(delete(fqan_rules).where(fqan_rules.c.fqan == norm)).rowcount:
            raise NotFound(f"{norm}: no such FQAN rule")

    def list_fqan_rules(self) -> list[FqanRule]:
        """Return every FQAN rule, sorted by FQAN."""
        rows = self._conn.execute(
            select(fqan_rules.c.fqan, groups.c.name, fqan_rules.c.account)
            .join(groups, groups.c.id == fqan_rules.c.group_id)
            .order_by(fqan_rules.c.fqan)
        )
        return [FqanRule(f, g, a) for f, g, a in rows]

    # ------------------------------------------------------------------ grid-mapfile
    def import_gridmap(self, text: str) -> GridmapImport:
        """Import a grid-mapfile: ``"DN" account[,account...]`` per line.

        The first account names the user (created if new, else the DN is added). Pool
        accounts (``.juno``) and DNs mapped to another user already are skipped.

        Raises:
            InvalidArgument: the text is not a string.
        """
        if not isinstance(text, str):
            raise InvalidArgument("a grid-mapfile is text")
        added: list[str] = []
        updated: list[str] = []
        skipped: list[str] = []
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                dn, account = _gridmap_line(line)
                existed = self._conn.execute(
                    select(users.c.id).where(users.c.name == account)
                ).first()
                before = self.get_user(account).dns if existed else ()
                after = self.add_user(account, dns=[dn]).dns
            except InvalidArgument as exc:
                skipped.append(f"line {number}: {exc}")
                continue
            except AlreadyExists as exc:
                skipped.append(f"line {number}: {exc}")
                continue
            if not existed:
                added.append(account)
            elif after != before:
                updated.append(account)
        return GridmapImport(
            tuple(dict.fromkeys(added)), tuple(dict.fromkeys(updated)), tuple(skipped)
        )

    # ------------------------------------------------------------------ lookups
    def resolve(self, principal: str, fqans: Sequence[str] = ()) -> Resolution:
        """What the registry says about a principal holding ``fqans`` (primary first).

        See :func:`dfc.catalog._principals.resolve`.

        Raises:
            InvalidArgument: a malformed DN.
        """
        return resolve(self._tx, principal, fqans)

    def has_admin(self) -> bool:
        """Whether any user or group carries the ``admin`` property."""
        for table in (users, groups):
            for props in self._conn.execute(select(table.c.properties)).scalars():
                if "admin" in _props(props):
                    return True
        return False

    # ------------------------------------------------------------------ entry permissions
    def chmod(
        self, paths: Sequence[str], mode: int, *, recursive: bool = False
    ) -> BulkResult[None]:
        """Set the mode bits of entries (see :func:`dfc.catalog._modes.chmod`).

        Raises:
            InvalidArgument: ``mode`` is out of range.
        """
        return _modes.chmod(self._tx, paths, mode, recursive=recursive)

    def chown(
        self,
        paths: Sequence[str],
        *,
        owner: str | None = None,
        group: str | None = None,
        recursive: bool = False,
    ) -> BulkResult[None]:
        """Set the owner and/or group of entries (see :func:`dfc.catalog._modes.chown`).

        Raises:
            InvalidArgument: a malformed name, or neither owner nor group given.
        """
        return _modes.chown(self._tx, paths, owner=owner, group=group, recursive=recursive)


def _gridmap_line(line: str) -> tuple[str, str]:
    """Split one grid-mapfile line into the DN and the first account.

    Raises:
        InvalidArgument: malformed, or a pool account.
    """
    try:
        parts = shlex.split(line, posix=True)
    except ValueError as exc:
        raise InvalidArgument(f"malformed line ({exc})") from None
    if len(parts) < 2:
        raise InvalidArgument("expected a quoted DN and an account")
    dn, accounts = " ".join(parts[:-1]), parts[-1]
    account = accounts.split(",")[0]
    if account.startswith("."):
        raise InvalidArgument(f"pool account {account} not imported")
    _check_name("account", account)
    return _check_principal(dn), account
