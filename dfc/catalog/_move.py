"""Renaming files and directory trees."""

from __future__ import annotations

from dfc import lfn as _lfn
from dfc.catalog._base import prefix_range
from dfc.catalog._replicas import ReplicasMixin
from dfc.errors import AlreadyExists, InvalidArgument, LFNNotFound, PermissionDenied

__all__ = ["MoveMixin"]


class MoveMixin(ReplicasMixin):
    """Rename within the namespace; replica paths never change."""

    def move(self, src: str, dst: str) -> None:
        """Rename the file or directory ``src`` to ``dst``.

        A directory moves with everything below it, in a few statements.

        Raises:
            PermissionDenied: ``src`` is ``/``.
            LFNNotFound: ``src`` or the parent of ``dst`` does not exist.
            NotADirectory: the parent of ``dst`` is a file.
            AlreadyExists: ``dst`` exists.
            InvalidArgument: a directory would move into itself.
        """
        if src == "/":
            raise PermissionDenied("/: cannot move the root directory")
        src_dir = self._dirs_by_path([src]).get(src)
        src_file = None if src_dir is not None else self._files_by_lfn([src]).get(src)
        if src_dir is None and src_file is None:
            raise LFNNotFound(f"{src}: no such file or directory")
        if src_dir is not None and (dst == src or dst.startswith(src + "/")):
            raise InvalidArgument(f"cannot move directory {src} into itself ({dst})")
        parent = self._dir_row(_lfn.dirname(dst))
        if dst == "/" or self._dirs_by_path([dst]) or self._files_by_lfn([dst]):
            raise AlreadyExists(f"{dst}: exists already")
        _, db_now = self._now()
        if src_file is not None:
            self._q(
                "UPDATE files SET dir_id = ?, name = ? WHERE id = ?",
                [parent[0], _lfn.basename(dst), src_file[0]],
            )
            self._touch_dirs([src_file[1], parent[0]], db_now)
            return
        assert src_dir is not None
        low, high = prefix_range(src)
        self._q(
            "UPDATE directories SET path = CAST(? AS TEXT) || substr(path, ?) "
            "WHERE path > ? AND path < ?",
            [dst, len(src) + 1, low, high],
        )
        self._q(
            "UPDATE directories SET path = ?, parent_id = ? WHERE id = ?",
            [dst, parent[0], src_dir[0]],
        )
        self._touch_dirs([src_dir[2], parent[0]], db_now)
