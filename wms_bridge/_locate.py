"""Parse task files (TOML, or YAML when PyYAML is installed) and remember field lines.

:func:`parse` returns the document and a map from each field path (a tuple of
keys, and list indexes) to its 1-based line, so that errors can say
``task.toml:12: splitter.files_per_job: ...``. YAML positions are exact (from
the composed node tree); ``tomllib`` keeps none, so TOML keys are found by a
line scanner that understands table headers, dotted and quoted keys and inline
tables, which covers the way people write task files.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from typing import TYPE_CHECKING, Any

from wms_bridge.errors import TaskFileError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["FieldPath", "Lines", "parse"]

FieldPath = tuple[str | int, ...]
Lines = dict[FieldPath, int]

_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_KEY = rf"(?:{_BARE}|{_QUOTED})"
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(rf"^\s*({_DOTTED})\s*=")
_PART = re.compile(rf"{_KEY}")


def parse(path: Path, text: str) -> tuple[dict[str, Any], Lines]:
    """Parse a task file by its suffix: ``.yaml``/``.yml`` as YAML, else TOML.

    Raises:
        TaskFileError: a syntax error (with its line), a document that is not a
            table, or YAML without PyYAML installed.
    """
    if path.suffix.lower() in {".yaml", ".yml"}:
        return _parse_yaml(path, text)
    return _parse_toml(path, text)


def _keys(dotted: str) -> list[str]:
    out = []
    for part in _PART.findall(dotted):
        out.append(part[1:-1] if part[:1] in "\"'" else part)
    return out


def _parse_toml(path: Path, text: str) -> tuple[dict[str, Any], Lines]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TaskFileError(_toml_message(path, str(exc))) from None
    return data, _toml_lines(text)


def _toml_message(path: Path, message: str) -> str:
    found = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if found is None:
        return f"{path}: invalid TOML: {message}"
    what = message[: found.start()].strip()
    return f"{path}:{found.group(1)}: invalid TOML: {what} (column {found.group(2)})"


def _toml_lines(text: str) -> Lines:
    lines: Lines = {}
    table: list[str | int] = []
    arrays: dict[tuple[str | int, ...], int] = {}
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if in_string in line:
                in_string = None
            continue
        header = _HEADER.match(line)
        if header is not None:
            keys: list[str | int] = list(_keys(header.group(2)))
            if header.group(1) == "[[":
                key = tuple(keys)
                arrays[key] = arrays.get(key, -1) + 1
                keys.append(arrays[key])
            table = keys
            lines.setdefault(tuple(table), number)
            continue
        assign = _ASSIGN.match(line)
        if assign is None:
            continue
        field = (*table, *_keys(assign.group(1)))
        lines.setdefault(field, number)
        rest = line[assign.end() :]
        for quote in ('"""', "'''"):
            if rest.count(quote) == 1:
                in_string = quote
        _inline_keys(rest, field, number, lines)
    return lines


def _inline_keys(rest: str, field: FieldPath, number: int, lines: Lines) -> None:
    """Record the keys of a one-line inline table ``x = { a = 1, b.c = 2 }``."""
    body = rest.strip()
    if not body.startswith("{"):
        return
    for match in re.finditer(rf"[{{,]\s*({_DOTTED})\s*=", body):
        lines.setdefault((*field, *_keys(match.group(1))), number)


def _parse_yaml(path: Path, text: str) -> tuple[dict[str, Any], Lines]:
    try:
        yaml = _yaml()
    except ImportError:
        raise TaskFileError(
            f"{path}: YAML task files need PyYAML (pip install pyyaml), or write TOML"
        ) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise TaskFileError(f"{where}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise TaskFileError(f"{path}: invalid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise TaskFileError(f"{path}: a task file must be a mapping of fields")
    lines: Lines = {}
    if node is not None:
        _yaml_lines(node, (), lines)
    return data, lines


def _yaml() -> Any:
    """PyYAML, untyped (its stubs are a separate package).

    Raises:
        ImportError: PyYAML is not installed.
    """
    return importlib.import_module("yaml")


def _yaml_lines(node: Any, field: FieldPath, lines: Lines) -> None:
    yaml = _yaml()
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*field, str(key.value))
            lines.setdefault(sub, key.start_mark.line + 1)
            _yaml_lines(value, sub, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            sub = (*field, index)
            lines.setdefault(sub, item.start_mark.line + 1)
            _yaml_lines(item, sub, lines)
