"""Renaming files and directory trees."""

from __future__ import annotations

from dfc import lfn as _lfn
from dfc.catalog._base import path_between, prefix_range
from dfc.catalog._meta import MetaMixin
from dfc.catalog._replicas import ReplicasMixin
from dfc.catalog._usage import LOGICAL, Deltas
from dfc.errors import AlreadyExists, InvalidArgument, LFNNotFound, PermissionDenied

__all__ = ["MoveMixin"]


class MoveMixin(ReplicasMixin, MetaMixin):
    """Rename within the namespace; replica paths never change.

    Usage counters follow a moved file to its new directory (a moved tree keeps
    its directories, so its counters stay as they are), and metadata follows
    the tree: a moved directory inherits from its new ancestors.
    """

    def move(self, src: str, dst: str) -> None:
        """Rename the file or directory ``src`` to ``dst``.

        A directory moves with everything below it, in a few statements.

        Raises:
            PermissionDenied: ``src`` is ``/``.
            LFNNotFound: ``src`` or the parent of ``dst`` does not exist.
            NotADirectory: the parent of ``dst`` is a file.
            AlreadyExists: ``dst`` exists.
            InvalidArgument: a directory would move into itself.
            MetadataConflict: a directory field set in the moved tree is set on
                an ancestor of ``dst`` too.
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
            self._move_file(src_file[0], parent[0], _lfn.basename(dst))
            self._touch_dirs([src_file[1], parent[0]], db_now)
            return
        assert src_dir is not None
        self._check_move_meta(src, dst)
        below, params = path_between("path", *prefix_range(src), sqlite=self._sqlite)
        self._exec(
            f"UPDATE directories SET path = CAST(? AS TEXT) || substr(path, ?) WHERE {below}",
            [dst, len(src) + 1, *params],
        )
        self._exec(
            "UPDATE directories SET path = ?, parent_id = ? WHERE id = ?",
            [dst, parent[0], src_dir[0]],
        )
        self._touch_dirs([src_dir[2], parent[0]], db_now)

    def _move_file(self, file_id: int, dir_id: int, name: str) -> None:
        """Rename one file and move its usage to its new directory."""
        # FOR UPDATE: a replica registered meanwhile is counted in one place only.
        lock = "" if self._sqlite else " FOR UPDATE"
        sql = f"SELECT dir_id, size FROM files WHERE id = ?{lock}"
        old_dir, size = self._fetchall(sql, [file_id])[0]
        self._exec("UPDATE files SET dir_id = ?, name = ? WHERE id = ?", [dir_id, name, file_id])
        if old_dir == dir_id:
            return
        deltas = Deltas()
        ses = [LOGICAL] + [
            r[0] for r in self._fetchall("SELECT se_id FROM replicas WHERE file_id = ?", [file_id])
        ]
        for se_id in ses:
            deltas.add(old_dir, se_id, -1, -size)
            deltas.add(dir_id, se_id, 1, size)
        self._usage_apply(deltas)
