"""Registering and removing files (with their replicas)."""

from __future__ import annotations

import re
import uuid
from functools import cache
from itertools import chain, compress, islice, repeat
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any

from dfc import lfn as _lfn
from dfc._gc import gc_paused
from dfc.catalog._base import CHUNK, chunks, marks
from dfc.catalog._usage import LOGICAL, Deltas, UsageMixin
from dfc.checksum import normalize_adler32, normalize_xxh3
from dfc.errors import (
    DFCError,
    InvalidArgument,
    IsADirectory,
    MetadataMismatch,
    NotADirectory,
    ReplicaExists,
    SENotFound,
)
from dfc.models import BulkResult, FileRecord

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

__all__ = ["REPLICA_INSERT", "REPLICA_STATUSES", "FilesMixin"]

REPLICA_STATUSES = frozenset({"good", "bad"})
#: Sort key of prepared files: the order of the (dir_id, name) index.
_INDEX_ORDER = attrgetter("dir_id", "name")
# Column getters, for loops that run in C over thousands of records.
_LFN = attrgetter("lfn")
_PARENT = attrgetter("parent")
_SIZE = attrgetter("size")
_ADLER32_OF = attrgetter("adler32")
_XXH3_OF = attrgetter("xxh3")
_GUID = attrgetter("guid")
_OWNER = attrgetter("owner")
_GROUP = attrgetter("group")
_MODE = attrgetter("mode")
_REPLICAS = attrgetter("replicas")
_FIRST, _SECOND, _THIRD, _FOURTH = itemgetter(0), itemgetter(1), itemgetter(2), itemgetter(3)
# Already-normalised checksums skip the (slower) normalisation.
_ADLER32 = re.compile(r"[0-9a-f]{8}").fullmatch
_XXH3 = re.compile(r"[0-9a-f]{16}").fullmatch
_FILE_INSERT = (
    "INSERT INTO files (dir_id, name, size, adler32, xxh3, guid, status, owner, grp, mode, "
    "ctime, mtime) VALUES (?, ?, ?, ?, ?, ?, 'good', ?, ?, ?, ?, ?)"
)
_FILE_INSERT_ID = (
    "INSERT INTO files (id, dir_id, name, size, adler32, xxh3, guid, status, owner, grp, mode, "
    "ctime, mtime) VALUES (?, ?, ?, ?, ?, ?, ?, 'good', ?, ?, ?, ?, ?) "
    "ON CONFLICT (dir_id, name) DO NOTHING"
)
# The replicas of files just inserted with ids in a range, all at one SE at their LFN.
_REPLICA_FROM_FILES = (
    "INSERT INTO replicas (file_id, se_id, path, status, ctime) "
    "SELECT f.id, ?, rtrim(d.path, '/') || '/' || f.name, 'good', ? "
    "FROM files f JOIN directories d ON d.id = f.dir_id WHERE f.id BETWEEN ? AND ?"
)
# Files inserted with ids from SQLite: each new row gets an id above the largest
# one (https://sqlite.org/autoinc.html; at 2**63 - 1 no more files go in anyway).
_FILE_INSERT_NEXT_IDS = _FILE_INSERT + " ON CONFLICT (dir_id, name) DO NOTHING"
_MAX_FILE_ID = "SELECT coalesce(max(id), 0) FROM files"
_FILE_EXISTS = "SELECT 1 FROM files WHERE dir_id = ? AND name = ?"
_LARGEST_ID = (1 << 63) - 1
# Files per chunk from which that statement is cheaper than binding their replica
# rows (callgrind, 2 SEs: +6 % per file for 1 file, -1 % for 4, -14 % for 32);
# smaller chunks (a put of one file) also skip the column path.
_REPLICAS_IN_SQL_FROM = 4
REPLICA_INSERT = (
    "INSERT INTO replicas (file_id, se_id, path, status, ctime) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (file_id, se_id) DO NOTHING"
)
# PostgreSQL: the same inserts, one statement for all the rows, given as arrays
# (a statement per row costs the driver and the server tens of microseconds).
_FILE_INSERT_ARRAYS = (
    "INSERT INTO files (dir_id, name, size, adler32, xxh3, guid, status, owner, grp, mode, "
    "ctime, mtime) SELECT d, n, s, a, x, g, 'good', o, gr, m, ?, ? FROM unnest(?::bigint[], "
    "?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], "
    "?::integer[]) AS u(d, n, s, a, x, g, o, gr, m) RETURNING id, dir_id, name"
)
_REPLICA_INSERT_ARRAYS = (
    "INSERT INTO replicas (file_id, se_id, path, status, ctime) SELECT * FROM unnest("
    "?::bigint[], ?::integer[], ?::text[], ?::text[], ?::timestamptz[]) "
    "ON CONFLICT (file_id, se_id) DO NOTHING"
)


