"""DIRAC's metadata query language: parser and compiler to SQL.

A query is a list of terms ``name OP value`` joined by AND (``MetaQuery.py``
of DIRAC, whose worked examples the tests replay):

- operators ``=, !=, <, >, <=, >=``; a comma list turns ``=`` into *in* and
  ``!=`` into *not in*; the same name repeated with ``=`` means OR, other
  repeats mean AND;
- ``Any`` (the field is set) and ``Missing`` (it is not);
- ``*`` and ``?`` wildcards in string values;
- values typed by the field: ``int``, ``float``, ``date`` (ISO 8601), else
  string; quotes are stripped and a quoted value may span several words;
- the standard file attributes are fields too (``Name``, ``Size``, ``SE``,
  ``Owner``, ``Group``, ``Status``, ``GUID``, ``CreationDate``,
  ``ModificationDate``, ``Checksum``, with DIRAC's aliases ``FileName``,
  ``User``, ``CheckSum``), and ``Path=/dir`` narrows the scope.

Fixes over DIRAC: an operator is found at its first position in a term (so a
value may contain ``=`` or ``<``), a quoted value is literal (no comma split),
an empty value is an error, and wildcards match case-sensitively on every
backend (SQLite ``GLOB``, PostgreSQL ``LIKE``).

The compiler turns a query into one SQL condition over ``directories d JOIN
files f``: directory fields are inherited by path range (a directory that sets
a value selects itself and every directory below it), file fields and
attributes are index lookups; nothing is filtered in Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dfc import lfn as _lfn
from dfc.catalog._values import to_db_time
from dfc.errors import InvalidLFN, InvalidQuery

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dfc.catalog._records import FieldLevel, FieldType, MetaScalar

__all__ = [
    "ALIASES",
    "STANDARD",
    "Field",
    "Query",
    "Term",
    "below_md",
    "compile_where",
    "parse",
    "parse_value",
    "split_scope",
]

#: The standard file attributes: name -> (column, type).
STANDARD: dict[str, tuple[str, FieldType]] = {
    "Name": ("f.name", "string"),
    "Size": ("f.size", "int"),
    "SE": ("s.name", "string"),
    "Owner": ("f.owner", "string"),
    "Group": ("f.grp", "string"),
    "Status": ("f.status", "string"),
    "GUID": ("f.guid", "string"),
    "CreationDate": ("f.ctime", "date"),
    "ModificationDate": ("f.mtime", "date"),
    "Checksum": ("f.adler32", "string"),
}
#: DIRAC's other spellings of standard attributes.
ALIASES = {"FileName": "Name", "User": "Owner", "CheckSum": "Checksum"}
#: Names no declared field may take (compared case-insensitively).
RESERVED = frozenset(n.lower() for n in (*STANDARD, *ALIASES, "Path"))

# Longest operators first: at one position ">=" wins over ">".
_OPS = (">=", "<=", "!=", ">", "<", "=")
_OP_RE = re.compile(r">=|<=|!=|>|<|=")
_RANGE = frozenset({"<", ">", "<=", ">="})
_HEX8 = re.compile(r"[0-9a-f]{1,8}").fullmatch


@dataclass(frozen=True, slots=True)
class Field:
    """A field a query can name: a declared one (with its id) or an attribute."""

    name: str
    level: FieldLevel | None  # None: a standard attribute
    type: FieldType
    id: int = 0


@dataclass(slots=True)
class Term:
    """Everything a query says about one field.

    ``eq`` values and patterns are OR-ed, ``ne`` ones are all excluded,
    ``ranges`` are AND-ed; ``any``/``missing`` ask whether the field is set.
    """

    fld: Field
    eq: list[MetaScalar] = field(default_factory=list)
    eq_patterns: list[str] = field(default_factory=list)
    ne: list[MetaScalar] = field(default_factory=list)
    ne_patterns: list[str] = field(default_factory=list)
    ranges: list[tuple[str, MetaScalar]] = field(default_factory=list)
    any: bool = False
    missing: bool = False
    # The shape DIRAC's parser gives, for display: op -> value(s).
    shown: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Query:
    """A parsed query: the terms by field name and any ``Path=`` scopes."""

    terms: dict[str, Term] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when no term restricts the files (DIRAC: such a query finds nothing)."""
        return not self.terms

    def as_dict(self) -> dict[str, Any]:
        """The query as DIRAC's parser would show it (``{'Run': {'>': 100}}``)."""
        out: dict[str, Any] = {}
        for name, term in self.terms.items():
            shown = dict(term.shown)
            if list(shown) == ["="]:
                out[name] = shown["="]
            elif list(shown) == ["or"]:
                out[name] = shown["or"]
            else:
                out[name] = shown
        if self.paths:
            out["Path"] = self.paths[0] if len(self.paths) == 1 else list(self.paths)
        return out


