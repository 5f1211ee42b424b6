"""Values as the catalogue's columns hold them: path index width, times.

Kept apart from :mod:`dfc.catalog.schema` (SQLAlchemy tables) so that the
driver-level code paths need no SQLAlchemy import.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["PATH_PREFIX", "from_db_time", "to_db_time"]

#: Characters of a directory path in PostgreSQL's range index (migration 0006): a
#: B-tree entry holds ~2,700 bytes, less than a path's 4,096.
PATH_PREFIX = 512

#: SQLite stores times as integer microseconds since the Unix epoch (UTC), exact
#: and a third of the bytes of SQLAlchemy's text form (migration 0007).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_db_time(value: datetime, dialect_name: str) -> Any:
    """Return ``value`` (timezone-aware) as the driver stores it.

    SQLite gets integer microseconds since the Unix epoch; PostgreSQL gets an
    aware datetime for its ``timestamptz`` column.

    Raises:
        ValueError: ``value`` is naive.
    """
    if value.tzinfo is None:
        raise ValueError("catalogue times must be timezone-aware")
    if dialect_name == "sqlite":
        return (value - _EPOCH) // _MICROSECOND
    return value.astimezone(UTC)


def from_db_time(value: Any) -> datetime:
    """Return a value read from a time column as an aware UTC datetime.

    Takes SQLite's integer microseconds, a datetime, or an ISO 8601 string (the
    text form of SQLite catalogues before migration 0007).

    Raises:
        TypeError: the value is none of these.
    """
    if isinstance(value, int):
        return _EPOCH + value * _MICROSECOND
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a time value: {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
