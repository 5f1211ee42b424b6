"""The metadata half of the public API.

Fields, values, queries, datasets, provenance, storage usage and dumps.
:class:`MetaMixin` is a base of :class:`dfc.DFC`; like the rest of the facade
it validates names at the edge and owns the transactions. Streaming methods
(``find``, ``dataset_files``, ``dump``) check their arguments when called and
then hold one read transaction while the caller iterates.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, TypeVar

from dfc import lfn as lfnmod
from dfc.errors import DFCError, InvalidArgument, InvalidQuery
from dfc.models import BulkResult

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from contextlib import AbstractContextManager

    from dfc.api._guarded import ApiTx
    from dfc.catalog import Catalog, CatalogTx
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

__all__ = ["MetaMixin"]

T = TypeVar("T")
#: Default bound on the LFNs :meth:`MetaMixin.resolve_inputs` returns.
MAX_INPUTS = 1_000_000


def _terms(query: Sequence[str] | str) -> list[str]:
    # A string is split on white space, as DIRAC's shell does.
    return query.split() if isinstance(query, str) else list(query)


def _check_all(names: Sequence[str], result: BulkResult[Any]) -> list[str]:
    valid: list[str] = []
    for name in names:
        try:
            valid.append(lfnmod.validate(name))
        except DFCError as exc:
            result.failed[name] = exc
    return valid


class MetaMixin:
    """Metadata, queries, datasets, provenance, usage and dumps (part of :class:`dfc.DFC`)."""

    if TYPE_CHECKING:

        @property
        def catalog(self) -> Catalog: ...

        def _owner(self) -> tuple[str, str]: ...

        # Authorised transactions (dfc.api._authz), provided by DFC.
        def _tx(self) -> AbstractContextManager[ApiTx]: ...

        def _reader(self) -> AbstractContextManager[ApiTx]: ...

    def _streamed(self, make: Callable[[CatalogTx], Iterator[T]]) -> Iterator[T]:
        """Run ``make`` in a read transaction now; stream its rows while iterated."""
        stack = ExitStack()
        tx = stack.enter_context(self._reader())
        try:
            rows = make(tx)
        except BaseException:
            stack.close()
            raise

        def stream() -> Iterator[T]:
            with stack:
                yield from rows

        return stream()

    # ------------------------------------------------------------------ fields
    def meta_index(self, name: str, type_name: str, *, level: FieldLevel = "dir") -> bool:
        """Declare metadata field ``name`` of type ``type_name`` (int, float, string, date).

        ``level`` ``dir`` fields are set on directories and inherited by all
        below; ``file`` fields are set on files.

        Returns:
            True if declared now, False if it existed already the same way.

        Raises:
            InvalidArgument: a malformed or reserved name, or an unknown type.
            MetadataConflict: the name exists at the other level or with another type.
        """
        with self._tx() as tx:
            return tx.meta_index(name, type_name, level)

    def meta_unindex(self, name: str) -> None:
        """Remove metadata field ``name`` and all its values.

        Raises:
            NotFound: no such field.
        """
        with self._tx() as tx:
            tx.meta_unindex(name)

    def meta_show(self) -> list[MetaField]:
        """Return the declared metadata fields, sorted by name."""
        with self._reader() as tx:
            return tx.meta_fields()

    # ------------------------------------------------------------------ values
    def meta_set(self, items: Sequence[tuple[str, Mapping[str, Any]]]) -> BulkResult[None]:
        """Set metadata: ``[(path, {field: value, ...}), ...]`` in one transaction.

        Values may be typed or text; each is checked against its field's type.
        Directory values are inherited below; setting a directory field where
        an ancestor or subdirectory sets it already is a conflict (DIRAC).
        Bulk: 100,000 files are one call.

        Returns:
            Per path: success, or :class:`~dfc.errors.InvalidLFN`,
            :class:`~dfc.errors.LFNNotFound`, :class:`~dfc.errors.InvalidArgument`
            (unknown field, wrong level, badly typed value),
            :class:`~dfc.errors.MetadataConflict`.
        """
        result: BulkResult[None] = BulkResult()
        valid = set(_check_all([path for path, _ in items], result))
        with self._tx() as tx:
            result.merge(tx.meta_set([(p, kv) for p, kv in items if p in valid]))
        return result

    def meta_get(self, path: str) -> dict[str, MetaValue]:
        """Return the metadata of ``path`` by field name: own and inherited values.

        ``str()`` of a value is its text; ``inherited`` and ``owner`` say where
        it is set.

        Raises:
            InvalidLFN: ``path`` is not a valid LFN.
            LFNNotFound: nothing is registered at ``path``.
        """
        path = lfnmod.validate(path)
        with self._reader() as tx:
            return tx.meta_get(path)

    def meta_rm(self, items: Sequence[tuple[str, Sequence[str]]]) -> BulkResult[None]:
        """Remove metadata values ``[(path, [field, ...]), ...]``; unset ones are fine.

        Returns:
            Per path: success, or :class:`~dfc.errors.InvalidLFN`,
            :class:`~dfc.errors.LFNNotFound`, :class:`~dfc.errors.InvalidArgument`
            (unknown field, wrong level, or a value inherited from above).
        """
        result: BulkResult[None] = BulkResult()
        valid = set(_check_all([path for path, _ in items], result))
        with self._tx() as tx:
            result.merge(tx.meta_rm([(p, names) for p, names in items if p in valid]))
        return result

    # ------------------------------------------------------------------ queries
    def find(
        self, path: str, query: Sequence[str] | str, *, directories: bool = False
    ) -> Iterator[str]:
        """Stream the LFNs of files below ``path`` matching a DIRAC metadata query.

        ``query`` is a list of terms (``["Run>100", "Type=RAW"]``) or one string
        of them. Results come in LFN order; an empty query matches nothing. With
        ``directories``, the directories holding matches are streamed instead.

        Raises:
            InvalidLFN: ``path`` is not a valid LFN.
            InvalidQuery: a malformed term, unknown field or badly typed value.
            LFNNotFound: ``path`` does not exist.
            NotADirectory: ``path`` is a file.
        """
        path = lfnmod.validate(path)
        terms = _terms(query)
        if directories:
            return self._streamed(lambda tx: tx.find_dirs(path, terms))
        return self._streamed(lambda tx: tx.find(path, terms))

    def find_count(self, path: str, query: Sequence[str] | str) -> tuple[int, int]:
        """Return the number and total size of the files :meth:`find` would stream.

        Raises:
            InvalidLFN: ``path`` is not a valid LFN.
            InvalidQuery: a malformed term, unknown field or badly typed value.
            LFNNotFound: ``path`` does not exist.
            NotADirectory: ``path`` is a file.
        """
        path = lfnmod.validate(path)
        with self._reader() as tx:
            return tx.find_count(path, _terms(query))

    def parse_query(self, query: Sequence[str] | str) -> dict[str, Any]:
        """Return a query as DIRAC's parser shows it (``{'Run': {'>': 100}}``).

        Raises:
            InvalidQuery: a malformed term, unknown field or badly typed value.
        """
        with self._reader() as tx:
            return tx.parse_query(_terms(query)).as_dict()

    def meta_tags(self, path: str, field: str, query: Sequence[str] | str = ()) -> list[MetaScalar]:
        """Return the distinct values of ``field`` among the files matching ``query``.

        Raises:
            InvalidLFN: ``path`` is not a valid LFN.
            InvalidQuery: an unknown field, a malformed term or a bad value.
            LFNNotFound: ``path`` does not exist.
            NotADirectory: ``path`` is a file.
        """
        path = lfnmod.validate(path)
        with self._reader() as tx:
            return tx.meta_tags(path, field, _terms(query))

    # ------------------------------------------------------------------ datasets
    def dataset_add(self, name: str, query: Sequence[str] | str) -> DatasetInfo:
        """Create a dynamic dataset ``name`` (a full path) from ``[PATH] TERM...``.

        Raises:
            InvalidLFN: ``name`` or PATH is not a valid LFN.
            InvalidQuery: no terms, or a malformed term, unknown field or bad value.
            AlreadyExists: a dataset, file or directory has that name.
            LFNNotFound: PATH does not exist.
        """
        name = lfnmod.validate(name)
        owner, group = self._owner()
        with self._tx() as tx:
            return tx.dataset_add(name, _terms(query), owner=owner, group=group)

    def dataset_show(self, name: str | None = None) -> list[DatasetInfo]:
        """Return dataset ``name``, or every dataset when ``name`` is None.

        Raises:
            InvalidLFN: ``name`` is not a valid LFN.
            NotFound: no such dataset.
        """
        with self._reader() as tx:
            if name is None:
                return tx.dataset_list()
            return [tx.dataset_show(lfnmod.validate(name))]

    def dataset_files(self, name: str) -> Iterator[str]:
        """Stream the member LFNs of dataset ``name`` in LFN order.

        Raises:
            InvalidLFN: ``name`` is not a valid LFN.
            NotFound: no such dataset.
            InvalidQuery: its query names a field removed since.
        """
        name = lfnmod.validate(name)
        return self._streamed(lambda tx: tx.dataset_files(name))

    def dataset_check(self, name: str) -> DatasetCheck:
        """Compare dataset ``name`` now with its last add, update or freeze.

        Raises:
            InvalidLFN: ``name`` is not a valid LFN.
            NotFound: no such dataset.
            InvalidQuery: its query names a field removed since.
        """
        name = lfnmod.validate(name)
        with self._reader() as tx:
            return tx.dataset_check(name)

    def dataset_update(self, name: str) -> DatasetCheck:
        """Store the current count, bytes and hash of dataset ``name``.

        Raises:
            InvalidLFN: ``name`` is not a valid LFN.
            NotFound: no such dataset.
            InvalidQuery: its query names a field removed since.
        """
        name = lfnmod.validate(name)
        with self._tx() as tx:
            return tx.dataset_update(name)

    def dataset_freeze(self, name: str) -> DatasetInfo:
        """Fix the members of dataset ``name`` to what its query matches now.

        Raises:
            InvalidLFN: ``name`` is not a valid LFN.
            NotFound: no such dataset.
            InvalidQuery: its query names a field removed since.
        """
        name = lfnmod.validate(name)
        with self._tx() as tx:
            return tx.dataset_freeze(name)

    def dataset_release(self, name: str) -> DatasetInfo:
        """Make frozen dataset ``name`` dynamic again.

        Raises:
            InvalidLFN: ``name`` is not a valid LFN.
            NotFound: no such dataset.
        """
        name = lfnmod.validate(name)
        with self._tx() as tx:
            return tx.dataset_release(name)

    def dataset_annotate(self, name: str, text: str) -> DatasetInfo:
        """Set the annotation of dataset ``name`` (an empty text clears it).

        Raises:
            InvalidLFN: ``name`` is not a valid LFN.
            NotFound: no such dataset.
            InvalidArgument: the text is too long.
        """
        name = lfnmod.validate(name)
        with self._tx() as tx:
            return tx.dataset_annotate(name, text)

    def dataset_rm(self, name: str) -> bool:
        """Remove dataset ``name`` (never its files); a missing one is fine.

        Returns:
            True if it existed.

        Raises:
            InvalidLFN: ``name`` is not a valid LFN.
        """
        name = lfnmod.validate(name)
        with self._tx() as tx:
            return tx.dataset_rm(name)

    def resolve_inputs(
        self,
        *,
        dataset: str | None = None,
        query: Sequence[str] | str | None = None,
        limit: int = MAX_INPUTS,
    ) -> list[str]:
        """Return the LFNs named by a dataset or by a query ``PATH TERM...``.

        The input of ``replicate --dataset/--query`` and ``get --dataset/--query``.
        PATH defaults to ``/``; results are in LFN order; both sources may be
        given (the union, each LFN once).

        Raises:
            InvalidArgument: neither given, or more than ``limit`` files (split
                the input, or narrow the query).
            InvalidLFN, InvalidQuery, NotFound, LFNNotFound: a bad dataset or query.
        """
        if dataset is None and query is None:
            raise InvalidArgument("give a dataset or a query")
        out: dict[str, None] = {}
        sources: list[Iterator[str]] = []
        if dataset is not None:
            sources.append(self.dataset_files(dataset))
        if query is not None:
            from dfc.catalog._query import split_scope  # loads on first use

            path, terms = split_scope(_terms(query))
            if not terms:
                raise InvalidQuery("the query has no terms (an empty query matches nothing)")
            sources.append(self.find(path or "/", terms))
        for source in sources:
            for lfn in source:
                out[lfn] = None
                if len(out) > limit:
                    raise InvalidArgument(
                        f"the input holds more than {limit} files: narrow the query or split it"
                    )
        return list(out)

    # ------------------------------------------------------------------ provenance
    def ancestry_add(self, items: Sequence[tuple[str, Sequence[str]]]) -> BulkResult[None]:
        """Record ancestors: ``[(lfn, [ancestor_lfn, ...]), ...]``.

        Returns:
            Per LFN: success, or :class:`~dfc.errors.InvalidLFN`,
            :class:`~dfc.errors.LFNNotFound` (the file or an ancestor),
            :class:`~dfc.errors.InvalidArgument` (a cycle).
        """
        result: BulkResult[None] = BulkResult()
        valid: list[tuple[str, Sequence[str]]] = []
        for lfn, ancestors in items:
            try:
                valid.append((lfnmod.validate(lfn), [lfnmod.validate(a) for a in ancestors]))
            except DFCError as exc:
                result.failed[lfn] = exc
        with self._tx() as tx:
            result.merge(tx.ancestry_add(valid))
        return result

    def ancestors(self, lfns: Sequence[str], *, depth: int = 1) -> BulkResult[dict[str, int]]:
        """Return each file's ancestors up to ``depth`` levels, ``{lfn: depth}``.

        Raises:
            InvalidArgument: ``depth`` is not between 1 and 1000.
        """
        result: BulkResult[dict[str, int]] = BulkResult()
        valid = _check_all(lfns, result)
        with self._reader() as tx:
            result.merge(tx.ancestors(valid, depth))
        return result

    def descendants(self, lfns: Sequence[str], *, depth: int = 1) -> BulkResult[dict[str, int]]:
        """Return the files made from each file, up to ``depth`` levels, ``{lfn: depth}``.

        Raises:
            InvalidArgument: ``depth`` is not between 1 and 1000.
        """
        result: BulkResult[dict[str, int]] = BulkResult()
        valid = _check_all(lfns, result)
        with self._reader() as tx:
            result.merge(tx.descendants(valid, depth))
        return result

    # ------------------------------------------------------------------ usage and dumps
    def du(self, path: str = "/", *, own: bool = False, from_files: bool = False) -> Usage:
        """Return the logical and per-SE usage below ``path`` (recursive by default).

        Read from counters kept in step with every change; ``from_files``
        recounts from the file and replica tables instead (slow, for checking).

        Raises:
            InvalidLFN: ``path`` is not a valid LFN.
            LFNNotFound: nothing is registered at ``path``.
        """
        path = lfnmod.validate(path)
        with self._reader() as tx:
            return tx.du(path, own=own, from_files=from_files)

    def du_recount(self, path: str = "/") -> Usage:
        """Rebuild the usage counters below directory ``path``; return its usage.

        Raises:
            InvalidLFN: ``path`` is not a valid LFN.
            LFNNotFound: no such directory.
            NotADirectory: ``path`` is a file.
        """
        path = lfnmod.validate(path)
        with self._tx() as tx:
            tx.recount_usage(path)
            return tx.du(path)

    def dump(self, path: str = "/") -> Iterator[DumpEntry]:
        """Stream every file below ``path`` with size, checksums and replicas.

        Bounded memory whatever the size of the tree; LFN order.

        Raises:
            InvalidLFN: ``path`` is not a valid LFN.
            LFNNotFound: nothing is registered at ``path``.
        """
        path = lfnmod.validate(path)
        return self._streamed(lambda tx: tx.dump(path))

    def stat_guid(self, guid: str) -> Entry:
        """Return the file registered with ``guid`` (with its replicas).

        Raises:
            LFNNotFound: no file has that GUID.
        """
        with self._reader() as tx:
            return tx.find_guid(guid.strip())
