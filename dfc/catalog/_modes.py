"""The mode bits, owner and group of entries: ``chmod``, ``chown``, in driver-level SQL.

Kept out of :mod:`dfc.catalog.identities` (whose registry tables are
SQLAlchemy Core) so that `dfc chmod`, `chown` and `chgrp` need no SQLAlchemy;
:class:`~dfc.catalog.identities.AccessControl` uses these functions too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dfc import lfn as _lfn
from dfc.catalog._base import path_between, prefix_range
from dfc.catalog._principals import check_name
from dfc.errors import InvalidArgument
from dfc.models import BulkResult

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dfc.catalog.tx import CatalogTx

__all__ = ["chmod", "chown"]


def chmod(
    tx: CatalogTx, paths: Sequence[str], mode: int, *, recursive: bool = False
) -> BulkResult[None]:
    """Set the mode bits of entries (with everything below for ``recursive``).

    Args:
        tx: the write transaction to work in.
        paths: valid LFNs.
        mode: permission bits, 0 to 0o7777.
        recursive: also every directory and file below directories.

    Returns:
        Per path: success, or :class:`~dfc.errors.LFNNotFound`.

    Raises:
        InvalidArgument: ``mode`` is out of range.
    """
    if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o7777:
        raise InvalidArgument(f"invalid mode {mode!r}: expected 0 to 0o7777")
    return _change(tx, paths, {"mode": mode}, recursive)


def chown(
    tx: CatalogTx,
    paths: Sequence[str],
    *,
    owner: str | None = None,
    group: str | None = None,
    recursive: bool = False,
) -> BulkResult[None]:
    """Set the owner and/or group of entries (with everything below for ``recursive``).

    Returns:
        Per path: success, or :class:`~dfc.errors.LFNNotFound`.

    Raises:
        InvalidArgument: a malformed name, or neither owner nor group given.
    """
    changes: dict[str, Any] = {}
    if owner is not None:
        changes["owner"] = check_name("user", owner)
    if group is not None:
        changes["grp"] = check_name("group", group)
    if not changes:
        raise InvalidArgument("chown needs an owner or a group")
    return _change(tx, paths, changes, recursive)


def _change(
    tx: CatalogTx, paths: Sequence[str], changes: dict[str, Any], recursive: bool
) -> BulkResult[None]:
    result: BulkResult[None] = BulkResult()
    found = tx.stat(list(dict.fromkeys(paths)))
    result.failed.update(found.failed)
    assign = ", ".join(f"{column} = ?" for column in changes)  # column names of ours
    values = list(changes.values())
    sqlite = tx._sqlite
    for path, entry in found.succeeded.items():
        if entry.is_dir:
            where, params = "path = ?", [path]
            if recursive:
                inside, bounds = path_between("path", *prefix_range(path), sqlite=sqlite)
                where, params = f"(path = ? OR ({inside}))", [path, *bounds]
            tx._exec(f"UPDATE directories SET {assign} WHERE {where}", [*values, *params])
            if recursive:
                tx._exec(
                    f"UPDATE files SET {assign} "
                    f"WHERE dir_id IN (SELECT id FROM directories WHERE {where})",
                    [*values, *params],
                )
        else:
            tx._exec(
                f"UPDATE files SET {assign} "
                "WHERE dir_id = (SELECT id FROM directories WHERE path = ?) AND name = ?",
                [*values, _lfn.dirname(path), _lfn.basename(path)],
            )
        result.succeeded[path] = None
    return result