# Plain slotted classes rather than dataclasses: generating a dataclass's methods
# costs every start of the command line (this module is always loaded) ~0.5 ms.
class _Prepared:
    """A validated record: normalised checksums and resolved SE ids."""

    __slots__ = ("_replicas", "adler32", "dir_id", "name", "parent", "plain", "rec", "xxh3")

    def __init__(
        self,
        rec: FileRecord,
        parent: str,
        name: str,
        adler32: str,
        xxh3: str | None,
        replicas: list[tuple[int, str, str]] | None,  # (se_id, path, status)
        plain: tuple[int, ...] | None,
        dir_id: int = 0,
    ) -> None:
        self.rec = rec
        self.parent = parent
        self.name = name
        self.adler32 = adler32
        self.xxh3 = xxh3
        # None when ``plain``: made from it when first asked for (a bulk
        # registration of plain replicas never asks)
        self._replicas = replicas
        # The SE ids of the replicas when each is "good" at the LFN's own path
        # (the usual bulk registration), else None.
        self.plain = plain
        self.dir_id = dir_id

    @property
    def replicas(self) -> list[tuple[int, str, str]]:
        """The replicas to register, as ``(se_id, path, status)``."""
        reps = self._replicas
        if reps is None:
            lfn = self.rec.lfn
            reps = self._replicas = [(se_id, lfn, "good") for se_id in self.plain or ()]
        return reps


class _Call:
    """State of one add_files call."""

    __slots__ = (
        "db_now",
        "dirs",
        "group",
        "overwrite",
        "owner",
        "plain",
        "result",
        "ses",
        "subdirs",
        "touched",
        "usage",
    )

    def __init__(
        self, owner: str, group: str, overwrite: bool, db_now: Any, ses: dict[str, tuple[int, str]]
    ) -> None:
        self.owner = owner
        self.group = group
        self.overwrite = overwrite
        self.db_now = db_now
        self.ses = ses
        self.result: BulkResult[None] = BulkResult()
        self.dirs: dict[str, int] = {}
        self.touched: set[int] = set()
        self.usage = Deltas()
        # SE ids -> directory id -> [files, bytes] of files added with plain
        # replicas at those SEs; summed into ``usage`` at the end of the call
        self.plain: dict[tuple[int, ...], dict[int, list[int]]] = {}
        # directory id -> paths of its subdirectories, for the directories looked at
        self.subdirs: dict[int, set[str]] = {}


class _Plain:
    """A chunk of plain records, as columns (see :func:`_plain_columns`)."""

    __slots__ = ("lfns", "names", "parents", "records", "ses", "sizes")

    def __init__(
        self,
        records: Sequence[FileRecord],
        lfns: list[str],
        parents: list[str],
        names: list[str],
        sizes: list[int],
        ses: tuple[int, ...],
    ) -> None:
        self.records = records
        self.lfns = lfns
        self.parents = parents
        self.names = names
        self.sizes = sizes
        self.ses = ses  # the ids of the SEs of every record's replicas, in order


def resolve_replica_path(lfn: str, path: str) -> str:
    """Return the SE path of a replica: the LFN itself when ``path`` is empty.

    Raises:
        InvalidArgument: ``path`` is not absolute.
    """
    if not path:
        return lfn
    if not path.startswith("/"):
        raise InvalidArgument(f"{lfn}: replica path {path!r} is not absolute")
    return path