# ---------------------------------------------------------------- parsing
def _split_term(arg: str) -> tuple[str, str, str]:
    match = _OP_RE.search(arg)
    if match is None or match.start() == 0:
        raise InvalidQuery(f"Illegal query element {arg}")
    return arg[: match.start()], match.group(), arg[match.end() :]


def _tokens(args: Sequence[str]) -> list[tuple[str, str, str, bool]]:
    """Split argv into ``(name, op, raw value, quoted)`` with DIRAC's quote joining."""
    out: list[tuple[str, str, str, bool]] = []
    pending: tuple[str, str, str, str] | None = None  # name, op, text so far, quote
    for arg in args:
        if pending is not None:
            name, op, text, quote = pending
            text = f"{text} {arg}"
            if arg.endswith(quote):
                out.append((name, op, text[1:-1], True))
                pending = None
            else:
                pending = (name, op, text, quote)
            continue
        name, op, value = _split_term(arg)
        if value[:1] in ("'", '"'):
            quote = value[0]
            if len(value) > 1 and value.endswith(quote):
                out.append((name, op, value[1:-1], True))
            else:
                pending = (name, op, value, quote)
            continue
        out.append((name, op, value, False))
    if pending is not None:
        raise InvalidQuery(f"unterminated quote in query element {pending[0]}{pending[1]}")
    return out


def parse_value(name: str, type_: FieldType, raw: str) -> MetaScalar:
    """Return ``raw`` typed for a field of type ``type_``.

    Raises:
        InvalidQuery: the text is not a value of that type.
    """
    try:
        if type_ == "int":
            return int(raw)
        if type_ == "float":
            return float(raw)
        if type_ == "date":
            return parse_date(raw)
    except ValueError:
        article = "an" if type_ == "int" else "a"
        raise InvalidQuery(f"{name}: {raw!r} is not {article} {type_}") from None
    return raw


def parse_date(raw: str) -> datetime:
    """Parse an ISO 8601 date or date-time; naive values are UTC.

    Raises:
        ValueError: not an ISO 8601 date.
    """
    value = datetime.fromisoformat(raw.strip())
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _wild(value: MetaScalar, type_: FieldType) -> bool:
    return type_ == "string" and isinstance(value, str) and ("*" in value or "?" in value)


def _field_of(name: str, fields: Mapping[str, Field]) -> Field:
    name = ALIASES.get(name, name)
    if name in STANDARD:
        return Field(name, None, STANDARD[name][1])
    found = fields.get(name)
    if found is None:
        raise InvalidQuery(f"Metadata field {name} not defined")
    return found


def _values(fld: Field, raw: str, quoted: bool) -> list[MetaScalar]:
    items = [raw] if quoted else raw.split(",")
    out: list[MetaScalar] = []
    for item in items:
        item = item.strip() if not quoted else item
        if not quoted and item[:1] in ("'", '"') and item[-1:] == item[:1] and len(item) > 1:
            item = item[1:-1]
        if item == "":
            raise InvalidQuery(f"empty value for {fld.name} in the query")
        value = parse_value(fld.name, fld.type, item)
        if fld.name == "Checksum" and isinstance(value, str):
            value = value.lower()
            value = value.zfill(8) if _HEX8(value) else value
        out.append(value)
    return out


def _special(term: Term, op: str, raw: str) -> None:
    """``Any`` (the field is set) or ``Missing`` (it is not)."""
    if op not in ("=", "!="):
        raise InvalidQuery(f"{term.fld.name}{op}{raw}: {raw} needs = or !=")
    if (raw == "Any") == (op == "="):
        term.any = True
    else:
        term.missing = True
    term.shown[op] = raw


