"""Authorisation: the one place that decides who may do what in the catalogue.

Three layers of rules, applied to every catalogue operation by
:class:`~dfc.api._guarded.GuardedTx`:

1. The credential: a limited proxy may only read; a bearer token's storage scopes cap
   what it may touch (``storage.create`` may not overwrite); only registered users change
   anything.
2. The policy (:class:`Policy`, configurable): protected directories (the VO root) in
   which only administrators create or remove entries; role paths
   (``/juno/production``) where only holders of a role (``/juno/production/Role=production``)
   or production managers write; users' homes (``/juno/user/<initial>/<name>``) created
   for them on first use.
3. POSIX-like owner/group/mode bits: read (``r``) on a directory to list it and see its
   entries, read on a file to read it, write (``w``) on a directory to create, remove or
   rename entries in it; the owner or an administrator changes the mode; only
   administrators change owner and group. Administrators pass the bit checks.

The same rules apply to the embedded catalogue (the local OS user is the identity) and
behind the catalogue server (the X.509 or token identity of each request).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from dfc.auth.errors import InsufficientRights, ReadOnlyCredential, ScopeDenied
from dfc.auth.fqan import normalize_fqan
from dfc.errors import ConfigError, DFCError, InvalidLFN
from dfc.lfn import validate as validate_lfn

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from datetime import datetime

    from dfc.auth.identity import Identity
    from dfc.auth.tokens import StorageOp
    from dfc.catalog import CatalogTx
    from dfc.models import Entry

__all__ = ["READ", "WRITE", "Authorizer", "Gate", "Policy", "Principal", "WhoAmI", "under"]

READ = 4
WRITE = 2

_DEFAULT_ROLES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"/juno/production": ("/juno/production/Role=production",)}
)


def under(lfn: str, root: str) -> bool:
    """Whether ``lfn`` is ``root`` or below it, on whole path components."""
    return root == "/" or lfn == root or lfn.startswith(root + "/")


def _path(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"[authz] {what} must be an LFN string")
    try:
        return validate_lfn(value)
    except InvalidLFN as exc:
        raise ConfigError(f"[authz] {what}: {exc}") from None


@dataclass(frozen=True)
class Policy:
    """Where the namespace needs more than owner/group/mode bits.

    Attributes:
        protected: directories in which only administrators create, remove or rename
            entries (the root and the VO root).
        homes: users' homes lie at ``<homes>/<initial>/<name>``, created for them on first
            use; None: no homes.
        roles: per directory, the FQANs whose holders (and production managers) are the
            only ones who write below it.
        home_mode: the mode of new homes.
        umask: mode bits removed from new entries (``0o022``: not writable by the group
            and others, whatever mode the client asks for).
    """

    protected: tuple[str, ...] = ("/", "/juno", "/juno/user")
    homes: str | None = "/juno/user"
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _DEFAULT_ROLES)
    home_mode: int = 0o755
    umask: int = 0o022

    @classmethod
    def from_config(cls, raw: Mapping[str, Any] | None) -> Policy:
        """Read the ``[authz]`` table of a configuration file.

        Keys (all optional): ``protected`` (list of LFNs), ``homes`` (an LFN, or ``""``
        for none), ``home_mode`` and ``umask`` (integers), ``roles`` (table: LFN -> list of
        FQANs).

        Raises:
            ConfigError: a value of the wrong type or a malformed LFN or FQAN.
        """
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ConfigError("[authz] must be a table")
        unknown = set(raw) - {"protected", "homes", "roles", "home_mode", "umask"}
        if unknown:
            raise ConfigError(f"[authz] has unknown keys: {', '.join(sorted(unknown))}")
        policy = cls()
        protected = raw.get("protected", policy.protected)
        if not isinstance(protected, list | tuple):
            raise ConfigError("[authz] protected must be a list of LFNs")
        homes = raw.get("homes", policy.homes)
        home_mode = raw.get("home_mode", policy.home_mode)
        umask = raw.get("umask", policy.umask)
        for name, value in (("home_mode", home_mode), ("umask", umask)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0o7777:
                raise ConfigError(f"[authz] {name} must be an integer from 0 to 0o7777")
        roles_raw = raw.get("roles", policy.roles)
        if not isinstance(roles_raw, Mapping):
            raise ConfigError("[authz] roles must be a table of LFN = [FQAN, ...]")
        roles: dict[str, tuple[str, ...]] = {}
        for root, fqans in roles_raw.items():
            if not isinstance(fqans, list | tuple) or not fqans:
                raise ConfigError(f"[authz] roles.{root} must be a non-empty list of FQANs")
            try:
                roles[_path(root, "roles")] = tuple(normalize_fqan(str(f)) for f in fqans)
            except ValueError as exc:
                raise ConfigError(f"[authz] roles.{root}: {exc}") from None
        return cls(
            protected=tuple(_path(p, "protected") for p in protected),
            homes=_path(homes, "homes") if homes else None,
            roles=MappingProxyType(roles),
            home_mode=home_mode,
            umask=umask,
        )

    def home(self, user: str | None) -> str | None:
        """The home directory of a user, or None."""
        if not self.homes or not user:
            return None
        base = "" if self.homes == "/" else self.homes
        return f"{base}/{user[0]}/{user}"

    def role_for(self, lfn: str) -> tuple[str, tuple[str, ...]] | None:
        """The role path strictly above ``lfn`` and its FQANs, or None."""
        best: tuple[str, tuple[str, ...]] | None = None
        for root, fqans in self.roles.items():
            if lfn != root and under(lfn, root) and (best is None or len(root) > len(best[0])):
                best = (root, fqans)
        return best


class Principal(NamedTuple):
    """An identity as the catalogue knows it.

    A named tuple rather than a dataclass: its class is made several times faster,
    which every start of the command line pays.

    Attributes:
        identity: the authenticated identity.
        name: the catalogue user name (owner of what it creates); None if not registered.
        group: the group of what it creates.
        groups: every group it counts as a member of (for the group bits).
        properties: ``admin``, ``production``.
        account: the local account it maps to, or None.
    """

    identity: Identity
    name: str | None
    group: str
    groups: frozenset[str]
    properties: frozenset[str] = frozenset()
    account: str | None = None

    @property
    def admin(self) -> bool:
        """Whether it may do everything its credential allows."""
        return "admin" in self.properties


@dataclass(frozen=True, slots=True)
class WhoAmI:
    """How the catalogue sees the caller (``dfc whoami``).

    Attributes:
        principal: the DN, ``<issuer>#<subject>`` or ``local:<name>``.
        via: ``x509``, ``token`` or ``local``.
        user: the catalogue user name, or None if not registered.
        group: the group of entries it creates.
        groups: the groups it is a member of.
        fqans: the verified FQANs (token groups), primary first.
        roles: the VOMS roles held.
        properties: ``admin``, ``production``.
        account: the local account, or None.
        limited: a limited proxy (read-only).
        vo: the VO of the attributes.
        not_after: when the credential expires.
        home: the user's home directory, or None.
    """

    principal: str
    via: str
    user: str | None
    group: str
    groups: tuple[str, ...]
    fqans: tuple[str, ...]
    roles: tuple[str, ...]
    properties: tuple[str, ...]
    account: str | None
    limited: bool
    vo: str | None
    not_after: datetime | None
    home: str | None


def _deny(lfn: str, why: str) -> InsufficientRights:
    return InsufficientRights(f"{lfn}: permission denied ({why})")


class Authorizer:
    """Decides each operation of one principal.

    Check methods return the error to report (None: allowed), so that bulk operations
    can fail the items they refuse and go on with the others.

    Args:
        principal: who is asking.
        policy: the namespace policy.
    """

    def __init__(self, principal: Principal, policy: Policy) -> None:
        self.principal = principal
        self.policy = policy
        self.identity = principal.identity
        self.admin = principal.admin
        #: Whether reads need no check at all (an administrator without token scopes).
        self.reads_all = self.admin and self.identity.scopes is None
        self.home = policy.home(principal.name)

    # ------------------------------------------------------------------ building blocks
    def bits(self, entry: Entry, bit: int) -> bool:
        """Whether the owner/group/other bits of ``entry`` grant ``bit`` to the principal."""
        if self.admin:
            return True
        p = self.principal
        if p.name is not None and entry.owner == p.name:
            return bool(entry.mode >> 6 & bit)
        if entry.group in p.groups:
            return bool(entry.mode >> 3 & bit)
        return bool(entry.mode & bit)

    def holds(self, fqans: Iterable[str]) -> bool:
        """Whether the principal holds one of ``fqans`` or is a production manager."""
        return "production" in self.principal.properties or any(
            self.identity.has_fqan(f) for f in fqans
        )

    def change_error(self, lfn: str | None, scope: StorageOp) -> DFCError | None:
        """Refusals that come from the credential itself, for any change."""
        who = self.identity.dn
        if self.identity.limited:
            return ReadOnlyCredential(f"{who}: a limited proxy may read but not change anything")
        if self.principal.name is None:
            return InsufficientRights(
                f"{who} is not registered in this catalogue "
                "(an administrator registers users with `dfc admin user add`)"
            )
        scopes = self.identity.scopes
        if scopes is not None and (lfn is None or not scopes.allows(scope, lfn)):
            return ScopeDenied(
                f"{lfn or 'this operation'}: the token's scopes do not allow {scope}"
            )
        return None

    # ------------------------------------------------------------------ checks
    def read_error(
        self, lfn: str, entry: Entry | None = None, hidden_by: str | None = None
    ) -> DFCError | None:
        """Refusal to see ``lfn`` and to read ``entry`` itself.

        Args:
            lfn: the name asked for.
            entry: the file to read, if its own bits matter.
            hidden_by: the first directory on the way to ``lfn`` the caller may not
                read, if any (directories must be readable to be searched).
        """
        scopes = self.identity.scopes
        if scopes is not None and not scopes.allows("read", lfn):
            return ScopeDenied(f"{lfn}: the token's scopes do not allow read")
        if self.admin:
            return None
        if hidden_by is not None:
            return _deny(lfn, f"no read permission on {hidden_by}")
        if entry is not None and not self.bits(entry, READ):
            return _deny(lfn, "no read permission")
        return None

    def write_error(
        self, directory: Entry, target: str, scope: StorageOp, hidden_by: str | None = None
    ) -> DFCError | None:
        """Refusal to create, remove or rename ``target`` in ``directory``."""
        error = self.change_error(target, scope)
        if error is not None or self.admin:
            return error
        if hidden_by is not None:
            return _deny(target, f"no read permission on {hidden_by}")
        role = self.policy.role_for(target)
        if role is not None:
            if self.holds(role[1]):
                return None
            return _deny(target, f"only {' or '.join(role[1])} may write below {role[0]}")
        if directory.lfn in self.policy.protected:
            return _deny(target, f"{directory.lfn} is protected; ask an administrator")
        if not self.bits(directory, WRITE):
            return _deny(target, f"no write permission on {directory.lfn}")
        return None

    def modify_error(
        self,
        entry: Entry,
        directory: Entry | None,
        scope: StorageOp,
        hidden_by: str | None = None,
    ) -> DFCError | None:
        """Refusal to change a file's replicas (write on the file or on its directory)."""
        error = self.change_error(entry.lfn, scope)
        if error is not None or self.admin:
            return error
        if hidden_by is not None:
            return _deny(entry.lfn, f"no read permission on {hidden_by}")
        role = self.policy.role_for(entry.lfn)
        if role is not None:
            if self.holds(role[1]):
                return None
            return _deny(entry.lfn, f"only {' or '.join(role[1])} may write below {role[0]}")
        if self.bits(entry, WRITE) or (directory is not None and self.bits(directory, WRITE)):
            return None
        return _deny(entry.lfn, "no write permission")

    def chmod_error(self, entry: Entry) -> DFCError | None:
        """Refusal to change the mode of ``entry`` (the owner or an administrator may)."""
        error = self.change_error(entry.lfn, "modify")
        if error is not None or self.admin:
            return error
        if entry.owner != self.principal.name:
            return _deny(entry.lfn, "only the owner or an administrator may change the mode")
        return None

    def admin_error(self, what: str, *, write: bool = True) -> DFCError | None:
        """Refusal of an administrative operation (administrators only)."""
        if write:
            if self.identity.limited:
                return ReadOnlyCredential(
                    f"{self.identity.dn}: a limited proxy may read but not change anything"
                )
            if self.identity.scopes is not None:
                return ScopeDenied(f"{what}: a token limited by storage scopes may not do this")
        if self.admin:
            return None
        return InsufficientRights(f"{what}: permission denied (administrators only)")

    def whoami(self) -> WhoAmI:
        """The description of the principal."""
        p, ident = self.principal, self.identity
        return WhoAmI(
            principal=ident.dn,
            via=ident.via,
            user=p.name,
            group=p.group,
            groups=tuple(sorted(p.groups)),
            fqans=ident.fqans,
            roles=ident.roles,
            properties=tuple(sorted(p.properties)),
            account=p.account,
            limited=ident.limited,
            vo=ident.vo,
            not_after=ident.not_after,
            home=self.home,
        )