def _prepare(
    rec: FileRecord, ses: dict[str, tuple[int, str]], check_sums: bool = True
) -> _Prepared:
    """Validate one record; ``check_sums=False`` when its checksums are known normal.

    Raises:
        InvalidArgument: a negative size, an invalid checksum, replica status
            or path, or two replicas at one SE.
        SENotFound: a replica at an unknown SE.
    """
    lfn = rec.lfn
    if rec.size < 0:
        raise InvalidArgument(f"{lfn}: negative size {rec.size}")
    ids: list[int] = []
    plain = True
    for se_name, path, _pfn, status in rec.replicas:
        se = ses.get(se_name)
        if se is None:
            raise SENotFound(f"{se_name}: no such storage element")
        if status != "good" or (path and path != lfn):
            plain = False
        ids.append(se[0])
    n = len(ids)
    if n > 1 and (ids[0] == ids[1] if n == 2 else len(set(ids)) < n):
        raise InvalidArgument(f"{lfn}: two replicas at the same storage element")
    reps = None if plain else _replica_rows(rec, ids)
    parent, _, name = lfn.rpartition("/")
    adler = rec.adler32
    xxh3 = rec.xxh3
    if check_sums:
        if not (isinstance(adler, str) and _ADLER32(adler)):
            adler = normalize_adler32(adler)  # also takes the number
        if xxh3 is not None and not _XXH3(xxh3):
            xxh3 = normalize_xxh3(xxh3) if xxh3 else None
    return _Prepared(rec, parent or "/", name, adler, xxh3, reps, tuple(ids) if plain else None)


def _replica_rows(rec: FileRecord, ids: list[int]) -> list[tuple[int, str, str]]:
    """``(se_id, path, status)`` of a record's replicas, ``ids`` their SEs' ids.

    Raises:
        InvalidArgument: an invalid status, or a path that is not absolute.
    """
    lfn = rec.lfn
    rows: list[tuple[int, str, str]] = []
    for se_id, (_se, path, _pfn, status) in zip(ids, rec.replicas, strict=True):
        if status not in REPLICA_STATUSES:
            raise InvalidArgument(f"{lfn}: invalid replica status {status!r}")
        rows.append((se_id, resolve_replica_path(lfn, path), status))
    return rows


@cache
def _lines_of_hex(width: int) -> Callable[[str], re.Match[str] | None]:
    """Match lines of ``width`` lower-case hex digits (compiled on first use: CLI start-up)."""
    return re.compile(rf"[0-9a-f]{{{width}}}(?:\n[0-9a-f]{{{width}}})*").fullmatch


def _checksums_normal(part: Sequence[FileRecord]) -> bool:
    """True if every record's adler32 is 8 and xxh3 16 lower-case hex digits.

    One regular expression over each column of the chunk, instead of two per
    record; False (check record by record) also when an xxh3 is missing.
    """
    n = len(part)
    try:
        adlers = "\n".join([rec.adler32 for rec in part])
        xxh3s = "\n".join([rec.xxh3 for rec in part])  # type: ignore[misc]
    except TypeError:  # None, or not a string
        return False
    # With the lengths right, no value holds a line break, so each is one line.
    return (
        len(adlers) == 9 * n - 1
        and len(xxh3s) == 17 * n - 1
        and _lines_of_hex(8)(adlers) is not None
        and _lines_of_hex(16)(xxh3s) is not None
    )


