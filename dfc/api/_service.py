"""The catalogue as a service: run named operations for authenticated callers.

The catalogue server (``dfc.server``) is a thin HTTP adapter over :class:`CatalogService`:
it authenticates a request, then hands the operation name, the request body and the
identity here. Each operation of the guarded transaction has an entry in :data:`OPS`
(its kind and the checks of its arguments); nothing else can be called. Arguments
arrive in the wire format of :mod:`dfc.api._wire` as ``{"args": {name: value}}`` and
the result goes back as ``{"result": value}``; streamed operations (listings, dumps)
yield NDJSON lines, each a JSON list of items, ending with ``{"end": count}`` (or
``{"error": ...}`` when the stream fails after it started).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from dfc.api import _wire
from dfc.api._authz import Gate, Policy
from dfc.api._guarded import GuardedTx
from dfc.catalog import Catalog
from dfc.errors import DFCError, InvalidArgument, NotFound
from dfc.models import FileRecord, Replica, SEInfo

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Mapping

    from dfc.auth.identity import Identity
    from dfc.catalog import CatalogTx

__all__ = ["OPS", "CatalogService", "Op"]

Kind = Literal["read", "write", "stream"]
_STREAM_BATCH = 1000


# ---------------------------------------------------------------------- argument checks
def _text(value: object) -> bool:
    """Whether ``value`` is a string a database can store (UTF-8, no NUL)."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def _all_text(values: list[object] | tuple[object, ...]) -> bool:
    """Whether every value is storable text (one pass over them all: bulk LFN lists)."""
    if not set(map(type, values)) <= {str}:
        return False
    joined = "".join(values)  # type: ignore[arg-type]
    return _text(joined)


def _str(value: object, what: str, limit: int) -> object:
    if not isinstance(value, str):
        raise InvalidArgument(f"argument {what!r} must be a string")
    if not _text(value):
        raise InvalidArgument(f"argument {what!r} holds a NUL or an invalid character")
    return value


def _bool(value: object, what: str, limit: int) -> object:
    if not isinstance(value, bool):
        raise InvalidArgument(f"argument {what!r} must be true or false")
    return value


def _int(value: object, what: str, limit: int) -> object:
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**62) < value < 2**62:
        raise InvalidArgument(f"argument {what!r} must be an integer")
    return value


def _opt(check: Callable[[object, str, int], object]) -> Callable[[object, str, int], object]:
    def inner(value: object, what: str, limit: int) -> object:
        return None if value is None else check(value, what, limit)

    return inner


def _list(
    item: Callable[[object, str, int], object],
) -> Callable[[object, str, int], object]:
    def inner(value: object, what: str, limit: int) -> object:
        if not isinstance(value, list | tuple):
            raise InvalidArgument(f"argument {what!r} must be a list")
        if len(value) > limit:
            raise InvalidArgument(
                f"argument {what!r} has {len(value)} items; at most {limit} per request"
            )
        if item is _str and _all_text(value):
            return list(value)
        return [item(v, what, limit) for v in value]

    return inner


def _tuple(*items: Callable[[object, str, int], object]) -> Callable[[object, str, int], object]:
    def inner(value: object, what: str, limit: int) -> object:
        if not isinstance(value, list | tuple) or len(value) != len(items):
            raise InvalidArgument(f"items of {what!r} must have {len(items)} values")
        return tuple(check(v, what, limit) for check, v in zip(items, value, strict=True))

    return inner


def _replica(value: object, what: str, limit: int) -> object:
    if not isinstance(value, Replica) or not all(
        _text(getattr(value, f)) for f in ("se", "path", "pfn", "status")
    ):
        raise InvalidArgument(f"argument {what!r} must hold replicas")
    return value


def _record(value: object, what: str, limit: int) -> object:
    ok = (
        isinstance(value, FileRecord)
        and _text(value.lfn)
        and isinstance(value.size, int)
        and not isinstance(value.size, bool)
        and _text(value.adler32)
        and (value.xxh3 is None or _text(value.xxh3))
        and _text(value.guid)
        and _text(value.owner)
        and _text(value.group)
        and isinstance(value.mode, int)
        and not isinstance(value.mode, bool)
        and 0 <= value.mode <= 0o7777
        and isinstance(value.replicas, tuple)
        and len(value.guid) <= 64
        and value.size < 2**62
    )
    if not ok:
        raise InvalidArgument(f"argument {what!r} must hold well-formed file records")
    assert isinstance(value, FileRecord)
    for rep in value.replicas:
        _replica(rep, what, limit)
    return value


def _se(value: object, what: str, limit: int) -> object:
    ok = (
        isinstance(value, SEInfo)
        and all(_text(getattr(value, f)) for f in ("name", "url", "site"))
        and isinstance(value.read, bool)
        and isinstance(value.write, bool)
    )
    if not ok:
        raise InvalidArgument(f"argument {what!r} must be a storage element")
    return value


