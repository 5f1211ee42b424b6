"""Typed access to a parsed task file, with errors that name the line and the field."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from wms_bridge.errors import TaskFileError

if TYPE_CHECKING:
    from collections.abc import Collection
    from pathlib import Path

    from wms_bridge._locate import FieldPath, Lines

__all__ = ["Doc", "MISSING", "field_name"]

MISSING: Any = object()


def field_name(field: FieldPath) -> str:
    """``("splitter", "jobvars", "E", "first")`` -> ``splitter.jobvars.E.first``."""
    out = ""
    for part in field:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


class Doc:
    """A parsed task file: values looked up by field path, checked by type."""

    def __init__(self, path: Path, data: dict[str, Any], lines: Lines) -> None:
        self.path = path
        self.data = data
        self.lines = lines

    # ------------------------------------------------------------------ errors
    def line(self, field: FieldPath) -> int | None:
        """The line of ``field``, else of its nearest enclosing field that has one."""
        for end in range(len(field), 0, -1):
            found = self.lines.get(field[:end])
            if found is not None:
                return found
        return None

    def error(self, field: FieldPath, message: str) -> TaskFileError:
        """A :class:`TaskFileError` ``file:line: field: message``."""
        line = self.line(field)
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        return TaskFileError(f"{where}: {field_name(field)}: {message}")

    def missing(self, field: FieldPath) -> TaskFileError:
        """The error for a required field that is absent (pointing at its table)."""
        table = field[:-1]
        line = self.line(table) if table else None
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        return TaskFileError(f"{where}: {field_name(field)}: missing (required)")

    # ------------------------------------------------------------------ lookup
    def get(self, field: FieldPath, default: Any = MISSING) -> Any:
        """The raw value at ``field``, or ``default`` when absent."""
        value: Any = self.data
        for part in field:
            if isinstance(part, int):
                if not isinstance(value, list) or part >= len(value):
                    return default
            elif not isinstance(value, dict) or part not in value:
                return default
            value = value[part]
        return value

    def table(self, field: FieldPath, allowed: Collection[str]) -> dict[str, Any]:
        """The table at ``field`` (empty if absent), refusing unknown keys.

        Raises:
            TaskFileError: not a table, or it has a key outside ``allowed``.
        """
        value = self.get(field, {}) if field else self.data
        if not isinstance(value, dict):
            raise self.error(field, f"expected a table, got {_show(value)}")
        self.check_keys(field, value, allowed)
        return value

    def check_keys(self, field: FieldPath, table: dict[str, Any], allowed: Collection[str]) -> None:
        """Refuse keys of ``table`` that are not in ``allowed``, suggesting a spelling.

        Raises:
            TaskFileError: naming the first unknown key.
        """
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), list(allowed), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                known = ", ".join(sorted(allowed))
                raise self.error((*field, key), f"unknown field{hint}; known: {known}")

    def string(self, field: FieldPath, *, required: bool = False) -> str | None:
        """A non-empty string, or ``None`` when absent.

        Raises:
            TaskFileError: wrong type or empty, or ``required`` and absent.
        """
        value = self.get(field)
        if value is MISSING:
            if required:
                raise self.missing(field)
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(field, f"expected a non-empty string, got {_show(value)}")
        return value

    def integer(
        self, field: FieldPath, *, minimum: int | None = None, default: int | None = None
    ) -> int | None:
        """An integer (``>= minimum``), or ``default`` when absent.

        Raises:
            TaskFileError: wrong type or too small.
        """
        value = self.get(field)
        if value is MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(field, f"expected an integer, got {_show(value)}")
        if minimum is not None and value < minimum:
            raise self.error(field, f"must be at least {minimum}, got {value}")
        return value

    def boolean(self, field: FieldPath, *, default: bool) -> bool:
        """A boolean, or ``default`` when absent.

        Raises:
            TaskFileError: wrong type.
        """
        value = self.get(field)
        if value is MISSING:
            return default
        if not isinstance(value, bool):
            raise self.error(field, f"expected true or false, got {_show(value)}")
        return value

    def strings(self, field: FieldPath) -> tuple[str, ...]:
        """A list of non-empty strings (a single string counts as a list of one).

        Raises:
            TaskFileError: wrong type.
        """
        value = self.get(field)
        if value is MISSING:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.error(field, f"expected a list of strings, got {_show(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.error((*field, index), f"expected a non-empty string, got {_show(item)}")
        return tuple(value)

    def scalar(self, field: FieldPath) -> str | int | float:
        """A string, integer or float value.

        Raises:
            TaskFileError: anything else (tables, lists, booleans, dates).
        """
        value = self.get(field)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.error(field, f"expected a string or a number, got {_show(value)}")
        return value


def _show(value: Any) -> str:
    if value is MISSING:
        return "nothing"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)