def _plain_columns(part: Sequence[FileRecord], call: _Call) -> _Plain | None:
    """The columns of ``part``, records with normal checksums, if all are plain, else None.

    Plain records have (besides normal checksums) a size >= 0, a GUID, the
    caller's owner and group, and replicas "good" at the LFN itself at the
    same known SEs in the same order: the usual bulk registration. They are
    checked a column at a time, in C; any other chunk goes record by record
    (:func:`_prepare`), which also says what is wrong with a record.
    """
    n = len(part)
    reps = list(map(_REPLICAS, part))
    se_names = list(map(_FIRST, reps[0]))
    k = len(se_names)
    if set(map(len, reps)) != {k}:
        return None
    try:
        ses = tuple(call.ses[name][0] for name in se_names)
    except KeyError:
        return None
    if len(set(ses)) != k:
        return None
    lfns = list(map(_LFN, part))
    if k:
        flat = list(chain.from_iterable(reps))
        if (
            list(map(_FIRST, flat)) != se_names * n
            or list(map(_FOURTH, flat)).count("good") != n * k
            or list(map(_SECOND, flat)) != list(chain.from_iterable(zip(*[lfns] * k, strict=True)))
        ):
            return None
    sizes = list(map(_SIZE, part))
    if min(sizes) < 0 or not all(map(_GUID, part)):
        return None
    if any(map(_OWNER, part)) or any(map(_GROUP, part)):
        return None
    split = list(map(str.rpartition, lfns, repeat("/")))
    parents = list(map(_FIRST, split))
    if "" in parents:  # files at the top
        parents = [parent or "/" for parent in parents]
    return _Plain(part, lfns, parents, list(map(_THIRD, split)), sizes, ses)


def _unique_chunks(records: Sequence[FileRecord]) -> Iterator[list[FileRecord]]:
    """Split records into chunks that can be written together.

    A chunk never holds an LFN twice, nor a file and a file below it (the first
    of the two must be written before the second is looked at), so records keep
    the meaning of their order.
    """
    if _independent(records):
        yield from (list(part) for part in chunks(records))
        return
    part: list[FileRecord] = []
    lfns: set[str] = set()
    dirs: set[str] = set()  # parents of the chunk's LFNs and all their ancestors
    for rec in records:
        lfn = rec.lfn
        parent = lfn.rpartition("/")[0] or "/"
        clash = lfn in lfns or lfn in dirs
        new_dirs: list[str] = []
        if parent not in dirs:
            while parent not in dirs:
                new_dirs.append(parent)
                if parent == "/":
                    break
                parent = parent.rpartition("/")[0] or "/"
            clash = clash or any(d in lfns for d in new_dirs)
        if clash or len(part) >= CHUNK:
            yield part
            part, lfns, dirs = [], set(), set()
            new_dirs = _lfn.parents(lfn)
        part.append(rec)
        lfns.add(lfn)
        dirs.update(new_dirs)
    if part:
        yield part


def _independent(records: Sequence[FileRecord]) -> bool:
    """True if no LFN repeats and none is a directory of another (the usual case).

    Set operations over the whole call: much cheaper than the record-by-record walk.
    """
    lfns = set(map(_LFN, records))
    if len(lfns) != len(records):
        return False
    parents = {lfn.rpartition("/")[0] or "/" for lfn in lfns}
    ancestors = set(parents)
    for parent in parents:
        ancestors.update(_lfn.parents(parent))
    return lfns.isdisjoint(ancestors)