def _add(term: Term, op: str, values: list[MetaScalar], raw: str) -> None:
    name = term.fld.name
    # Shown as DIRAC shows them: typed, except dates, shown as given.
    shown: list[Any] = raw.split(",") if term.fld.type == "date" else list(values)
    if op in _RANGE:
        if len(values) != 1:
            raise InvalidQuery(f"{name}{op}{raw}: a list needs = or !=")
        term.ranges.append((op, values[0]))
        term.shown[op] = shown[0]
        return
    ftype = term.fld.type
    exact = [v for v in values if not _wild(v, ftype)]
    patterns = [str(v) for v in values if _wild(v, ftype)]
    if op == "=":
        term.eq.extend(exact)
        term.eq_patterns.extend(patterns)
        _show_eq(term, shown, many=len(values) > 1)
    else:
        term.ne.extend(exact)
        term.ne_patterns.extend(patterns)
        old = term.shown.pop("!=", None)
        if old is not None or len(values) > 1:
            prev = [] if old is None else [old]
            term.shown["nin"] = [*term.shown.get("nin", []), *prev, *shown]
        else:
            term.shown["!="] = shown[0]


def _show_eq(term: Term, values: list[Any], *, many: bool) -> None:
    shown = term.shown
    if many:
        shown["in"] = [*shown.get("in", []), *values]
    elif "=" in shown or "or" in shown:
        prev = shown.pop("or", None) or [shown.pop("=")]
        shown["or"] = sorted({*prev, values[0]}, key=str)
    else:
        shown["="] = values[0]


def parse(args: Sequence[str], fields: Mapping[str, Field]) -> Query:
    """Parse query terms (argv words, or a string's ``split()``).

    Args:
        args: the terms, e.g. ``["Run>100", "Type=RAW"]``.
        fields: the declared fields by name.

    Raises:
        InvalidQuery: a malformed term, an unknown field or a badly typed value;
            the message names it.
    """
    query = Query()
    for name, op, raw, quoted in _tokens(args):
        if name == "Path":
            if op != "=":
                raise InvalidQuery(f"Path{op}{raw}: Path takes =")
            try:
                query.paths.append(_lfn.validate(raw))
            except InvalidLFN as exc:
                raise InvalidQuery(f"Path={raw}: {exc}") from None
            continue
        fld = _field_of(name, fields)
        term = query.terms.get(fld.name)
        if term is None:
            term = query.terms[fld.name] = Term(fld)
        if raw == "":
            raise InvalidQuery(f"Illegal query element {name}{op} (empty value)")
        if raw in ("Any", "Missing") and not quoted:
            _special(term, op, raw)
        else:
            _add(term, op, _values(fld, raw, quoted), raw)
    return query


def split_scope(words: Sequence[str]) -> tuple[str | None, list[str]]:
    """Split ``PATH TERM...`` into the path (None if absent) and the terms.

    A leading word that starts with ``/`` is the path.

    Raises:
        InvalidQuery: the path is not a valid LFN.
    """
    if words and words[0].startswith("/"):
        try:
            return _lfn.validate(words[0]), list(words[1:])
        except InvalidLFN as exc:
            raise InvalidQuery(str(exc)) from None
    return None, list(words)


# ---------------------------------------------------------------- compiling
@dataclass(slots=True)
class _Sql:
    sqlite: bool
    parts: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def bind(self, value: MetaScalar) -> Any:
        if isinstance(value, datetime):
            return to_db_time(value, "sqlite" if self.sqlite else "postgresql")
        return value

    def pattern(self, col: str, text: str) -> tuple[str, str]:
        if self.sqlite:
            return f"{col} GLOB ?", text.replace("[", "[[]")
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"{col} LIKE ? ESCAPE '\\'", escaped.replace("*", "%").replace("?", "_")


def _conds(sql: _Sql, term: Term, col: str) -> tuple[list[str], list[Any]]:
    """The conditions of ``term`` on ``col`` (AND-ed) and their parameters."""
    out: list[str] = []
    params: list[Any] = []
    if term.eq or term.eq_patterns:
        alts: list[str] = []
        if len(term.eq) == 1:
            alts.append(f"{col} = ?")
        elif term.eq:
            alts.append(f"{col} IN ({','.join('?' * len(term.eq))})")
        params += [sql.bind(v) for v in term.eq]
        for pat in term.eq_patterns:
            cond, param = sql.pattern(col, pat)
            alts.append(cond)
            params.append(param)
        out.append(alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")")
    if term.ne:
        out.append(
            f"{col} <> ?" if len(term.ne) == 1 else f"{col} NOT IN ({','.join('?' * len(term.ne))})"
        )
        params += [sql.bind(v) for v in term.ne]
    for pat in term.ne_patterns:
        cond, param = sql.pattern(col, pat)
        out.append(f"NOT {cond}")
        params.append(param)
    for op, value in term.ranges:
        out.append(f"{col} {op} ?")
        params.append(sql.bind(value))
    return out, params