def _values(value: object, what: str, limit: int) -> object:
    """Metadata values: ``{field: int | float | str | datetime}``."""
    if not isinstance(value, dict) or len(value) > 1000:
        raise InvalidArgument(f"argument {what!r} must map field names to values")
    for name, item in value.items():
        _str(name, what, limit)
        if isinstance(item, str):
            _str(item, what, limit)
        elif isinstance(item, bool) or not isinstance(item, int | float | datetime):
            raise InvalidArgument(f"argument {what!r}: {name} must be a number, text or date")
        elif isinstance(item, int) and not -(2**62) < item < 2**62:
            raise InvalidArgument(f"argument {what!r}: {name} is out of range")
        elif isinstance(item, float) and item != item:
            raise InvalidArgument(f"argument {what!r}: {name} is not a number")
    return value


_STRS = _list(_str)
_OSTR = _opt(_str)


@dataclass(frozen=True)
class Op:
    """An operation the service runs.

    Attributes:
        kind: ``read`` (a read-only transaction), ``write`` or ``stream`` (read-only,
            the result is an iterator sent as NDJSON).
        params: name -> argument check; a name in ``required`` must be given.
        required: the parameters without a default.
    """

    kind: Kind
    params: Mapping[str, Callable[[object, str, int], object]] = field(default_factory=dict)
    required: frozenset[str] = frozenset()


def _op(kind: Kind, *required: str, **params: Callable[[object, str, int], object]) -> Op:
    return Op(kind, params, frozenset(required))


#: Every operation the service runs, by name.
OPS: Mapping[str, Op] = {
    # namespace
    "mkdir": _op("write", "paths", "parents", "owner", "group", paths=_STRS, parents=_bool,
                 owner=_str, group=_str, mode=_int),
    "rmdir": _op("write", "paths", paths=_STRS),
    "stat": _op("read", "lfns", lfns=_STRS),
    "lookup": _op("read", "lfn", lfn=_str),
    "list_dir": _op("stream", "path", path=_str, with_replicas=_bool),
    "walk": _op("stream", "path", path=_str, files_only=_bool),
    "find_guid": _op("read", "guid", guid=_str),
    "move": _op("write", "src", "dst", src=_str, dst=_str),
    # files and replicas
    "add_files": _op("write", "records", "owner", "group", records=_list(_record), owner=_str,
                     group=_str, overwrite=_bool),
    "remove_files": _op("write", "lfns", lfns=_STRS),
    "add_replicas": _op("write", "items", items=_list(_tuple(_str, _replica))),
    "remove_replicas": _op("write", "items", items=_list(_tuple(_str, _str))),
    "set_replica_status": _op("write", "items", items=_list(_tuple(_str, _str, _str))),
    "replicas": _op("read", "lfns", lfns=_STRS),
    # consistency
    "replicas_at": _op("read", "se", "path", se=_str, path=_str, after=_int, limit=_int),
    "paths_in_use": _op("read", "se", "paths", se=_str, paths=_STRS),
    # storage elements
    "add_se": _op("write", "se", se=_se),
    "get_se": _op("read", "name", name=_str),
    "list_ses": _op("read"),
    "update_se": _op("write", "name", name=_str, url=_OSTR, site=_OSTR, read=_opt(_bool),
                     write=_opt(_bool)),
    "se_replica_count": _op("read", "name", name=_str),
    "remove_se": _op("write", "name", name=_str),
    # access control
    "whoami": _op("read"),
    "access": _op("read", "lfns", "what", lfns=_STRS, what=_str),
    "chmod": _op("write", "paths", "mode", paths=_STRS, mode=_int, recursive=_bool),
    "chown": _op("write", "paths", paths=_STRS, owner=_OSTR, group=_OSTR, recursive=_bool),
    "add_user": _op("write", "name", name=_str, dns=_STRS, account=_OSTR, group=_OSTR,
                    properties=_opt(_STRS)),
    "remove_user_dn": _op("write", "name", "dn", name=_str, dn=_str),
    "list_users": _op("read"),
    "remove_user": _op("write", "name", name=_str),
    "add_group": _op("write", "name", name=_str, properties=_opt(_STRS)),
    "list_groups": _op("read"),
    "remove_group": _op("write", "name", name=_str),
    "add_member": _op("write", "group", "user", group=_str, user=_str),
    "remove_member": _op("write", "group", "user", group=_str, user=_str),
    "map_fqan": _op("write", "fqan", "group", fqan=_str, group=_str, account=_OSTR),
    "unmap_fqan": _op("write", "fqan", fqan=_str),
    "list_fqan_rules": _op("read"),
    "import_gridmap": _op("write", "text", text=_str),
    # metadata
    "meta_fields": _op("read"),
    "meta_index": _op("write", "name", "type_name", "level", name=_str, type_name=_str,
                      level=_str),
    "meta_unindex": _op("write", "name", name=_str),
    "meta_set": _op("write", "items", items=_list(_tuple(_str, _values))),
    "meta_rm": _op("write", "items", items=_list(_tuple(_str, _STRS))),
    "meta_get": _op("read", "path", path=_str),
    "parse_query": _op("read", "terms", terms=_STRS),
    "find": _op("stream", "path", "terms", path=_str, terms=_STRS),
    "find_dirs": _op("stream", "path", "terms", path=_str, terms=_STRS),
    "find_count": _op("read", "path", "terms", path=_str, terms=_STRS),
    "meta_tags": _op("read", "path", "name", path=_str, name=_str, terms=_STRS),
    "dataset_add": _op("write", "name", "words", "owner", "group", name=_str, words=_STRS,
                       owner=_str, group=_str),
    "dataset_show": _op("read", "name", name=_str),
    "dataset_list": _op("read", path=_str),
    "dataset_files": _op("stream", "name", name=_str),
    "dataset_check": _op("read", "name", name=_str),
    "dataset_update": _op("write", "name", name=_str),
    "dataset_freeze": _op("write", "name", name=_str),
    "dataset_release": _op("write", "name", name=_str),
    "dataset_annotate": _op("write", "name", "text", name=_str, text=_str),
    "dataset_rm": _op("write", "name", name=_str),
    "ancestry_add": _op("write", "items", items=_list(_tuple(_str, _STRS))),
    "ancestors": _op("read", "lfns", lfns=_STRS, depth=_int),
    "descendants": _op("read", "lfns", lfns=_STRS, depth=_int),
    "du": _op("read", "path", path=_str, own=_bool, from_files=_bool),
    "recount_usage": _op("write", path=_str),
    "usage_mismatches": _op("read", path=_str),
    "dump": _op("stream", "path", path=_str),
}  # fmt: skip