class FilesMixin(UsageMixin):
    """Files: add (idempotent, bulk) and remove; usage counters follow."""

    @gc_paused()  # a bulk answer makes no reference cycles (dfc._gc)
    def add_files(
        self,
        records: Sequence[FileRecord],
        *,
        owner: str,
        group: str,
        overwrite: bool = False,
    ) -> BulkResult[None]:
        """Register files and their replicas, creating missing parent directories.

        An identical file (same size, adler32 and GUID) registered again is a
        success, and its replicas not registered yet are added. A record's empty
        owner/group default to ``owner``/``group``; an empty GUID gets a fresh one
        (and matches any GUID when the file exists); an empty replica path means
        the LFN.

        Returns:
            Per LFN: success, or :class:`~dfc.errors.MetadataMismatch` (another
            size/checksum/GUID, unless ``overwrite``, which replaces the old file
            and its replicas), :class:`~dfc.errors.IsADirectory`,
            :class:`~dfc.errors.NotADirectory` (a parent is a file),
            :class:`~dfc.errors.SENotFound`,
            :class:`~dfc.errors.ReplicaExists` (a replica at the same SE with
            another path), :class:`~dfc.errors.InvalidArgument`.
        """
        _, db_now = self._now()
        call = _Call(owner, group, overwrite, db_now, self._se_ids())
        for part in _unique_chunks(records):
            self._add_chunk(part, call)
        add = call.usage.add
        for ses, per_dir in call.plain.items():
            for dir_id, (files, size) in per_dir.items():
                add(dir_id, LOGICAL, files, size)
                for se_id in ses:
                    add(dir_id, se_id, files, size)
            call.touched.update(per_dir)
        self._usage_apply(call.usage)
        self._touch_dirs(call.touched, db_now)
        return call.result

    def _add_chunk(self, part: list[FileRecord], call: _Call) -> None:
        sums_normal = _checksums_normal(part)
        if self._sqlite and sums_normal and len(part) >= _REPLICAS_IN_SQL_FROM:
            plain = _plain_columns(part, call)
            if plain is not None:
                rest = self._add_plain(plain, call)
                if rest is not None:
                    if rest:
                        self._add_chunk_by_record(rest, call, check_sums=False, registered=True)
                    return
        self._add_chunk_by_record(part, call, check_sums=not sums_normal)

    def _add_plain(self, plain: _Plain, call: _Call) -> list[FileRecord] | None:
        """Register a chunk of plain records a column at a time (SQLite only).

        Returns the records whose (directory, name) was registered already, for
        the general path to compare; or None, having added no file, when a
        record's parent cannot hold it, to let the general path say why.
        """
        parents = set(plain.parents)
        dirs = call.dirs
        in_the_way, dirs_at = self._place_parents(parents, plain.lfns, call)
        if in_the_way or dirs_at or not dirs.keys() >= parents:
            return None
        dir_ids = list(map(dirs.__getitem__, plain.parents))
        if self._fetchall(_FILE_EXISTS, (dir_ids[0], plain.names[0])):
            # registered already, most likely all of them (a retried registration)
            return list(plain.records)
        ((top,),) = self._fetchall(_MAX_FILE_ID)
        records = plain.records
        now = call.db_now
        rows = sorted(  # index order: neighbouring B-tree pages
            zip(
                dir_ids,
                plain.names,
                plain.sizes,
                map(_ADLER32_OF, records),
                map(_XXH3_OF, records),
                map(_GUID, records),
                repeat(call.owner),
                repeat(call.group),
                map(_MODE, records),
                repeat(now),
                repeat(now),
            )
        )
        inserted = self._many_count(_FILE_INSERT_NEXT_IDS, rows)
        # The write lock is held: the files with ids above ``top`` are those just inserted.
        for se_id in plain.ses if inserted else ():
            self._exec(_REPLICA_FROM_FILES, (se_id, now, top + 1, _LARGEST_ID))
        if not inserted:
            return list(records)
        if inserted == len(rows):
            _count_plain(call, plain.ses, plain.lfns, dir_ids, plain.sizes)
            return []
        keys = list(zip(dir_ids, plain.names, strict=True))
        ids = self._files_by_dir_name(keys)
        new = [ids[key][2] > top for key in keys]
        _count_plain(
            call,
            plain.ses,
            list(compress(plain.lfns, new)),
            list(compress(dir_ids, new)),
            list(compress(plain.sizes, new)),
        )
        return [rec for rec, is_new in zip(records, new, strict=True) if not is_new]

    def _place_parents(
        self, parents: set[str], lfns: list[str], call: _Call
    ) -> tuple[set[str], set[str]]:
        """Create the missing ``parents`` of ``lfns``.

        Returns the files in the way of a parent (see :meth:`_dir_error`) and
        those of ``lfns`` that are directories.
        """
        created, in_the_way = self._ensure_dirs(
            parents, call.dirs, parents=True, owner=call.owner, group=call.group, mode=0o775
        )
        for path in created:  # into the cached subdirectories of their parents
            known = call.subdirs.get(call.dirs.get(_lfn.dirname(path), -1))
            if known is not None:
                known.add(path)
        return in_the_way, self._directories_among(lfns, parents, call)

    def _add_chunk_by_record(
        self, part: list[FileRecord], call: _Call, *, check_sums: bool, registered: bool = False
    ) -> None:
        """Register ``part`` record by record.

        ``check_sums=False`` when their checksums are known normal;
        ``registered``: the records are plain and their files exist already
        (from :meth:`_add_plain`): they are compared with them.
        """
        failed = call.result.failed
        ready: list[_Prepared] = []
        ses = call.ses
        for rec in part:
            try:
                ready.append(_prepare(rec, ses, check_sums))
            except DFCError as exc:
                failed[rec.lfn] = exc
        parents = set(map(_PARENT, ready))
        in_the_way, dirs_at = self._place_parents(parents, [p.rec.lfn for p in ready], call)
        dirs = call.dirs
        placed: list[_Prepared] = []
        for prep in ready:
            lfn = prep.rec.lfn
            parent = prep.parent
            dir_id = dirs.get(parent)
            if dir_id is None:
                not_dir = NotADirectory(f"{parent}: not a directory")
                failed[lfn] = self._dir_error(parent, in_the_way, target_is_file=not_dir)
            elif lfn in dirs_at:
                failed[lfn] = IsADirectory(f"{lfn}: is a directory")
            else:
                prep.dir_id = dir_id
                placed.append(prep)
        self._write_chunk(placed, call, fresh=not registered)

    def _directories_among(self, lfns: list[str], parents: set[str], call: _Call) -> set[str]:
        """Return those of ``lfns`` (whose parents are ``parents``) that are directories.

        Looks at the subdirectories of their parents (few, usually none, and
        cached for the call) rather than at every LFN; falls back to looking up
        every LFN when the parents have more subdirectories than there are LFNs.
        """
        dirs, subdirs = call.dirs, call.subdirs
        unknown = {dirs[p] for p in parents if p in dirs}.difference(subdirs)
        if unknown:
            limit = len(lfns)
            rows: list[tuple[Any, ...]] = []
            for ids in chunks(sorted(unknown)):
                rows += self._fetchall(
                    "SELECT parent_id, path FROM directories "
                    f"WHERE parent_id IN ({marks(len(ids))}) LIMIT {limit + 1}",
                    ids,
                )
                if len(rows) > limit:
                    return set(self._dirs_by_path(lfns))
            for dir_id in unknown:
                subdirs[dir_id] = set()
            for dir_id, path in rows:
                subdirs[dir_id].add(path)
        below: set[str] = set()
        for parent in parents:
            below.update(subdirs.get(dirs.get(parent, -1), ()))
        if not below:  # leaf directories, the usual case
            return below
        return below.intersection(lfns)

    def _write_chunk(self, placed: list[_Prepared], call: _Call, *, fresh: bool = True) -> None:
        # Index order: lookups and inserts touch neighbouring B-tree pages.
        placed.sort(key=_INDEX_ORDER)
        if self._sqlite and fresh:
            # The write lock is held: insert optimistically and look at the
            # rows that were there already (usually none) afterwards.
            placed = self._insert_fresh(placed, call)
            if not placed:
                return
        self._lock_dirs(p.dir_id for p in placed)
        keys = [(p.dir_id, p.name) for p in placed]
        existing = self._files_by_dir_name(keys, "f.id, f.size, f.adler32, f.xxh3, f.guid")
        new: list[_Prepared] = []
        again: list[tuple[_Prepared, int]] = []
        replaced: list[int] = []
        for prep, key in zip(placed, keys, strict=True):
            row = existing.get(key)
            if row is None:
                new.append(prep)
            elif _same_file(prep, row):
                again.append((prep, row[2]))
            elif call.overwrite:
                replaced.append(row[2])
                new.append(prep)
            else:
                call.result.failed[prep.rec.lfn] = MetadataMismatch(
                    f"{prep.rec.lfn}: registered already with size {row[3]}, adler32 {row[4]}, "
                    f"GUID {row[6]}"
                )
        if replaced:
            self._drop_files(replaced, call.usage)
        self._insert_replica_rows(self._insert_new(new, call))
        # Replicas of files registered already may race with another writer's:
        # count only those this statement really inserted.
        rows = self._missing_replicas(again, call)
        if rows:
            where = self._current_files({fid: (p.dir_id, p.rec.size) for p, fid in again})
            for file_id, se_id in self._insert_replicas(rows):
                dir_id, size = where[file_id]
                call.usage.add(dir_id, se_id, 1, size)

    def _insert_fresh(self, placed: list[_Prepared], call: _Call) -> list[_Prepared]:
        """Insert ``placed`` as new files with their replicas, ids assigned here (SQLite only).

        Holding SQLite's write lock, ids above the current maximum are free; a
        file whose (directory, name) exists already is skipped by the INSERT and
        returned, for the slower path that compares it with the registered one.
        """
        if not placed:
            return placed
        ((top,),) = self._fetchall("SELECT coalesce(max(id), 0) FROM files")
        last = top + len(placed)
        numbered = list(enumerate(placed, top + 1))
        rows = _file_rows(placed, call, top + 1)
        added, collided = numbered, []
        if self._many_count(_FILE_INSERT_ID, rows) != len(rows):
            sql = "SELECT id FROM files WHERE id > ? AND id <= ?"
            ids = {r[0] for r in self._fetchall(sql, (top, last))}
            added = [(file_id, p) for file_id, p in numbered if file_id in ids]
            collided = [p for file_id, p in numbered if file_id not in ids]
        plain = placed[0].plain
        if (
            len(placed) >= _REPLICAS_IN_SQL_FROM
            and plain is not None
            and all(p.plain == plain for p in placed)
        ):
            # The usual bulk registration: SQLite makes the replica rows from the
            # files just inserted (ids above ``top``), one statement per SE,
            # rather than binding a row per replica through the driver.
            for se_id in plain:
                self._exec(_REPLICA_FROM_FILES, (se_id, call.db_now, top + 1, last))
            preps = [p for _, p in added]
            _count_plain(
                call,
                plain,
                [p.rec.lfn for p in preps],
                [p.dir_id for p in preps],
                [p.rec.size for p in preps],
            )
        else:
            self._insert_replica_rows(_count_new(added, call))
        return collided

    def _insert_new(self, new: list[_Prepared], call: _Call) -> list[tuple[Any, ...]]:
        """Insert ``new`` files (ids from the sequence); return their replica rows."""
        if not new:
            return []
        rows = [row[1:] for row in _file_rows(new, call, 0)]
        if self._sqlite:
            self._many(_FILE_INSERT, rows)
            found = self._files_by_dir_name([(r[0], r[1]) for r in rows])
            ids = {key: row[2] for key, row in found.items()}
        else:
            columns = [list(column) for column in islice(zip(*rows, strict=True), 9)]
            got = self._fetchall(_FILE_INSERT_ARRAYS, [call.db_now, call.db_now, *columns])
            ids = {(dir_id, name): file_id for file_id, dir_id, name in got}
        return _count_new([(ids[(p.dir_id, p.name)], p) for p in new], call)

    def _insert_replica_rows(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert ``REPLICA_INSERT`` rows, skipping replicas there already."""
        if not rows:
            return
        if self._sqlite:
            self._many(REPLICA_INSERT, rows)
        else:
            self._exec(_REPLICA_INSERT_ARRAYS, [list(column) for column in zip(*rows, strict=True)])

    def _missing_replicas(
        self, again: list[tuple[_Prepared, int]], call: _Call
    ) -> list[tuple[Any, ...]]:
        ids = [file_id for p, file_id in again if p.replicas]
        have: dict[tuple[int, int], str] = {}
        for part in chunks(ids):
            sql = f"SELECT file_id, se_id, path FROM replicas WHERE file_id IN ({marks(len(part))})"
            for file_id, se_id, path in self._fetchall(sql, part):
                have[(file_id, se_id)] = path
        rows: list[tuple[Any, ...]] = []
        for prep, file_id in again:
            add: list[tuple[Any, ...]] = []
            error: DFCError | None = None
            for se_id, path, status in prep.replicas:
                old = have.get((file_id, se_id))
                if old is None:
                    add.append((file_id, se_id, path, status, call.db_now))
                elif old != path:
                    se = next(n for n, (i, _u) in call.ses.items() if i == se_id)
                    error = ReplicaExists(f"{prep.rec.lfn}: replica at {se} exists with path {old}")
            if error is not None:
                call.result.failed[prep.rec.lfn] = error
            else:
                rows += add
                call.result.succeeded[prep.rec.lfn] = None
        return rows

    def remove_files(self, lfns: Sequence[str]) -> BulkResult[None]:
        """Unregister files with their replica rows; a missing file is a success.

        Metadata, ancestry links and frozen dataset memberships of the files go
        with them.

        Returns:
            Per LFN: success, or :class:`~dfc.errors.IsADirectory`.
        """
        result: BulkResult[None] = BulkResult()
        _, db_now = self._now()
        touched: set[int] = set()
        usage = Deltas()
        for part in chunks(list(dict.fromkeys(lfns))):
            files = self._files_by_lfn(part)
            absent = [p for p in part if p not in files]
            dirs = self._dirs_by_path(absent) if absent else {}
            ids = [row[0] for row in files.values()]
            if ids:
                self._drop_files(ids, usage)
            touched.update(row[1] for row in files.values())
            for path in part:
                if path in dirs:
                    result.failed[path] = IsADirectory(f"{path}: is a directory")
                else:
                    result.succeeded[path] = None
        self._usage_apply(usage)
        self._touch_dirs(touched, db_now)
        return result


def _file_rows(preps: list[_Prepared], call: _Call, first_id: int) -> list[tuple[Any, ...]]:
    """The ``files`` rows of new files with ids counting up from ``first_id``.

    In ``_FILE_INSERT_ID``'s column order; ``_FILE_INSERT``'s is the same without the id.
    """
    now = call.db_now
    owner, group = call.owner, call.group
    return [
        (
            file_id,
            p.dir_id,
            p.name,
            p.rec.size,
            p.adler32,
            p.xxh3,
            p.rec.guid or str(uuid.uuid4()),
            p.rec.owner or owner,
            p.rec.group or group,
            p.rec.mode,
            now,
            now,
        )
        for file_id, p in enumerate(preps, first_id)
    ]


def _count_new(added: list[tuple[int, _Prepared]], call: _Call) -> list[tuple[Any, ...]]:
    """Record ``(file id, file)`` pairs just inserted: successes, usage, touched directories.

    Returns the rows of their replicas, for ``REPLICA_INSERT``.
    """
    now = call.db_now
    succeeded = call.result.succeeded
    usage = call.usage
    rep_rows: list[tuple[Any, ...]] = []
    for file_id, p in added:
        size = p.rec.size
        dir_id = p.dir_id
        cell = usage[(dir_id, LOGICAL)]
        cell[0] += 1
        cell[1] += size
        for se_id, path, status in p.replicas:
            rep_rows.append((file_id, se_id, path, status, now))
            cell = usage[(dir_id, se_id)]
            cell[0] += 1
            cell[1] += size
        succeeded[p.rec.lfn] = None
    call.touched.update(p.dir_id for _, p in added)
    return rep_rows


def _count_plain(
    call: _Call, ses: tuple[int, ...], lfns: list[str], dir_ids: list[int], sizes: list[int]
) -> None:
    """Record files just inserted with plain replicas at ``ses`` (as :func:`_count_new`).

    ``lfns``, ``dir_ids`` and ``sizes`` are theirs, in the same order. Their
    files and bytes are summed per directory over the whole call, and become
    usage of the logical counter and of each SE at its end.
    """
    call.result.succeeded.update(dict.fromkeys(lfns))
    per_dir = call.plain.setdefault(ses, {})
    for dir_id, size in zip(dir_ids, sizes, strict=True):
        cell = per_dir.get(dir_id)
        if cell is None:
            per_dir[dir_id] = [1, size]
        else:
            cell[0] += 1
            cell[1] += size


def _same_file(prep: _Prepared, row: Any) -> bool:
    # row: dir_id, name, id, size, adler32, xxh3, guid
    if prep.rec.size != row[3] or int(prep.adler32, 16) != int(row[4], 16):
        return False
    if prep.xxh3 and row[5] and prep.xxh3 != row[5]:
        return False
    return not prep.rec.guid or prep.rec.guid == row[6]
