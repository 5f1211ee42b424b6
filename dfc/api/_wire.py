"""The wire format between a remote catalogue client and the catalogue server.

JSON, with typed values tagged so that both ends get the same Python values back:

- ``None``, booleans, integers, finite floats, strings and lists are themselves (tuples
  travel as lists and come back as tuples where a dataclass field is a tuple);
- a dict whose keys are strings is itself, unless a key is ``"$"``: then
  ``{"$": "map", "f": [[key, value], ...]}``;
- ``{"$": "T", "v": "2025-01-01T00:00:00+00:00"}``: a datetime;
- ``{"$": "set", "f": [...]}``: a (frozen) set;
- ``{"$": "Bulk", "ok": {...}, "err": {...}}``: a :class:`~dfc.models.BulkResult`;
  one of replica lists (bulk lookups) travels in columns, PFNs sharing their prefixes:
  ``{"$": "BulkC", "lfns": [...], "n": [replicas per LFN, ...], "se": [...], "path":
  [...], "ref": [...], "status": [...], "bases": [...], "err": {...}}``, one entry of
  ``se``/``path``/``ref``/``status`` per replica, LFN after LFN (``path`` null when it
  is the LFN; ``ref`` an index into ``bases``, the PFN being that prefix and the path,
  or the whole PFN). Columns cost a third less to encode and to decode than a list per
  replica; the older ``{"$": "BulkR", "ok": {lfn: [[se, path, ref, status], ...]},
  "bases": [...], "err": {...}}`` is still read;
- ``{"$": "E", "k": "LFNNotFound", "m": "message", "n": 2}``: a :class:`~dfc.errors.DFCError`;
- ``{"$": "Entry", "f": [...]}``: a dataclass, its fields in declaration order. The
  dataclasses of :mod:`dfc.models` have short tags; others are tagged
  ``module:QualName`` and must live in a ``dfc`` module that is already imported.

Decoding never imports anything and constructs only the dataclasses it is allowed to.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeGuard

from dfc import errors as _errors
from dfc._gc import gc_paused
from dfc.errors import DFCError, InvalidArgument
from dfc.models import BulkResult, Entry, FileInfo, FileRecord, Replica, SEInfo

_orjson: Any
try:  # optional: a much faster encoder; every value it gets went through encode()
    import orjson as _orjson  # type: ignore[import-not-found, no-redef, unused-ignore]
except ImportError:  # pragma: no cover - depends on the installation
    _orjson = None

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

__all__ = ["decode", "dumps", "encode", "error_from", "error_json", "loads"]

_SHORT: dict[str, type] = {
    "Entry": Entry,
    "Replica": Replica,
    "FileRecord": FileRecord,
    "SEInfo": SEInfo,
    "FileInfo": FileInfo,
}
_TAG_OF: dict[type, str] = {cls: tag for tag, cls in _SHORT.items()}
_FIELDS: dict[type, tuple[Callable[[Any], tuple[Any, ...]], tuple[int, ...], tuple[int, ...]]] = {}
_NESTED: dict[type, frozenset[int]] = {}
_PLAIN = frozenset({str, int, bool, type(None)})
#: Bodies from this size on are decoded with the cyclic garbage collector paused.
_GC_PAUSE = 64 << 10


def _annotation(note: object) -> str:
    """An annotation as text without spaces (a string, a ForwardRef or a type)."""
    text = getattr(note, "__forward_arg__", note)
    return str(text).replace(" ", "")


def _is_record(cls: type) -> bool:
    """A dataclass or a named tuple."""
    return dataclasses.is_dataclass(cls) or (issubclass(cls, tuple) and hasattr(cls, "_fields"))


def _shape(cls: type) -> tuple[Callable[[Any], tuple[Any, ...]], tuple[int, ...], tuple[int, ...]]:
    """Per record type: a getter of its fields, and which fields are tuples / sets."""
    shape = _FIELDS.get(cls)
    if shape is None:
        if dataclasses.is_dataclass(cls):
            fields = dataclasses.fields(cls)
            names = [f.name for f in fields]
            kinds = [_annotation(f.type) for f in fields]
        else:
            names = list(cls._fields)  # type: ignore[attr-defined]
            notes = getattr(cls, "__annotations__", {})
            kinds = [_annotation(notes.get(n, "")) for n in names]

        def getter(obj: Any) -> tuple[Any, ...]:
            return tuple(getattr(obj, n) for n in names)

        tuples = tuple(i for i, k in enumerate(kinds) if k.startswith("tuple"))
        _NESTED[cls] = frozenset(i for i, k in enumerate(kinds) if k.startswith("tuple[tuple"))
        sets = tuple(i for i, k in enumerate(kinds) if k.startswith(("frozenset", "set")))
        shape = _FIELDS[cls] = (getter, tuples, sets)
    return shape


def _tag(cls: type) -> str:
    tag = _TAG_OF.get(cls)
    if tag is None:
        tag = _TAG_OF[cls] = f"{cls.__module__}:{cls.__qualname__}"
    return tag


def error_json(error: DFCError) -> dict[str, Any]:
    """The wire form of an error."""
    return {"$": "E", "k": error.kind, "m": error.message or str(error), "n": error.errno}


def error_from(kind: object, message: object, errno: object = None) -> DFCError:
    """Rebuild an error from its kind (class name) and message.

    Known kinds (:mod:`dfc.errors`, :mod:`dfc.auth.errors`) get their class; an unknown
    kind becomes a plain :class:`DFCError` that keeps the errno.
    """
    text = message if isinstance(message, str) else ""
    cls: object = None
    if isinstance(kind, str) and kind.isidentifier():
        cls = getattr(_errors, kind, None)
        if cls is None and "dfc.auth.errors" in sys.modules:
            cls = getattr(sys.modules["dfc.auth.errors"], kind, None)
        if cls is None and kind in _AUTH_KINDS:
            from dfc.auth import errors as auth_errors

            cls = getattr(auth_errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, DFCError):
        return cls(text)
    error = DFCError(text)
    if isinstance(errno, int) and not isinstance(errno, bool) and 0 < errno < 256:
        error.errno = errno
    return error


_AUTH_KINDS = frozenset(
    {
        "AuthenticationFailed",
        "CertificateError",
        "CertificateExpired",
        "CertificateRevoked",
        "UntrustedCertificate",
        "InvalidProxy",
        "VOMSError",
        "InvalidToken",
        "InsufficientRights",
        "ReadOnlyCredential",
        "ScopeDenied",
    }
)


def encode(value: Any) -> Any:
    """Turn a value into JSON-compatible data (see the module docstring).

    Raises:
        TypeError: a value of a type the wire format cannot carry.
    """
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is Replica:  # the hot path of bulk lookups: its fields are strings
        return {"$": "Replica", "f": [value.se, value.path, value.pfn, value.status]}
    if kind is list or kind is tuple:
        if set(map(type, value)) <= _PLAIN:  # LFN lists of bulk calls
            return list(value)
        return [encode(v) for v in value]
    if isinstance(value, tuple) and hasattr(kind, "_fields"):  # a named tuple
        getter = _shape(kind)[0]
        return {"$": _tag(kind), "f": [encode(v) for v in getter(value)]}
    if kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            raise TypeError("non-finite floats cannot be sent")
        return value
    if kind is dict:
        if "$" in value or not all(type(k) is str for k in value):
            return {"$": "map", "f": [[encode(k), encode(v)] for k, v in value.items()]}
        return {k: encode(v) for k, v in value.items()}
    if kind is datetime:
        return {"$": "T", "v": value.isoformat()}
    if kind is BulkResult:
        errors = {str(k): error_json(e) for k, e in value.failed.items()}
        columns = _replica_columns(value.succeeded)
        if columns is not None:
            columns["err"] = errors
            return columns
        return {"$": "Bulk", "ok": encode(value.succeeded), "err": errors}
    if isinstance(value, DFCError):
        return error_json(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        getter = _shape(kind)[0]
        return {"$": _tag(kind), "f": [encode(v) for v in getter(value)]}
    if isinstance(value, set | frozenset):
        return {"$": "set", "f": [encode(v) for v in value]}
    if isinstance(value, dict) or hasattr(value, "items"):
        return encode(dict(value.items()))
    raise TypeError(f"cannot send a value of type {kind.__name__}")


def _replica_columns(mapping: dict[Any, Any]) -> dict[str, Any] | None:
    """The columns of ``{lfn: [Replica, ...]}`` (bulk lookups), or None if it is not one.

    See the module docstring for the form.
    """
    bases: dict[str, int] = {}
    counts: list[int] = []
    ses: list[str] = []
    paths: list[str | None] = []
    refs: list[int | str] = []
    statuses: list[str] = []
    for lfn, reps in mapping.items():
        if type(reps) is not list or type(lfn) is not str:
            return None
        counts.append(len(reps))
        for rep in reps:
            if type(rep) is not Replica:
                return None
            se, path, pfn, status = rep
            ref: int | str = pfn
            if pfn.endswith(path):
                base = pfn[: len(pfn) - len(path)]
                found = bases.get(base)
                ref = bases[base] = len(bases) if found is None else found
            ses.append(se)
            paths.append(None if path == lfn else path)
            refs.append(ref)
            statuses.append(status)
    return {
        "$": "BulkC",
        "lfns": list(mapping),
        "n": counts,
        "se": ses,
        "path": paths,
        "ref": refs,
        "status": statuses,
        "bases": list(bases),
    }


def _strs(value: object) -> TypeGuard[list[str]]:
    return type(value) is list and set(map(type, value)) <= {str}


def _paths(value: object) -> TypeGuard[list[str | None]]:
    return type(value) is list and set(map(type, value)) <= {str, type(None)}


def _counts(value: object) -> TypeGuard[list[int]]:
    return type(value) is list and set(map(type, value)) <= {int} and min(value, default=0) >= 0


def _replicas_from_columns(obj: dict[str, Any]) -> dict[str, list[Replica]]:
    """Rebuild ``{lfn: [Replica, ...]}`` from its columns.

    Raises:
        InvalidArgument: malformed columns.
    """
    lfns, counts, bases = obj.get("lfns"), obj.get("n"), obj.get("bases")
    ses, paths, refs, statuses = obj.get("se"), obj.get("path"), obj.get("ref"), obj.get("status")
    if not (
        _strs(lfns)
        and _counts(counts)
        and _strs(bases)
        and _strs(ses)
        and _paths(paths)
        and _strs(statuses)
        and type(refs) is list
        and set(map(type, refs)) <= {int, str}
        and len(counts) == len(lfns)
        and sum(counts) == len(ses) == len(paths) == len(refs) == len(statuses)
    ):
        raise InvalidArgument("malformed bulk replica result")
    out: dict[str, list[Replica]] = {}
    rows = zip(ses, paths, refs, statuses, strict=True)
    make = tuple.__new__  # a named tuple: skip its __new__ written in Python
    try:
        for lfn, count in zip(lfns, counts, strict=True):
            out[lfn] = reps = []
            for se, path, ref, status in islice(rows, count):
                full = lfn if path is None else path
                pfn = bases[ref] + full if type(ref) is int else ref
                reps.append(make(Replica, (se, full, pfn, status)))
    except (TypeError, IndexError):
        raise InvalidArgument("malformed bulk replica result") from None
    return out


def _replicas_from(obj: dict[str, Any]) -> dict[str, list[Replica]]:
    """Rebuild ``{lfn: [Replica, ...]}`` from its compact form."""
    ok, bases = obj.get("ok"), obj.get("bases")
    if (
        not isinstance(ok, dict)
        or not isinstance(bases, list)
        or not all(type(b) is str for b in bases)
    ):
        raise InvalidArgument("malformed bulk replica result")
    try:
        return {
            lfn: [
                Replica(se, p or lfn, bases[ref] + (p or lfn) if type(ref) is int else ref, st)
                for se, p, ref, st in rows
            ]
            for lfn, rows in ok.items()
        }
    except (TypeError, ValueError, IndexError):
        raise InvalidArgument("malformed bulk replica result") from None


def _lookup(tag: str, allowed: Collection[type] | None) -> type:
    cls: object = _SHORT.get(tag)
    if cls is None and ":" in tag:
        module, _, name = tag.partition(":")
        mod = sys.modules.get(module) if module.startswith("dfc.") else None
        cls = getattr(mod, name, None) if mod is not None and name.isidentifier() else None
    if not isinstance(cls, type) or not _is_record(cls):
        raise InvalidArgument(f"unknown value type {tag!r}")
    if allowed is not None and cls not in allowed:
        raise InvalidArgument(f"a value of type {tag!r} is not accepted here")
    return cls


def _hook(allowed: Collection[type] | None) -> Callable[[dict[str, Any]], Any]:
    replicas = allowed is None or Replica in allowed

    def hook(obj: dict[str, Any]) -> Any:
        tag = obj.get("$")
        if tag is None:
            return obj
        if tag == "Replica" and replicas:  # the hot path of bulk lookups
            fields = obj.get("f")
            if type(fields) is list and len(fields) == 4 and all(type(f) is str for f in fields):
                return Replica(*fields)
        if not isinstance(tag, str):
            raise InvalidArgument("malformed typed value")
        if tag == "T":
            text = obj.get("v")
            if not isinstance(text, str):
                raise InvalidArgument("malformed time value")
            try:
                return datetime.fromisoformat(text)
            except ValueError:
                raise InvalidArgument(f"malformed time value {text!r}") from None
        if tag == "E":
            return error_from(obj.get("k"), obj.get("m"), obj.get("n"))
        if tag in ("BulkC", "BulkR") and replicas:
            ok = _replicas_from_columns(obj) if tag == "BulkC" else _replicas_from(obj)
            err = obj.get("err", {})
            if not isinstance(err, dict) or not all(isinstance(e, DFCError) for e in err.values()):
                raise InvalidArgument("malformed bulk result errors")
            return BulkResult(succeeded=ok, failed=err)
        if tag == "Bulk":
            ok, err = obj.get("ok", {}), obj.get("err", {})
            if not isinstance(ok, dict) or not isinstance(err, dict):
                raise InvalidArgument("malformed bulk result")
            if not all(isinstance(e, DFCError) for e in err.values()):
                raise InvalidArgument("malformed bulk result errors")
            return BulkResult(succeeded=ok, failed=err)
        fields = obj.get("f")
        if not isinstance(fields, list):
            raise InvalidArgument(f"malformed typed value {tag!r}")
        if tag == "map":
            if not all(isinstance(p, list) and len(p) == 2 for p in fields):
                raise InvalidArgument("malformed mapping")
            try:
                return {k: v for k, v in fields}
            except TypeError:
                raise InvalidArgument("malformed mapping key") from None
        if tag == "set":
            try:
                return frozenset(fields)
            except TypeError:
                raise InvalidArgument("malformed set") from None
        cls = _lookup(tag, allowed)
        _, tuples, sets = _shape(cls)
        nested = _NESTED[cls]
        for i in tuples:
            if i < len(fields) and isinstance(fields[i], list):
                items = fields[i]
                if i in nested:
                    items = [tuple(x) if isinstance(x, list) else x for x in items]
                fields[i] = tuple(items)
        for i in sets:
            if i < len(fields) and isinstance(fields[i], list):
                fields[i] = frozenset(fields[i])
        try:
            return cls(*fields)
        except TypeError as exc:
            raise InvalidArgument(f"malformed {tag} value: {exc}") from None

    return hook


def decode(data: Any, *, allowed: Collection[type] | None = None) -> Any:
    """Decode JSON data that was parsed without a hook (tests, small values)."""
    return loads(json.dumps(data), allowed=allowed)


def _reject_constant(name: str) -> Any:
    raise InvalidArgument(f"{name} is not a number here")


def loads(text: bytes | str, *, allowed: Collection[type] | None = None) -> Any:
    """Parse wire JSON into values.

    Args:
        text: the JSON text.
        allowed: the dataclasses that may be constructed (None: any ``dfc`` dataclass).

    Raises:
        InvalidArgument: not JSON, too deeply nested, or a malformed or refused value.
    """
    # A large answer (a bulk lookup) makes tens of thousands of objects that all live
    # on: the cyclic collector would scan the whole heap again and again for nothing
    # (the values hold no cycles; reference counting frees them), so it waits.
    pause = gc_paused() if len(text) >= _GC_PAUSE else contextlib.nullcontext()
    try:
        with pause:
            return json.loads(text, object_hook=_hook(allowed), parse_constant=_reject_constant)
    except InvalidArgument:
        raise
    except (ValueError, RecursionError) as exc:
        raise InvalidArgument(f"malformed JSON: {str(exc)[:200]}") from None


def dumps(value: Any) -> bytes:
    """Encode a value as compact wire JSON (UTF-8 bytes).

    Uses orjson when it is installed (about ten times faster on bulk results), else
    the standard library.

    Raises:
        TypeError: a value the wire format cannot carry.
    """
    data = encode(value)
    if _orjson is not None:
        try:
            out: bytes = _orjson.dumps(data)
            return out
        except TypeError:  # a lone surrogate, an integer beyond 64 bits: json escapes them
            pass
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode("ascii")