class Gate:
    """Turns identities into principals (cached for a few seconds) and guards transactions.

    Args:
        policy: the namespace policy.
        ttl: seconds a principal is reused before the registry is asked again (0: never).
        clock: monotonic time (tests replace it).
    """

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        ttl: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy if policy is not None else Policy()
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, tuple[str, ...], str], tuple[Principal, float]] = {}

    def principal(self, tx: CatalogTx, identity: Identity, fallback_group: str) -> Principal:
        """The principal of ``identity``, from the registry in ``tx``.

        Args:
            tx: a catalogue transaction to read the registry in.
            identity: the authenticated identity.
            fallback_group: the group of a local user the registry does not know.

        Raises:
            CatalogError: the registry cannot be read.
        """
        from dfc.catalog import resolve_principal

        key = (identity.dn, identity.fqans, fallback_group)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[1] > now and hit[0].identity == identity:
                return hit[0]
        res = resolve_principal(tx, identity.dn, identity.fqans)
        name = res.user.name if res.user is not None else None
        if name is None and identity.via == "local":
            name = identity.user
        group = res.primary_group or (fallback_group if identity.via == "local" else "nobody")
        principal = Principal(
            identity=identity,
            name=name,
            group=group,
            groups=frozenset((*res.groups, group)),
            properties=res.properties,
            account=res.account or (name if identity.via == "local" else None),
        )
        if self._ttl > 0:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key] = (principal, now + self._ttl)
        return principal

    def authorizer(self, tx: CatalogTx, identity: Identity, fallback_group: str) -> Authorizer:
        """The authorizer of ``identity`` (see :meth:`principal`)."""
        return Authorizer(self.principal(tx, identity, fallback_group), self.policy)
