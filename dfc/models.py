"""Typed values passed between the layers of dfc.

All are immutable (frozen dataclasses; :class:`Replica`, made by the million in
bulk lookups, is a named tuple, about three times cheaper to create): they are
safe to share and to hash, and they render to JSON objects through :func:`to_json`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, NamedTuple, TypeVar

if TYPE_CHECKING:
    from dfc.errors import DFCError

__all__ = [
    "BulkResult",
    "Entry",
    "EntryType",
    "FileInfo",
    "FileRecord",
    "Replica",
    "ReplicaStatus",
    "SEInfo",
    "to_json",
]

T = TypeVar("T")
EntryType = Literal["file", "directory"]

#: Replica states: ``good`` is usable; ``bad`` was found lost or corrupt (by
#: ``dfc check --mark-bad`` or a failed read) and is avoided by get and replication.
ReplicaStatus = Literal["good", "bad"]


class Replica(NamedTuple):
    """One physical copy of a file on one storage element.

    Attributes:
        se: storage element name.
        path: the path written on the SE, relative to its base URL (usually the
            LFN at the time of writing; it does not change when the LFN is renamed).
        pfn: the full physical file name: the SE's base URL followed by ``path``.
        status: ``good`` or ``bad``.
    """

    se: str
    path: str
    pfn: str = ""
    status: str = "good"


@dataclass(frozen=True, slots=True)
class Entry:
    """A directory or a file of the catalogue, with its attributes."""

    lfn: str
    type: EntryType
    owner: str
    group: str
    mode: int
    ctime: datetime
    mtime: datetime
    size: int = 0
    status: str = "good"
    adler32: str | None = None
    xxh3: str | None = None
    guid: str | None = None
    replicas: tuple[Replica, ...] = ()

    @property
    def is_dir(self) -> bool:
        """True for a directory."""
        return self.type == "directory"


@dataclass(frozen=True, slots=True)
class FileRecord:
    """A file to register: its attributes and the replicas that hold its bytes.

    ``adler32`` is 8 lower-case hex digits and ``xxh3`` 16 (use
    :mod:`dfc.checksum` to normalise). ``owner``/``group``/``mode`` default to the
    catalogue caller's identity when left empty.
    """

    lfn: str
    size: int
    adler32: str
    xxh3: str | None
    guid: str
    replicas: tuple[Replica, ...] = ()
    owner: str = ""
    group: str = ""
    mode: int = 0o644


@dataclass(frozen=True, slots=True)
class SEInfo:
    """A storage element as registered in the catalogue.

    Attributes:
        name: unique name, e.g. ``IHEP-DISK``.
        url: fsspec base URL, e.g. ``file:///data/ihep`` or ``root://host//store``.
        site: the site that hosts it, e.g. ``IHEP``.
        read: reading from it is allowed (not banned for read).
        write: writing to it is allowed (not banned for write).
    """

    name: str
    url: str
    site: str = ""
    read: bool = True
    write: bool = True

    @property
    def protocol(self) -> str:
        """The URL scheme (``file``, ``root``, ``s3``, ...)."""
        return self.url.split("://", 1)[0] if "://" in self.url else "file"

    def pfn(self, path: str) -> str:
        """Return the full PFN of ``path`` (an absolute path on this SE)."""
        return self.url.rstrip("/") + path


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What a storage element says about one of its paths."""

    path: str
    size: int
    type: EntryType = "file"
    mtime: float | None = None
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class BulkResult(Generic[T]):
    """Per-item outcome of a bulk call: never raises on the first bad item.

    Attributes:
        succeeded: item key -> value for every item that worked.
        failed: item key -> the :class:`~dfc.errors.DFCError` that stopped it.
    """

    succeeded: dict[str, T] = field(default_factory=dict)
    failed: dict[str, DFCError] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no item failed."""
        return not self.failed

    def merge(self, other: BulkResult[T]) -> None:
        """Add the items of ``other`` to this result."""
        self.succeeded.update(other.succeeded)
        self.failed.update(other.failed)

    def raise_first(self) -> None:
        """Raise the first failure, if any.

        Raises:
            DFCError: the error of the first failed item.
        """
        for err in self.failed.values():
            raise err


def to_json(value: Any) -> Any:
    """Convert models (and containers of them) to JSON-compatible values.

    Datetimes become ISO 8601 strings; dataclasses and named tuples become dicts.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: to_json(v) for k, v in value._asdict().items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value