_ALLOWED = (FileRecord, Replica, SEInfo)


def check_args(op: str, raw: Mapping[str, Any], *, max_items: int) -> tuple[Op, dict[str, Any]]:
    """Look up an operation and check its (decoded) arguments.

    Raises:
        NotFound: no such operation.
        InvalidArgument: unknown, missing or ill-typed arguments, or too many items.
    """
    spec = OPS.get(op)
    if spec is None:
        raise NotFound(f"no catalogue operation {op!r}")
    unknown = set(raw) - set(spec.params)
    if unknown:
        raise InvalidArgument(f"{op}: unknown arguments {', '.join(sorted(unknown))}")
    missing = spec.required - set(raw)
    if missing:
        raise InvalidArgument(f"{op}: missing arguments {', '.join(sorted(missing))}")
    return spec, {name: spec.params[name](value, name, max_items) for name, value in raw.items()}


def parse_args(op: str, body: bytes, *, max_items: int) -> tuple[Op, dict[str, Any]]:
    """Look up an operation and decode and check the arguments of a request body.

    Args:
        op: the operation name.
        body: ``{"args": {...}}`` in the wire format (empty: no arguments).
        max_items: the most items a list argument may have.

    Raises:
        NotFound: no such operation.
        InvalidArgument: malformed body, unknown, missing or ill-typed arguments.
    """
    if op not in OPS:
        raise NotFound(f"no catalogue operation {op!r}")
    data = _wire.loads(body, allowed=_ALLOWED) if body.strip() else {}
    if not isinstance(data, dict) or set(data) - {"args"}:
        raise InvalidArgument('the request body must be {"args": {...}}')
    raw = data.get("args", {})
    if not isinstance(raw, dict):
        raise InvalidArgument('the request body must be {"args": {...}}')
    return check_args(op, raw, max_items=max_items)


