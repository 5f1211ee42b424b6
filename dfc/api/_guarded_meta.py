"""The guarded metadata operations: fields, values, queries, datasets, provenance, usage.

Part of :class:`~dfc.api._guarded.GuardedTx`. The rules:

- declaring and removing fields, recounting usage: administrators (as in DIRAC);
- setting metadata or provenance on an entry: the right to change it (write on it or on its
  directory, or the role of a role path);
- reading metadata, querying, usage, dumps: read on the path; streamed results skip what
  lies in directories the caller may not read (counts and tag values are aggregates over
  the whole tree below a readable path);
- datasets are named by paths: creating one needs write where it goes; changing or
  removing one needs its ownership, write on its directory, or administration.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, TypeVar

from dfc import lfn as lfnmod
from dfc.errors import DFCError, InvalidArgument, NotFound
from dfc.models import BulkResult

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

    from dfc.api._authz import Authorizer
    from dfc.auth.tokens import StorageOp
    from dfc.catalog import CatalogTx
    from dfc.catalog._query import Query
    from dfc.catalog._records import (
        DatasetCheck,
        DatasetInfo,
        DumpEntry,
        FieldLevel,
        MetaField,
        MetaScalar,
        MetaValue,
        Usage,
    )
    from dfc.models import Entry

__all__ = ["GuardedMetaMixin"]

T = TypeVar("T")
_BATCH = 500


def _check_lfns(values: Iterable[object], what: str) -> None:
    for value in values:
        lfnmod.validate(value)  # type: ignore[arg-type]


class GuardedMetaMixin:
    """Metadata operations of the guarded transaction (see the module docstring)."""

    if TYPE_CHECKING:
        _inner: CatalogTx
        _authz: Authorizer

        def _known(self, paths: Iterable[str]) -> tuple[dict[str, Entry], dict[str, str]]: ...

        def _listable(self, entry: Entry) -> None: ...

        def _require_admin(self, what: str, *, write: bool = True) -> None: ...

        def _ensure_home(self, targets: Iterable[str]) -> None: ...

        def _write_error(
            self, directory: Entry, target: str, scope: StorageOp, hidden: dict[str, str]
        ) -> DFCError | None: ...

        def lookup(self, lfn: str) -> Entry: ...

    # ------------------------------------------------------------------ helpers
    def _readable(self, path: str) -> Entry:
        """The entry at ``path``, which the caller must see (and list, for a directory)."""
        entry = self.lookup(path)
        self._listable(entry)
        return entry

    def _visible_only(self, items: Iterator[T], lfn_of: Callable[[T], str]) -> Iterator[T]:
        """Drop the items whose LFN lies in a directory the caller may not read."""
        if self._authz.reads_all:
            yield from items
            return
        while batch := list(itertools.islice(items, _BATCH)):
            _, hidden = self._known({lfnmod.dirname(lfn_of(i)) for i in batch})
            for item in batch:
                lfn = lfn_of(item)
                if lfnmod.dirname(lfn) not in hidden and self._authz.read_error(lfn) is None:
                    yield item

    def _change_errors(self, paths: Sequence[str]) -> dict[str, DFCError]:
        """The paths whose metadata the caller may not change, with why."""
        if self._authz.admin:
            # Mode bits do not bind administrators: only the credential's own
            # limits (limited proxy, token scopes) apply, so skip the lookup.
            return {
                path: error
                for path in paths
                if (error := self._authz.change_error(path, "modify")) is not None
            }
        known, hidden = self._known(paths)
        out: dict[str, DFCError] = {}
        for path in paths:
            entry = known.get(path)
            if entry is None:
                continue  # the catalogue reports it
            parent = lfnmod.dirname(path)
            error = self._authz.modify_error(entry, known.get(parent), "modify", hidden.get(parent))
            if error is not None:
                out[path] = error
        return out

    def _pairs(self, items: Sequence[Any], result: BulkResult[None]) -> list[tuple[str, Any]]:
        good: list[tuple[str, Any]] = []
        for item in items:
            if not isinstance(item, tuple | list) or len(item) != 2:
                raise InvalidArgument("each item must be (path, value)")
            try:
                good.append((lfnmod.validate(item[0]), item[1]))
            except DFCError as exc:
                result.failed[str(item[0])] = exc
        return good

    def _dataset_change(self, name: str) -> None:
        """Raise unless the caller may change dataset ``name``."""
        info = self._inner.dataset_show(lfnmod.validate(name))
        error = self._authz.change_error(name, "modify")
        if error is None and not self._authz.admin and info.owner != self._authz.principal.name:
            parent = lfnmod.dirname(name)
            known, hidden = self._known([parent])
            directory = known.get(parent)
            error = (
                self._write_error(directory, name, "modify", hidden)
                if directory is not None
                else None
            )
        if error is not None:
            raise error

    # ------------------------------------------------------------------ fields and values
    def meta_fields(self) -> list[MetaField]:
        """Every declared field."""
        return self._inner.meta_fields()

    def meta_index(self, name: str, type_name: str, level: FieldLevel) -> bool:
        """Declare a field (administrators only)."""
        self._require_admin(f"declaring metadata field {name}")
        return self._inner.meta_index(name, type_name, level)

    def meta_unindex(self, name: str) -> None:
        """Remove a field and its values (administrators only)."""
        self._require_admin(f"removing metadata field {name}")
        self._inner.meta_unindex(name)

    def meta_set(self, items: Sequence[tuple[str, Mapping[str, Any]]]) -> BulkResult[None]:
        """Set values on entries the caller may change."""
        result: BulkResult[None] = BulkResult()
        good = self._pairs(items, result)
        refused = self._change_errors([p for p, _ in good])
        result.failed.update(refused)
        chosen = [(p, v) for p, v in good if p not in refused]
        if chosen:
            result.merge(self._inner.meta_set(chosen))
        return result

    def meta_rm(self, items: Sequence[tuple[str, Sequence[str]]]) -> BulkResult[None]:
        """Remove values from entries the caller may change."""
        result: BulkResult[None] = BulkResult()
        good = self._pairs(items, result)
        refused = self._change_errors([p for p, _ in good])
        result.failed.update(refused)
        chosen = [(p, v) for p, v in good if p not in refused]
        if chosen:
            result.merge(self._inner.meta_rm(chosen))
        return result

    def meta_get(self, path: str) -> dict[str, MetaValue]:
        """The metadata of an entry the caller may see."""
        self.lookup(path)
        return self._inner.meta_get(path)

    # ------------------------------------------------------------------ queries
    def parse_query(self, terms: Sequence[str]) -> Query:
        """Parse query terms."""
        return self._inner.parse_query(terms)

    def find(self, path: str, terms: Sequence[str] | Query) -> Iterator[str]:
        """Matching files below a readable path, in readable directories."""
        self._readable(path)
        return self._visible_only(self._inner.find(path, terms), str)

    def find_dirs(self, path: str, terms: Sequence[str] | Query) -> Iterator[str]:
        """Directories holding matching files, below a readable path."""
        self._readable(path)
        # A directory is shown if its contents may be seen: test a name inside it.
        return self._visible_only(self._inner.find_dirs(path, terms), lambda d: d + "/x")

    def find_count(self, path: str, terms: Sequence[str] | Query) -> tuple[int, int]:
        """Count and size of the matching files below a readable path."""
        self._readable(path)
        return self._inner.find_count(path, terms)

    def meta_tags(
        self, path: str, name: str, terms: Sequence[str] | Query = ()
    ) -> list[MetaScalar]:
        """Distinct values of a field among the matching files below a readable path."""
        self._readable(path)
        return self._inner.meta_tags(path, name, terms)

    # ------------------------------------------------------------------ datasets
    def dataset_add(
        self, name: str, words: Sequence[str], *, owner: str, group: str
    ) -> DatasetInfo:
        """Create a dataset where the caller may write (owned by the caller)."""
        lfnmod.validate(name)
        self._ensure_home([name])
        known, hidden = self._known([name])
        anc = next((known[p] for p in reversed(lfnmod.parents(name)) if p in known), None)
        if anc is not None and anc.is_dir:
            error = self._write_error(anc, name, "create", hidden)
            if error is not None:
                raise error
        p = self._authz.principal
        return self._inner.dataset_add(name, words, owner=p.name or "", group=p.group)

    def dataset_show(self, name: str) -> DatasetInfo:
        """A dataset the caller may see."""
        self.lookup(lfnmod.dirname(lfnmod.validate(name)))
        return self._inner.dataset_show(name)

    def dataset_list(self, path: str = "/") -> list[DatasetInfo]:
        """Datasets below a readable path, in readable directories."""
        self._readable(path)
        found = self._inner.dataset_list(path)
        return list(self._visible_only(iter(found), lambda d: d.name))

    def dataset_files(self, name: str) -> Iterator[str]:
        """Members of a visible dataset, in readable directories."""
        self.dataset_show(name)
        return self._visible_only(self._inner.dataset_files(name), str)

    def dataset_check(self, name: str) -> DatasetCheck:
        """Compare a visible dataset with its members now."""
        self.dataset_show(name)
        return self._inner.dataset_check(name)

    def dataset_update(self, name: str) -> DatasetCheck:
        """Store a dataset's current members (its owner, or write on its directory)."""
        self._dataset_change(name)
        return self._inner.dataset_update(name)

    def dataset_freeze(self, name: str) -> DatasetInfo:
        """Freeze a dataset (its owner, or write on its directory)."""
        self._dataset_change(name)
        return self._inner.dataset_freeze(name)

    def dataset_release(self, name: str) -> DatasetInfo:
        """Release a frozen dataset (its owner, or write on its directory)."""
        self._dataset_change(name)
        return self._inner.dataset_release(name)

    def dataset_annotate(self, name: str, text: str) -> DatasetInfo:
        """Annotate a dataset (its owner, or write on its directory)."""
        self._dataset_change(name)
        return self._inner.dataset_annotate(name, text)

    def dataset_rm(self, name: str) -> bool:
        """Remove a dataset (its owner, or write on its directory); missing is a success."""
        lfnmod.validate(name)
        try:
            self._dataset_change(name)
        except NotFound:  # no such dataset: nothing to remove
            return self._inner.dataset_rm(name)
        return self._inner.dataset_rm(name)

    # ------------------------------------------------------------------ provenance
    def ancestry_add(self, items: Sequence[tuple[str, Sequence[str]]]) -> BulkResult[None]:
        """Record ancestors of files the caller may change."""
        result: BulkResult[None] = BulkResult()
        good = self._pairs(items, result)
        chosen: list[tuple[str, Sequence[str]]] = []
        for lfn, ancestors in good:
            if not isinstance(ancestors, list | tuple):
                raise InvalidArgument("ancestors must be a list of LFNs")
            _check_lfns(ancestors, "ancestor")
            chosen.append((lfn, ancestors))
        refused = self._change_errors([p for p, _ in chosen])
        result.failed.update(refused)
        chosen = [c for c in chosen if c[0] not in refused]
        if chosen:
            result.merge(self._inner.ancestry_add(chosen))
        return result

    def _visible_relatives(
        self, found: BulkResult[dict[str, int]], lfns: Sequence[str]
    ) -> BulkResult[dict[str, int]]:
        if self._authz.reads_all:
            return found
        result: BulkResult[dict[str, int]] = BulkResult(failed=dict(found.failed))
        names = {lfn for rel in found.succeeded.values() for lfn in rel} | set(found.succeeded)
        _, hidden = self._known({lfnmod.dirname(n) for n in names})
        for lfn, rel in found.succeeded.items():
            if lfnmod.dirname(lfn) in hidden:
                error = self._authz.read_error(lfn, None, hidden[lfnmod.dirname(lfn)])
                if error is not None:
                    result.failed[lfn] = error
                    continue
            result.succeeded[lfn] = {
                k: v for k, v in rel.items() if lfnmod.dirname(k) not in hidden
            }
        return result

    def ancestors(self, lfns: Sequence[str], depth: int = 1) -> BulkResult[dict[str, int]]:
        """Ancestors of files, as far as the caller may see them."""
        _check_lfns(lfns, "LFN")
        return self._visible_relatives(self._inner.ancestors(lfns, depth), lfns)

    def descendants(self, lfns: Sequence[str], depth: int = 1) -> BulkResult[dict[str, int]]:
        """Descendants of files, as far as the caller may see them."""
        _check_lfns(lfns, "LFN")
        return self._visible_relatives(self._inner.descendants(lfns, depth), lfns)

    # ------------------------------------------------------------------ usage and dumps
    def du(self, path: str, *, own: bool = False, from_files: bool = False) -> Usage:
        """Usage below a readable path."""
        entry = self.lookup(path)
        self._listable(entry)
        return self._inner.du(path, own=own, from_files=from_files)

    def recount_usage(self, path: str = "/") -> None:
        """Rebuild usage counters (administrators only)."""
        self._require_admin("recounting usage")
        lfnmod.validate(path)
        self._inner.recount_usage(path)

    def usage_mismatches(self, path: str = "/") -> list[tuple[str, int, int, int, int, int]]:
        """Compare usage counters with a recount (administrators only)."""
        self._require_admin("checking usage counters", write=False)
        lfnmod.validate(path)
        return self._inner.usage_mismatches(path)

    def dump(self, path: str) -> Iterator[DumpEntry]:
        """Every file below a readable path, in readable directories."""
        self._readable(path)
        return self._visible_only(self._inner.dump(path), lambda e: e.lfn)
