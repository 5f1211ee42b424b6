"""Typed user metadata: declared fields, values on directories and files.

A field is declared once with a level and a type (DIRAC's ``meta index``):
``dir`` fields are set on directories and inherited by everything below them,
``file`` fields are set on files. A name is one or the other, never both.
Values live in one table per level and type (``dir_meta_int`` ...), keyed by
owner and field and indexed on ``(field_id, value)``.

The inheritance rule (DIRAC's "metadata conflict"): a directory field may be
set on at most one directory of any branch, so setting it on a directory is
refused when an ancestor or a subdirectory sets it already, and moving a tree
under a directory that sets one of its fields is refused too. Every directory
therefore inherits at most one value of each field.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from dfc import lfn as _lfn
from dfc.catalog._base import chunks, marks
from dfc.catalog._namespace import NamespaceMixin
from dfc.catalog._scope import StreamMixin, subtree
from dfc.catalog._values import from_db_time, to_db_time
from dfc.errors import (
    DFCError,
    InvalidArgument,
    LFNNotFound,
    MetadataConflict,
    NotFound,
)
from dfc.models import BulkResult

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dfc.catalog._query import Field
    from dfc.catalog._records import FieldLevel, FieldType, MetaField, MetaScalar, MetaValue

__all__ = ["FIELD_TYPES", "MetaMixin", "coerce"]

FIELD_TYPES: tuple[FieldType, ...] = ("int", "float", "string", "date")
_TYPE_NAMES: dict[str, FieldType] = {
    "int": "int",
    "integer": "int",
    "bigint": "int",
    "float": "float",
    "double": "float",
    "string": "string",
    "str": "string",
    "varchar": "string",
    "text": "string",
    "date": "date",
    "datetime": "date",
    "timestamp": "date",
}
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}").fullmatch
_MAX_STRING = 512
_INT_MIN, _INT_MAX = -(1 << 63), (1 << 63) - 1
#: Every directory value, whatever its type: (dir_id, field_id).
_DIR_META_ALL = " UNION ALL ".join(
    f"SELECT dir_id, field_id FROM dir_meta_{t}" for t in FIELD_TYPES
)


def field_type(name: str) -> FieldType:
    """Return the canonical type for a type name (``int``, ``varchar(64)``, ...).

    Raises:
        InvalidArgument: not a known type.
    """
    key = name.strip().lower()
    key = re.sub(r"\(\d+\)$", "", key)  # DIRAC's varchar(N)
    found = _TYPE_NAMES.get(key)
    if found is None:
        raise InvalidArgument(f"unknown metadata type {name!r}: use int, float, string or date")
    return found


def coerce(name: str, type_: FieldType, value: Any) -> MetaScalar:
    """Return ``value`` (typed, or text as typed on a command line) as a ``type_`` value.

    Raises:
        InvalidArgument: the value does not fit the field type; the message
            names the field.
    """
    kind = type(value)
    if (kind is int and type_ == "int" and _INT_MIN <= value <= _INT_MAX) or (
        kind is str and type_ == "string" and 0 < len(value) <= _MAX_STRING
    ):
        return cast("MetaScalar", value)  # the common cases, fast
    if type_ == "int":
        out: MetaScalar | None = _as_int(value)
    elif type_ == "float":
        out = _as_float(value)
    elif type_ == "date":
        out = _as_date(value)
    else:
        out = value if isinstance(value, str) and 0 < len(value) <= _MAX_STRING else None
        if isinstance(value, str) and len(value) > _MAX_STRING:
            raise InvalidArgument(f"{name}: string longer than {_MAX_STRING} characters")
    if out is None:
        article = "an" if type_ == "int" else "a"
        raise InvalidArgument(f"{name}: {value!r} is not {article} {type_}")
    return out


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            return None
    if isinstance(value, int) and _INT_MIN <= value <= _INT_MAX:
        return value
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _as_date(value: Any) -> datetime | None:
    if isinstance(value, str):
        from dfc.catalog._query import parse_date

        try:
            return parse_date(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return None


def _upsert(level: FieldLevel, type_: FieldType) -> str:
    owner = "dir_id" if level == "dir" else "file_id"
    return (
        f"INSERT INTO {level}_meta_{type_} ({owner}, field_id, value) VALUES (?, ?, ?) "
        f"ON CONFLICT ({owner}, field_id) DO UPDATE SET value = excluded.value"
    )


_UPSERTS = {
    (level, type_): _upsert(level, type_) for level in ("dir", "file") for type_ in FIELD_TYPES
}
_SET_CHUNK = 10_000


class MetaMixin(NamespaceMixin, StreamMixin):
    """Declare metadata fields; set, get and remove values."""

    # ------------------------------------------------------------ fields
    def _fields(self) -> dict[str, Field]:
        # The query language and the metadata records load on first use (CLI start-up).
        from dfc.catalog._query import Field

        rows = self._fetchall("SELECT id, name, level, type FROM meta_fields")
        return {name: Field(name, level, type_, fid) for fid, name, level, type_ in rows}

    def meta_fields(self) -> list[MetaField]:
        """Return every declared field, sorted by name."""
        from dfc.catalog._records import MetaField

        return [
            MetaField(f.name, cast("FieldLevel", f.level), f.type)
            for f in sorted(self._fields().values(), key=lambda f: f.name)
        ]

    def meta_index(self, name: str, type_name: str, level: FieldLevel) -> bool:
        """Declare field ``name`` of type ``type_name`` at ``level`` (``dir`` or ``file``).

        Returns:
            True if declared now, False if it existed already with that level and type.

        Raises:
            InvalidArgument: a malformed or reserved name, or an unknown type or level.
            MetadataConflict: the name exists at the other level or with another type.
        """
        if not _FIELD_NAME(name):
            raise InvalidArgument(
                f"invalid metadata field name {name!r}: a letter, then letters, digits or '_'"
            )
        from dfc.catalog._query import RESERVED

        if name.lower() in RESERVED:
            raise InvalidArgument(f"{name} is a standard file attribute, not a metadata field")
        if level not in ("dir", "file"):
            raise InvalidArgument(f"invalid metadata level {level!r}: use dir or file")
        type_ = field_type(type_name)
        old = self._fields().get(name)
        if old is not None:
            if (old.level, old.type) == (level, type_):
                return False
            where = "directories" if old.level == "dir" else "files"
            raise MetadataConflict(
                f"metadata field {name} is already defined for {where} ({old.type})"
            )
        _, db_now = self._now()
        self._exec(
            "INSERT INTO meta_fields (name, level, type, ctime) VALUES (?, ?, ?, ?)",
            [name, level, type_, db_now],
        )
        return True

    def meta_unindex(self, name: str) -> None:
        """Remove field ``name`` and every value of it.

        Raises:
            NotFound: no such field.
        """
        fld = self._fields().get(name)
        if fld is None:
            raise NotFound(f"metadata field {name} not defined")
        self._exec(f"DELETE FROM {fld.level}_meta_{fld.type} WHERE field_id = ?", [fld.id])
        self._exec("DELETE FROM meta_fields WHERE id = ?", [fld.id])

    def _field(self, fields: Mapping[str, Field], name: str) -> Field:
        fld = fields.get(name)
        if fld is None:
            raise InvalidArgument(
                f"metadata field {name} not defined (declare it with `dfc meta index`)"
            )
        return fld

    # ------------------------------------------------------------ set
    def meta_set(self, items: Sequence[tuple[str, Mapping[str, Any]]]) -> BulkResult[None]:
        """Set metadata values: ``(path, {field: value})`` for files and directories.

        Values may be typed (int, float, str, datetime) or text as typed on a
        command line; each is checked against its field's type. An item is
        written whole or not at all. A constant number of statements per chunk
        of files; directories are checked one by one for conflicts.

        Returns:
            Per path: success, or :class:`~dfc.errors.LFNNotFound`,
            :class:`~dfc.errors.InvalidArgument` (unknown field, wrong level,
            badly typed value), :class:`~dfc.errors.MetadataConflict` (an
            ancestor or subdirectory sets the field already).
        """
        result: BulkResult[None] = BulkResult()
        fields = self._fields()
        for part in chunks(items, _SET_CHUNK):
            paths = [p for p, _ in part]
            files = self._ids_of_files(paths)
            rest = [p for p in paths if p not in files]
            dirs = self._dirs_by_path(rest) if rest else {}
            rows: dict[FieldType, list[tuple[Any, ...]]] = {t: [] for t in FIELD_TYPES}
            for path, meta in part:
                file_id = files.get(path)
                try:
                    if file_id is not None:
                        for fld, value in self._typed(path, meta, fields, "file"):
                            rows[fld.type].append((file_id, fld.id, value))
                    elif path in dirs:
                        self._set_dir(path, dirs[path][0], self._typed(path, meta, fields, "dir"))
                    else:
                        raise LFNNotFound(f"{path}: no such file or directory")
                except DFCError as exc:
                    result.failed[path] = exc
                    continue
                result.succeeded[path] = None
            for type_, table_rows in rows.items():
                table_rows.sort()  # primary-key order: neighbouring B-tree pages
                self._many(_UPSERTS[("file", type_)], table_rows)
        return result

    def _ids_of_files(self, lfns: Sequence[str]) -> dict[str, int]:
        """Return LFN -> file id for those ``lfns`` that are files.

        Directories are looked up first (few). A directory most of whose files
        are asked for (known from its usage counter) is read in one index range
        scan of ``(dir_id, name)``, four to five times faster than probing each
        name; the others are probed by ``(dir_id, name)`` in index order.
        """
        wanted: dict[str, dict[str, str]] = {}  # parent -> name -> lfn
        for lfn in lfns:
            head, _, name = lfn.rpartition("/")
            wanted.setdefault(head or "/", {})[name] = lfn
        dirs = {path: row[0] for path, row in self._dirs_by_path(wanted).items()}
        sizes = self._dir_file_counts(list(dirs.values()))
        out: dict[str, int] = {}
        probes: list[tuple[int, str]] = []
        for head, names in wanted.items():
            dir_id = dirs.get(head)
            if dir_id is None:
                continue
            if len(names) * 4 < sizes.get(dir_id, 0):
                probes += [(dir_id, name) for name in names]
                continue
            sql = "SELECT name, id FROM files WHERE dir_id = ?"
            for name, file_id in self._fetchall(sql, [dir_id]):
                asked = names.get(name)
                if asked is not None:
                    out[asked] = file_id
        probes.sort()
        heads = {dir_id: head for head, dir_id in dirs.items()}
        for (dir_id, name), row in self._files_by_dir_name(probes).items():
            out[wanted[heads[dir_id]][name]] = row[2]
        return out

    def _dir_file_counts(self, dir_ids: list[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for part in chunks(sorted(dir_ids)):
            sql = (
                "SELECT dir_id, files FROM dir_usage "
                f"WHERE se_id = 0 AND dir_id IN ({marks(len(part))})"
            )
            out.update(self._fetchall(sql, part))
        return out

    def _typed(
        self, path: str, meta: Mapping[str, Any], fields: Mapping[str, Field], level: FieldLevel
    ) -> list[tuple[Field, Any]]:
        """The fields and values of one item, checked and ready to bind."""
        out: list[tuple[Field, Any]] = []
        for name, value in meta.items():
            fld = fields.get(name)
            if fld is None:
                fld = self._field(fields, name)
            if fld.level != level:
                kind = "a directory" if fld.level == "dir" else "a file"
                target = "directory" if level == "dir" else "file"
                raise InvalidArgument(
                    f"{name} is {kind} field: it cannot be set on {target} {path}"
                )
            typed = coerce(name, fld.type, value)
            if fld.type == "date":
                typed = self._bind(typed)
            out.append((fld, typed))
        return out

    def _bind(self, value: MetaScalar) -> Any:
        return to_db_time(value, self._dialect) if isinstance(value, datetime) else value

    def _set_dir(self, path: str, dir_id: int, typed: list[tuple[Field, Any]]) -> None:
        for fld, _ in typed:
            self._check_conflict(path, dir_id, fld)
        for fld, value in typed:
            self._exec(_UPSERTS[("dir", fld.type)], [dir_id, fld.id, value])

    def _lock_fields(self, field_ids: Sequence[int]) -> None:
        """Serialise conflict checks of these fields on PostgreSQL (SQLite serialises writers).

        Two writers setting one field on a directory and on its subdirectory at
        once would each see no conflict; the second now waits for the first.
        ``NO KEY UPDATE`` leaves other writers of values of the fields alone.
        """
        if self._sqlite or not field_ids:
            return
        ids = sorted(set(field_ids))
        self._fetchall(
            f"SELECT id FROM meta_fields WHERE id IN ({marks(len(ids))}) ORDER BY id "
            "FOR NO KEY UPDATE",
            ids,
        )

    def _check_conflict(self, path: str, dir_id: int, fld: Field) -> None:
        """Raise MetadataConflict if another directory of ``path``'s branch sets ``fld``."""
        self._lock_fields([fld.id])
        below, params = subtree("md", path, sqlite=self._sqlite)
        parents = _lfn.parents(path)
        above = f"md.path IN ({marks(len(parents))}) OR " if parents else ""
        sql = (
            f"SELECT md.path FROM dir_meta_{fld.type} m JOIN directories md ON md.id = m.dir_id "
            f"WHERE m.field_id = ? AND m.dir_id <> ? AND ({above}({below})) "
            "ORDER BY md.path LIMIT 1"
        )
        rows = self._fetchall(sql, [fld.id, dir_id, *parents, *params])
        if rows:
            other = rows[0][0]
            where = "an ancestor" if other in parents else "a subdirectory"
            raise MetadataConflict(
                f"metadata conflict for {fld.name} at {path}: {where}, {other}, sets it already"
            )

    # ------------------------------------------------------------ get
    def meta_get(self, path: str) -> dict[str, MetaValue]:
        """Return the metadata of a file or directory: own values and inherited ones.

        By field name, sorted (a path has at most one value of each field); an
        inherited value names the directory that sets it.

        Raises:
            LFNNotFound: nothing is registered at ``path``.
        """
        from dfc.catalog._records import MetaValue

        out: list[MetaValue] = []
        chain = _lfn.parents(path)
        dir_row = self._dirs_by_path([path]).get(path)
        if dir_row is not None:
            chain.append(path)
        else:
            file_row = self._files_by_lfn([path]).get(path)
            if file_row is None:
                raise LFNNotFound(f"{path}: no such file or directory")
            for type_ in FIELD_TYPES:
                sql = (
                    f"SELECT fld.name, m.value FROM file_meta_{type_} m "
                    "JOIN meta_fields fld ON fld.id = m.field_id WHERE m.file_id = ?"
                )
                for name, value in self._fetchall(sql, [file_row[0]]):
                    out.append(MetaValue(name, _read(type_, value), type_, "file", path, False))
        for type_ in FIELD_TYPES:
            sql = (
                f"SELECT d.path, fld.name, m.value FROM dir_meta_{type_} m "
                "JOIN directories d ON d.id = m.dir_id JOIN meta_fields fld ON fld.id = m.field_id "
                f"WHERE d.path IN ({marks(len(chain))})"
            )
            for owner, name, value in self._fetchall(sql, chain):
                value = _read(type_, value)
                out.append(MetaValue(name, value, type_, "dir", owner, owner != path))
        return {v.name: v for v in sorted(out, key=lambda v: (v.name, v.owner))}

    # ------------------------------------------------------------ remove
    def meta_rm(self, items: Sequence[tuple[str, Sequence[str]]]) -> BulkResult[None]:
        """Remove values ``(path, [field, ...])``; a field not set there is a success.

        Returns:
            Per path: success, or :class:`~dfc.errors.LFNNotFound`,
            :class:`~dfc.errors.InvalidArgument` (unknown field, wrong level, or
            a value inherited from an ancestor, which must be removed there).
        """
        result: BulkResult[None] = BulkResult()
        fields = self._fields()
        for part in chunks(items):
            paths = [p for p, _ in part]
            files = self._files_by_lfn(paths)
            rest = [p for p in paths if p not in files]
            dirs = self._dirs_by_path(rest) if rest else {}
            for path, names in part:
                try:
                    if path in files:
                        self._rm_values(path, files[path][0], names, fields, "file")
                    elif path in dirs:
                        self._rm_values(path, dirs[path][0], names, fields, "dir")
                    else:
                        raise LFNNotFound(f"{path}: no such file or directory")
                except DFCError as exc:
                    result.failed[path] = exc
                else:
                    result.succeeded[path] = None
        return result

    def _rm_values(
        self,
        path: str,
        owner_id: int,
        names: Sequence[str],
        fields: Mapping[str, Field],
        level: FieldLevel,
    ) -> None:
        owner = "dir_id" if level == "dir" else "file_id"
        chosen: list[Field] = []
        for name in names:
            fld = self._field(fields, name)
            if fld.level != level:
                kind = "a directory" if fld.level == "dir" else "a file"
                raise InvalidArgument(f"{name} is {kind} field, not set on {path}")
            chosen.append(fld)
        for fld in chosen:
            gone = self._fetchall(
                f"DELETE FROM {level}_meta_{fld.type} WHERE {owner} = ? AND field_id = ? "
                f"RETURNING {owner}",
                [owner_id, fld.id],
            )
            if not gone and level == "dir":
                self._refuse_inherited(path, fld)

    def _refuse_inherited(self, path: str, fld: Field) -> None:
        parents = _lfn.parents(path)
        if not parents:
            return
        sql = (
            f"SELECT md.path FROM dir_meta_{fld.type} m JOIN directories md ON md.id = m.dir_id "
            f"WHERE m.field_id = ? AND md.path IN ({marks(len(parents))})"
        )
        rows = self._fetchall(sql, [fld.id, *parents])
        if rows:
            raise InvalidArgument(
                f"{fld.name} of {path} is inherited from {rows[0][0]}: remove it there"
            )

    # ------------------------------------------------------------ moves
    def _check_move_meta(self, src: str, dst: str) -> None:
        """Refuse to move directory ``src`` to ``dst`` if a field would be set twice.

        Raises:
            MetadataConflict: a directory field set in the ``src`` tree is set
                on an ancestor of ``dst`` too.
        """
        parents = _lfn.parents(dst)
        below, params = subtree("md", src, sqlite=self._sqlite)
        sql = (
            f"SELECT a.field_id, md.path FROM ({_DIR_META_ALL}) a "
            f"JOIN directories md ON md.id = a.dir_id WHERE {below}"
        )
        inside = self._fetchall(sql, params)
        self._lock_fields([fid for fid, _ in inside])
        sql = (
            f"SELECT DISTINCT a.field_id, md.path FROM ({_DIR_META_ALL}) a "
            f"JOIN directories md ON md.id = a.dir_id WHERE md.path IN ({marks(len(parents))})"
        )
        above = {fid: owner for fid, owner in self._fetchall(sql, parents)}
        if not above:
            return
        names = {f.id: f.name for f in self._fields().values()}
        for fid, owner in inside:
            if fid in above:
                raise MetadataConflict(
                    f"cannot move {src} to {dst}: {names.get(fid, fid)} is set on {owner} "
                    f"and on {above[fid]}"
                )


def _read(type_: FieldType, value: Any) -> MetaScalar:
    if type_ == "date":
        return from_db_time(value)
    if type_ == "float":
        return float(value)
    if type_ == "int":
        return int(value)
    return str(value)