class CatalogService:
    """Runs catalogue operations for authenticated identities, each in its own transaction.

    Stateless apart from a short cache of principals: several services (processes) on
    one PostgreSQL catalogue behave as one.

    Args:
        catalog_url: the catalogue database URL.
        policy: the namespace policy (default: :class:`Policy` defaults).
        cache_seconds: how long a principal (the registry's view of an identity) is reused.
        max_items: the most items a bulk argument may have per request.
        local_group: the group of local identities the registry does not know.
        pool_size: database connections kept open (the number of threads that use
            them); default: the catalogue's.

    Raises:
        CatalogError: the catalogue URL is invalid.
    """

    def __init__(
        self,
        catalog_url: str,
        *,
        policy: Policy | None = None,
        cache_seconds: float = 2.0,
        max_items: int = 100_000,
        local_group: str = "nobody",
        pool_size: int | None = None,
    ) -> None:
        self._catalog = Catalog(catalog_url, pool_size=pool_size)
        self._gate = Gate(policy, ttl=cache_seconds)
        self._group = local_group
        self.max_items = max_items

    @property
    def catalog(self) -> Catalog:
        """The local catalogue the service works on."""
        return self._catalog

    def check_schema(self) -> None:
        """Check that the catalogue is initialised and current.

        Raises:
            CatalogError: not initialised, or of another revision.
            CatalogUnavailable: the database is unreachable.
        """
        self._catalog.check_schema()

    def close(self) -> None:
        """Release the database connections."""
        self._catalog.close()

    def kind(self, op: str) -> Kind:
        """The kind of an operation.

        Raises:
            NotFound: no such operation.
        """
        spec = OPS.get(op)
        if spec is None:
            raise NotFound(f"no catalogue operation {op!r}")
        return spec.kind

    def _guard(self, tx: CatalogTx, identity: Identity) -> GuardedTx:
        return GuardedTx(tx, self._gate.authorizer(tx, identity, self._group))

    def run(self, identity: Identity, op: str, args: Mapping[str, Any]) -> Any:
        """Run one (non-streamed) operation with Python arguments and return its result.

        Raises:
            NotFound: no such operation.
            InvalidArgument: bad arguments, or a streamed operation.
            DFCError: whatever the operation raises (authorisation refusals included).
        """
        spec, checked = check_args(op, args, max_items=self.max_items)
        return self._run(identity, op, spec, checked)

    def _run(self, identity: Identity, op: str, spec: Op, args: dict[str, Any]) -> Any:
        if spec.kind == "stream":
            raise InvalidArgument(f"{op} streams its result; call it as a stream")
        ctx = self._catalog.reader() if spec.kind == "read" else self._catalog.transaction()
        with ctx as tx:
            return getattr(self._guard(tx, identity), op)(**args)

    def call(self, identity: Identity, op: str, body: bytes) -> bytes:
        """Run one operation given a wire request body; return the wire response body.

        Raises:
            NotFound: no such operation.
            InvalidArgument: malformed arguments.
            DFCError: whatever the operation raises (authorisation refusals included).
        """
        spec, args = parse_args(op, body, max_items=self.max_items)
        return _wire.dumps({"result": self._run(identity, op, spec, args)})

    def iterate(
        self, identity: Identity, op: str, args: Mapping[str, Any]
    ) -> Generator[Any, None, None]:
        """Run a streamed operation with Python arguments; the first ``next()`` checks.

        Raises:
            NotFound: no such operation.
            InvalidArgument: bad arguments, or not a streamed operation.
            DFCError: whatever the operation raises.
        """
        spec, checked = check_args(op, args, max_items=self.max_items)
        if spec.kind != "stream":
            raise InvalidArgument(f"{op} does not stream its result")
        return self._items(identity, op, checked)

    def _items(
        self, identity: Identity, op: str, args: dict[str, Any]
    ) -> Generator[Any, None, None]:
        with self._catalog.reader() as tx:
            yield from getattr(self._guard(tx, identity), op)(**args)

    def stream(self, identity: Identity, op: str, body: bytes) -> Generator[bytes, None, None]:
        """Run a streamed operation given a wire request body; yield NDJSON lines.

        The first ``next()`` runs every check (and raises what the operation raises) and
        yields an empty chunk; later failures end the stream with an ``{"error": ...}``
        line; a complete stream ends with ``{"end": count}``.

        Raises:
            NotFound: no such operation.
            InvalidArgument: malformed arguments, or not a streamed operation.
            DFCError: whatever the operation raises before streaming.
        """
        spec, args = parse_args(op, body, max_items=self.max_items)
        if spec.kind != "stream":
            raise InvalidArgument(f"{op} does not stream its result")
        return self._lines(identity, op, args)

    def _lines(
        self, identity: Identity, op: str, args: dict[str, Any]
    ) -> Generator[bytes, None, None]:
        with self._catalog.reader() as tx:
            items = getattr(self._guard(tx, identity), op)(**args)
            yield b""  # the checks passed: the caller may start the response
            count = 0
            batch: list[Any] = []
            try:
                for item in items:
                    batch.append(item)
                    if len(batch) >= _STREAM_BATCH:
                        count += len(batch)
                        yield _wire.dumps(batch) + b"\n"
                        batch = []
                count += len(batch)
                if batch:
                    yield _wire.dumps(batch) + b"\n"
            except DFCError as exc:
                yield _wire.dumps({"error": exc}) + b"\n"
                return
            yield json.dumps({"end": count}).encode() + b"\n"
