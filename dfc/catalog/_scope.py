"""SQL conditions selecting a directory and everything below it, by path range."""

from __future__ import annotations

__all__ = ["subtree"]


def subtree(alias: str, path: str) -> tuple[str, list[str]]:
    """Return ``(sql, params)`` true for directory ``path`` and those below it.

    ``alias`` names a ``directories`` row in the query. The condition is one
    range on the indexed path column (``path <= p < path + '0'``, '0' being the
    code point after '/'), plus a residual test that drops siblings such as
    ``path-x`` which sort inside the range. No LIKE, no escaping, and
    case-sensitive on both backends.
    """
    col = f"{alias}.path"
    if path == "/":
        return f"{col} >= ?", ["/"]
    return (
        f"{col} >= ? AND {col} < ? AND ({col} = ? OR {col} > ?)",
        [path, path + "0", path, path + "/"],
    )