def below_md(alias: str) -> str:
    """SQL: directory ``alias`` is the directory ``md`` (that holds a value) or below it.

    One range on the path index per ``md`` row, plus a residual test that
    drops siblings such as ``md-x`` which sort inside the range.
    """
    col = f"{alias}.path"
    return (
        f"{col} >= md.path AND {col} < (CASE WHEN md.path = '/' THEN '0' ELSE md.path || '0' END) "
        f"AND ({col} = md.path OR md.path = '/' OR substr({col}, length(md.path) + 1, 1) = '/')"
    )


def _dir_term(sql: _Sql, term: Term) -> None:
    table = f"dir_meta_{term.fld.type}"
    conds, params = _conds(sql, term, "m.value")
    inherit = (
        f"SELECT x.id FROM {table} m JOIN directories md ON md.id = m.dir_id "
        f"JOIN directories x ON {below_md('x')} WHERE m.field_id = ?"
    )
    fid = term.fld.id
    if term.missing:
        sql.parts.append(f"d.id NOT IN ({inherit})")
        sql.params.append(fid)
    if term.any or conds:
        where = "".join(f" AND {c}" for c in conds)
        sql.parts.append(f"d.id IN ({inherit}{where})")
        sql.params += [fid, *params]


def _file_term(sql: _Sql, term: Term) -> None:
    table = f"file_meta_{term.fld.type}"
    conds, params = _conds(sql, term, "m.value")
    probe = f"SELECT 1 FROM {table} m WHERE m.file_id = f.id AND m.field_id = ?"
    fid = term.fld.id
    if term.missing:
        sql.parts.append(f"NOT EXISTS ({probe})")
        sql.params.append(fid)
    if term.any or conds:
        where = "".join(f" AND {c}" for c in conds)
        sql.parts.append(f"EXISTS ({probe}{where})")
        sql.params += [fid, *params]


def _se_term(sql: _Sql, term: Term) -> None:
    probe = (
        "SELECT 1 FROM replicas r JOIN storage_elements s ON s.id = r.se_id WHERE r.file_id = f.id"
    )
    if term.missing:
        sql.parts.append(f"NOT EXISTS ({probe})")
    if term.any:
        sql.parts.append(f"EXISTS ({probe})")
    # "SE!=X": no replica at X (not "a replica somewhere else").
    excluded = Term(term.fld, eq=term.ne, eq_patterns=term.ne_patterns)
    conds, params = _conds(sql, excluded, "s.name")
    if conds:
        sql.parts.append(f"NOT EXISTS ({probe} AND {' AND '.join(conds)})")
        sql.params += params
    wanted = Term(term.fld, eq=term.eq, eq_patterns=term.eq_patterns, ranges=term.ranges)
    conds, params = _conds(sql, wanted, "s.name")
    if conds:
        sql.parts.append(f"EXISTS ({probe} AND {' AND '.join(conds)})")
        sql.params += params


def _std_term(sql: _Sql, term: Term) -> None:
    if term.fld.name == "SE":
        _se_term(sql, term)
        return
    if term.missing:  # attributes are always set
        sql.parts.append("1 = 0")
    conds, params = _conds(sql, term, STANDARD[term.fld.name][0])
    sql.parts += conds
    sql.params += params


def compile_where(
    query: Query, scopes: Sequence[tuple[str, list[Any]]], *, sqlite: bool
) -> tuple[str, list[Any]]:
    """Compile ``query`` to one condition on ``directories d`` joined with ``files f``.

    Args:
        query: the parsed query.
        scopes: conditions on ``d`` that limit the search (path ranges).
        sqlite: compile for SQLite (else PostgreSQL).

    Returns:
        ``(sql, params)`` with ``?`` placeholders.
    """
    sql = _Sql(sqlite)
    for cond, params in scopes:
        sql.parts.append(f"({cond})")
        sql.params += params
    for term in query.terms.values():
        if term.fld.level == "dir":
            _dir_term(sql, term)
        elif term.fld.level == "file":
            _file_term(sql, term)
        else:
            _std_term(sql, term)
    return " AND ".join(sql.parts) or "1 = 1", sql.params
