"""The one boundary where SQLAlchemy and driver exceptions become DFCErrors.

SQLAlchemy is imported here only when there is an error to translate: a
catalogue opened on the standard library's ``sqlite3`` alone
(:mod:`dfc.catalog._lite`) raises the driver's own errors, which are wrapped
as SQLAlchemy would wrap them and then mapped the same way.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

from dfc.errors import (
    AlreadyExists,
    CatalogError,
    CatalogUnavailable,
    DFCError,
    InvalidArgument,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy import exc as sa_exc

__all__ = ["translate"]

_UNAVAILABLE = (
    "database is locked",
    "database table is locked",
    "connection refused",
    "could not connect",
    "connection failed",
    "server closed the connection",
    "terminating connection",
    "the database system is starting up",
    "the database system is shutting down",
    "connection timeout",
    "timeout expired",
    "deadlock detected",
    "could not serialize access",
)
_NOT_INITIALISED = ("no such table", "does not exist")
#: PostgreSQL's SQLSTATE program_limit_exceeded: an index entry over ~2,700 bytes.
_LIMIT_EXCEEDED = "54000"


def _first_line(exc: sa_exc.SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _map(exc: sa_exc.SQLAlchemyError) -> DFCError:
    from sqlalchemy import exc as sa_exc  # loaded already: ``exc`` is one of its errors

    detail = _first_line(exc)
    low = detail.lower()
    if isinstance(exc, sa_exc.IntegrityError):
        return AlreadyExists(f"catalogue constraint violated: {detail}")
    if getattr(getattr(exc, "orig", None), "sqlstate", None) == _LIMIT_EXCEEDED and (
        "index row size" in low
    ):
        # Paths have no such limit (migration 0006); the other indexed texts are
        # bounded by their checks, so this takes an odd value such as a DN of
        # 1,024 four-byte characters.
        return InvalidArgument(f"value too long for a PostgreSQL index ({detail})")
    unavailable = any(s in low for s in _UNAVAILABLE) or getattr(
        exc, "connection_invalidated", False
    )
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) and unavailable:
        return CatalogUnavailable(f"catalogue unavailable: {detail}")
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return CatalogUnavailable(f"catalogue unavailable: {detail}")
    missing = any(s in low for s in _NOT_INITIALISED) and ("relation" in low or "table" in low)
    if isinstance(exc, sa_exc.DBAPIError) and missing:
        return CatalogError(f"catalogue not initialised; run `dfc init` ({detail})")
    return CatalogError(f"catalogue error: {detail}")


@contextmanager
def translate() -> Iterator[None]:
    """Translate SQLAlchemy exceptions raised in the block into DFCErrors.

    Raises:
        AlreadyExists: a uniqueness or foreign-key constraint was violated.
        InvalidArgument: a value too long for a PostgreSQL B-tree index.
        CatalogUnavailable: the database is locked, down or unreachable.
        CatalogError: any other database failure.
    """
    try:
        yield
    except Exception as exc:
        wrapped = _as_sqlalchemy(exc)
        if wrapped is None:
            raise
        raise _map(wrapped) from exc


def _as_sqlalchemy(exc: Exception) -> sa_exc.SQLAlchemyError | None:
    """``exc`` as a SQLAlchemy error: itself, a wrapped ``sqlite3`` error, or None.

    Neither kind can be raised unless its module was imported: looking in
    :data:`sys.modules` imports nothing.
    """
    if "sqlalchemy.exc" in sys.modules:
        from sqlalchemy import exc as sa_exc  # loaded already

        if isinstance(exc, sa_exc.SQLAlchemyError):
            return exc
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(exc, sqlite3.Error):
        from sqlalchemy import exc as sa_exc

        wrapped = sa_exc.DBAPIError.instance(None, None, exc, sqlite3.Error)
        assert isinstance(wrapped, sa_exc.DBAPIError)  # an Exception always is
        return wrapped
    return None
