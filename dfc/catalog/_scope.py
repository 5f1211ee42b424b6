"""Path-range conditions and raw result streaming, shared by the query modules."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from dfc.catalog._base import TxBase, driver_cursor, indexed_prefix

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = ["StreamMixin", "subtree"]

_BATCH = 5000


def subtree(alias: str, path: str, *, sqlite: bool) -> tuple[str, list[str]]:
    """Return ``(sql, params)`` true for directory ``path`` and those below it.

    ``alias`` names a ``directories`` row in the query. The condition is one
    range on the indexed path column (``path <= p < path + '0'``, '0' being the
    code point after '/'), plus a residual test that drops siblings such as
    ``path-x`` which sort inside the range. No LIKE, no escaping, and
    case-sensitive on both backends. On PostgreSQL (``sqlite`` false) it also
    bounds the indexed prefix of the path (:func:`~dfc.catalog._base.indexed_prefix`).
    """
    col = f"{alias}.path"
    if path == "/":
        return f"{col} >= ?", ["/"]
    low, high = path, path + "0"
    prefix, params = ("", []) if sqlite else indexed_prefix(col, low, high)
    return (
        f"{prefix}{col} >= ? AND {col} < ? AND ({col} = ? OR {col} > ?)",
        [*params, low, high, path, path + "/"],
    )


class StreamMixin(TxBase):
    """Stream big results as plain tuples, batch by batch."""

    def _stream_raw(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        """Yield plain tuples of a query from the driver's cursor, batch by batch.

        A server-side (named) cursor on PostgreSQL, so memory stays bounded
        whatever the result size; no SQLAlchemy row objects (a third of the
        time of a big listing). Driver errors are wrapped as SQLAlchemy would,
        for :mod:`dfc.catalog._errors`.
        """
        statement, args = self._sql(sql), tuple(params)
        name = None if self._sqlite else f"dfc_{uuid.uuid4().hex}"
        with driver_cursor(self._conn, statement, args, name=name) as cursor:
            cursor.execute(statement, args)
            while batch := cursor.fetchmany(_BATCH):
                yield from batch
