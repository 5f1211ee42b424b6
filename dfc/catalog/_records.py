"""Values returned by the metadata, dataset, usage and dump operations.

Frozen dataclasses, like :mod:`dfc.models` (they render through
:func:`dfc.models.to_json`); they hold no database state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

__all__ = [
    "DatasetCheck",
    "DatasetInfo",
    "DumpEntry",
    "FieldLevel",
    "FieldType",
    "MetaField",
    "MetaScalar",
    "MetaValue",
    "SEUsage",
    "Usage",
]

#: Where a field lives: on directories (inherited below) or on files.
FieldLevel = Literal["dir", "file"]
#: The value type of a field.
FieldType = Literal["int", "float", "string", "date"]
#: A typed metadata value as returned to callers.
MetaScalar = int | float | str | datetime


@dataclass(frozen=True, slots=True)
class MetaField:
    """A declared (indexed) metadata field.

    Attributes:
        name: the field name, e.g. ``softwareVersion``.
        level: ``dir`` (set on directories, inherited below) or ``file``.
        type: ``int``, ``float``, ``string`` or ``date``.
    """

    name: str
    level: FieldLevel
    type: FieldType


@dataclass(frozen=True, slots=True)
class MetaValue:
    """One metadata value of a path, own or inherited.

    Attributes:
        name: the field name.
        value: the typed value.
        type: the field type.
        level: the field level.
        owner: the path where the value is set.
        inherited: True when ``owner`` is an ancestor of the path asked about.
    """

    name: str
    value: MetaScalar
    type: FieldType
    level: FieldLevel
    owner: str
    inherited: bool

    def __str__(self) -> str:
        """The value as text (ISO 8601 for dates)."""
        value = self.value
        return value.isoformat() if isinstance(value, datetime) else str(value)


@dataclass(frozen=True, slots=True)
class SEUsage:
    """Replicas and their bytes at one storage element."""

    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Usage:
    """Logical and physical usage of a directory (or one file).

    Attributes:
        path: the directory or file.
        files: logical files below (or in, with ``own``) the directory.
        bytes: their total size.
        directories: directories below (or directly in, with ``own``).
        ses: per storage element, replicas and bytes (SE name order).
    """

    path: str
    files: int
    bytes: int
    directories: int
    ses: dict[str, SEUsage] = field(default_factory=dict)

    @property
    def replicas(self) -> int:
        """Replicas at all SEs."""
        return sum(u.files for u in self.ses.values())

    @property
    def physical_bytes(self) -> int:
        """Bytes at all SEs."""
        return sum(u.bytes for u in self.ses.values())


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """A dataset: a named query, dynamic or frozen.

    Attributes:
        name: its full path.
        query: the query as typed: the scope path, then the terms.
        status: ``dynamic`` (evaluated when used) or ``frozen`` (fixed members).
        files: the number of files at the last add, update or freeze.
        bytes: their total size then.
        hash: MD5 of the sorted member LFNs then (upper-case hex).
        owner: who created it.
        group: the owner's group.
        annotation: free text, or None.
        ctime: creation time.
        mtime: time of the last update, freeze or release.
    """

    name: str
    query: str
    status: Literal["dynamic", "frozen"]
    files: int
    bytes: int
    hash: str
    owner: str
    group: str
    annotation: str | None
    ctime: datetime
    mtime: datetime


@dataclass(frozen=True, slots=True)
class DatasetCheck:
    """What changed in a dataset since its last add, update or freeze.

    Attributes:
        name: the dataset.
        old_files, new_files: member count stored, and now.
        old_bytes, new_bytes: total size stored, and now.
        old_hash, new_hash: member-list hash stored, and now.
    """

    name: str
    old_files: int
    new_files: int
    old_bytes: int
    new_bytes: int
    old_hash: str
    new_hash: str

    @property
    def changed(self) -> bool:
        """True when the members differ from the stored ones."""
        return (self.old_files, self.old_bytes, self.old_hash) != (
            self.new_files,
            self.new_bytes,
            self.new_hash,
        )


class DumpEntry(NamedTuple):
    """One file of a recursive dump (a named tuple: dumps build millions).

    Attributes:
        lfn: the file.
        size: its size in bytes.
        adler32: 8 hex digits.
        xxh3: 16 hex digits, or None.
        replicas: ``(se, pfn)`` pairs sorted by SE name.
    """

    lfn: str
    size: int
    adler32: str
    xxh3: str | None
    replicas: tuple[tuple[str, str], ...]
