"""Identity and permission operations of the public API (part of :class:`dfc.DFC`).

``whoami``, ``chmod``/``chown``/``chgrp`` and the administration of the identity
registry: users (DN -> user name, local account), groups with properties, FQAN rules and
grid-mapfile import. Authorisation happens in the guarded transaction: administrators
only, except ``whoami`` (anyone) and ``chmod`` (the owner).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfc.errors import StorageError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from contextlib import AbstractContextManager
    from pathlib import Path

    from dfc.api._authz import WhoAmI
    from dfc.api._guarded import ApiTx
    from dfc.catalog.identities import FqanRule, GridmapImport, GroupInfo, UserInfo
    from dfc.models import BulkResult

__all__ = ["AdminMixin"]


class AdminMixin:
    """Who am I, entry permissions, and the identity registry."""

    if TYPE_CHECKING:

        def _tx(self) -> AbstractContextManager[ApiTx]: ...

        def _reader(self) -> AbstractContextManager[ApiTx]: ...

    # ------------------------------------------------------------------ identity
    def whoami(self) -> WhoAmI:
        """How the catalogue sees the caller: DN, user, groups, roles, account.

        Raises:
            AuthenticationFailed: (remote) the credential is refused.
        """
        with self._reader() as tx:
            return tx.whoami()

    # ------------------------------------------------------------------ permissions
    def chmod(
        self, paths: Sequence[str], mode: int, *, recursive: bool = False
    ) -> BulkResult[None]:
        """Set the mode bits of entries (the owner or an administrator may).

        Invalid LFNs and refused or missing entries are reported in ``failed``.

        Raises:
            InvalidArgument: ``mode`` is not between 0 and 0o7777.
        """
        with self._tx() as tx:
            return tx.chmod(paths, mode, recursive=recursive)

    def chown(
        self,
        paths: Sequence[str],
        *,
        owner: str | None = None,
        group: str | None = None,
        recursive: bool = False,
    ) -> BulkResult[None]:
        """Set the owner and/or group of entries (administrators only).

        Raises:
            InvalidArgument: neither owner nor group, or a malformed name.
            InsufficientRights: the caller is not an administrator.
        """
        with self._tx() as tx:
            return tx.chown(paths, owner=owner, group=group, recursive=recursive)

    # ------------------------------------------------------------------ users
    def user_add(
        self,
        name: str,
        *,
        dns: Sequence[str] = (),
        account: str | None = None,
        group: str | None = None,
        properties: Sequence[str] | None = None,
    ) -> UserInfo:
        """Register a user, or add DNs to and update an existing one (administrators).

        Raises:
            InvalidArgument: a malformed name, DN, account or property.
            AlreadyExists: a DN is mapped to another user.
            InsufficientRights: the caller is not an administrator.
        """
        with self._tx() as tx:
            return tx.add_user(name, dns=dns, account=account, group=group, properties=properties)

    def user_list(self) -> list[UserInfo]:
        """Every registered user, sorted by name (administrators).

        Raises:
            InsufficientRights: the caller is not an administrator.
        """
        with self._reader() as tx:
            return tx.list_users()

    def user_remove(self, name: str, *, dn: str | None = None) -> UserInfo | None:
        """Unregister a user, or with ``dn`` only unmap that DN (administrators).

        Returns:
            The user after unmapping ``dn``; None when the user was removed.

        Raises:
            NotFound: no such user (or DN of the user).
            InsufficientRights: the caller is not an administrator.
        """
        with self._tx() as tx:
            if dn is not None:
                return tx.remove_user_dn(name, dn)
            tx.remove_user(name)
            return None

    # ------------------------------------------------------------------ groups
    def group_add(self, name: str, *, properties: Sequence[str] | None = None) -> GroupInfo:
        """Create a group or set its properties (administrators).

        Raises:
            InvalidArgument: a malformed name or an unknown property.
            InsufficientRights: the caller is not an administrator.
        """
        with self._tx() as tx:
            return tx.add_group(name, properties=properties)

    def group_list(self) -> list[GroupInfo]:
        """Every group with its members and FQANs (administrators).

        Raises:
            InsufficientRights: the caller is not an administrator.
        """
        with self._reader() as tx:
            return tx.list_groups()

    def group_remove(self, name: str) -> None:
        """Delete a group with its memberships and FQAN rules (administrators).

        Raises:
            NotFound: no such group.
            InsufficientRights: the caller is not an administrator.
        """
        with self._tx() as tx:
            tx.remove_group(name)

    def group_member(self, group: str, user: str, *, remove: bool = False) -> GroupInfo:
        """Add a user to a group, or remove them (administrators).

        Raises:
            NotFound: no such group or user.
            InsufficientRights: the caller is not an administrator.
        """
        with self._tx() as tx:
            if remove:
                return tx.remove_member(group, user)
            return tx.add_member(group, user)

    # ------------------------------------------------------------------ FQAN rules
    def map_add(self, fqan: str, group: str, *, account: str | None = None) -> FqanRule:
        """Make holders of a VOMS FQAN (or token group) members of a group (administrators).

        Raises:
            InvalidArgument: a malformed FQAN or account.
            NotFound: no such group.
            InsufficientRights: the caller is not an administrator.
        """
        with self._tx() as tx:
            return tx.map_fqan(fqan, group, account=account)

    def map_list(self) -> list[FqanRule]:
        """Every FQAN rule (administrators).

        Raises:
            InsufficientRights: the caller is not an administrator.
        """
        with self._reader() as tx:
            return tx.list_fqan_rules()

    def map_remove(self, fqan: str) -> None:
        """Delete the rule of an FQAN (administrators).

        Raises:
            NotFound: no rule for it.
            InsufficientRights: the caller is not an administrator.
        """
        with self._tx() as tx:
            tx.unmap_fqan(fqan)

    def gridmap_import(self, source: Path) -> GridmapImport:
        """Import a grid-mapfile (``"DN" account`` lines) into the registry (administrators).

        Raises:
            StorageError: the file cannot be read.
            InsufficientRights: the caller is not an administrator.
        """
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise StorageError(f"cannot read {str(source)!r}: {exc}") from None
        with self._tx() as tx:
            return tx.import_gridmap(text)
