"""The transaction the API works with: catalogue operations plus access control.

:class:`ApiTx` is a :class:`~dfc.catalog.CatalogTx` plus the operations of the
access-control registry (``whoami``, ``access``, ``chmod``, ``chown``, users, groups, FQAN
rules). Two classes implement it: :class:`~dfc.api._guarded.GuardedTx` over a local
transaction (embedded mode and the server) and :class:`~dfc.api._remote.RemoteTx`, which
forwards each call to a catalogue server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from dfc.catalog import CatalogTx

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dfc.api._authz import WhoAmI
    from dfc.catalog.identities import FqanRule, GridmapImport, GroupInfo, UserInfo
    from dfc.models import BulkResult

__all__ = ["Access", "ApiTx"]

#: What :meth:`ApiTx.access` asks about.
Access = Literal["read", "create", "write", "remove"]


class ApiTx(CatalogTx):
    """A catalogue transaction as the API sees it: catalogue and access-control operations.

    The access-control operations below are implemented by :class:`GuardedTx` and by
    the remote transaction; this base only declares them.
    """

    def whoami(self) -> WhoAmI:
        """How the catalogue sees the caller."""
        raise NotImplementedError

    def access(self, lfns: Sequence[str], what: Access) -> BulkResult[None]:
        """Whether the caller may ``read``, ``create``, ``write`` or ``remove`` each LFN.

        ``write`` changes a file's replicas; ``create`` makes a new entry (or overwrites a
        file); ``remove`` unregisters it. The API asks before moving bytes, so that a
        refused operation never touches storage.
        """
        raise NotImplementedError

    def chmod(
        self, paths: Sequence[str], mode: int, *, recursive: bool = False
    ) -> BulkResult[None]:
        """Set the mode of entries (the owner or an administrator)."""
        raise NotImplementedError

    def chown(
        self,
        paths: Sequence[str],
        *,
        owner: str | None = None,
        group: str | None = None,
        recursive: bool = False,
    ) -> BulkResult[None]:
        """Set the owner and/or group of entries (administrators only)."""
        raise NotImplementedError

    def add_user(
        self,
        name: str,
        *,
        dns: Sequence[str] = (),
        account: str | None = None,
        group: str | None = None,
        properties: Sequence[str] | None = None,
    ) -> UserInfo:
        """Register or update a user (administrators only)."""
        raise NotImplementedError

    def remove_user_dn(self, name: str, dn: str) -> UserInfo:
        """Unmap a DN from a user (administrators only)."""
        raise NotImplementedError

    def list_users(self) -> list[UserInfo]:
        """Every registered user (administrators only)."""
        raise NotImplementedError

    def remove_user(self, name: str) -> None:
        """Unregister a user (administrators only)."""
        raise NotImplementedError

    def add_group(self, name: str, *, properties: Sequence[str] | None = None) -> GroupInfo:
        """Create or change a group (administrators only)."""
        raise NotImplementedError

    def list_groups(self) -> list[GroupInfo]:
        """Every group (administrators only)."""
        raise NotImplementedError

    def remove_group(self, name: str) -> None:
        """Delete a group (administrators only)."""
        raise NotImplementedError

    def add_member(self, group: str, user: str) -> GroupInfo:
        """Add a user to a group (administrators only)."""
        raise NotImplementedError

    def remove_member(self, group: str, user: str) -> GroupInfo:
        """Remove a user from a group (administrators only)."""
        raise NotImplementedError

    def map_fqan(self, fqan: str, group: str, *, account: str | None = None) -> FqanRule:
        """Map holders of an FQAN to a group (administrators only)."""
        raise NotImplementedError

    def unmap_fqan(self, fqan: str) -> None:
        """Delete an FQAN rule (administrators only)."""
        raise NotImplementedError

    def list_fqan_rules(self) -> list[FqanRule]:
        """Every FQAN rule (administrators only)."""
        raise NotImplementedError

    def import_gridmap(self, text: str) -> GridmapImport:
        """Import a grid-mapfile (administrators only)."""
        raise NotImplementedError
