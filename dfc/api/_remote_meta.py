"""The metadata operations of a remote transaction, forwarded to the catalogue server.

Part of :class:`~dfc.api._remote.RemoteTx`. Queries travel as their terms (strings);
the server parses them against its fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dfc.errors import InvalidArgument

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from dfc.api._remote import RemoteCatalog
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
    from dfc.models import BulkResult

__all__ = ["RemoteMetaMixin"]


def _terms(terms: Sequence[str] | Query) -> list[str]:
    if isinstance(terms, str) or not all(isinstance(t, str) for t in terms):  # type: ignore[union-attr]
        raise InvalidArgument("a remote query is a list of terms (strings)")
    return list(terms)  # type: ignore[arg-type]


class RemoteMetaMixin:
    """Forwards the metadata operations (see the module docstring)."""

    if TYPE_CHECKING:
        _remote: RemoteCatalog

    def meta_fields(self) -> list[MetaField]:
        """Every declared field."""
        fields: list[MetaField] = self._remote.call("meta_fields")
        return fields

    def meta_index(self, name: str, type_name: str, level: FieldLevel) -> bool:
        """Declare a field."""
        created: bool = self._remote.call("meta_index", name=name, type_name=type_name, level=level)
        return created

    def meta_unindex(self, name: str) -> None:
        """Remove a field and its values."""
        self._remote.call("meta_unindex", name=name)

    def meta_set(self, items: Sequence[tuple[str, Mapping[str, Any]]]) -> BulkResult[None]:
        """Set metadata values."""
        result: BulkResult[None] = self._remote.call(
            "meta_set", items=[[p, dict(v)] for p, v in items]
        )
        return result

    def meta_rm(self, items: Sequence[tuple[str, Sequence[str]]]) -> BulkResult[None]:
        """Remove metadata values."""
        result: BulkResult[None] = self._remote.call(
            "meta_rm", items=[[p, list(v)] for p, v in items]
        )
        return result

    def meta_get(self, path: str) -> dict[str, MetaValue]:
        """The metadata of a path."""
        values: dict[str, MetaValue] = self._remote.call("meta_get", path=path)
        return values

    def parse_query(self, terms: Sequence[str]) -> Query:
        """Parse query terms (on the server, against its fields)."""
        query: Query = self._remote.call("parse_query", terms=_terms(terms))
        return query

    def find(self, path: str, terms: Sequence[str] | Query) -> Iterator[str]:
        """Stream matching files."""
        return self._remote.stream("find", path=path, terms=_terms(terms))

    def find_dirs(self, path: str, terms: Sequence[str] | Query) -> Iterator[str]:
        """Stream directories holding matching files."""
        return self._remote.stream("find_dirs", path=path, terms=_terms(terms))

    def find_count(self, path: str, terms: Sequence[str] | Query) -> tuple[int, int]:
        """Count and size of the matching files."""
        count, size = self._remote.call("find_count", path=path, terms=_terms(terms))
        return int(count), int(size)

    def meta_tags(
        self, path: str, name: str, terms: Sequence[str] | Query = ()
    ) -> list[MetaScalar]:
        """Distinct values of a field among the matching files."""
        values: list[MetaScalar] = self._remote.call(
            "meta_tags", path=path, name=name, terms=_terms(terms)
        )
        return values

    def dataset_add(
        self, name: str, words: Sequence[str], *, owner: str, group: str
    ) -> DatasetInfo:
        """Create a dataset."""
        info: DatasetInfo = self._remote.call(
            "dataset_add", name=name, words=list(words), owner=owner, group=group
        )
        return info

    def dataset_show(self, name: str) -> DatasetInfo:
        """One dataset."""
        info: DatasetInfo = self._remote.call("dataset_show", name=name)
        return info

    def dataset_list(self, path: str = "/") -> list[DatasetInfo]:
        """Datasets below a path."""
        infos: list[DatasetInfo] = self._remote.call("dataset_list", path=path)
        return infos

    def dataset_files(self, name: str) -> Iterator[str]:
        """Stream a dataset's members."""
        return self._remote.stream("dataset_files", name=name)

    def dataset_check(self, name: str) -> DatasetCheck:
        """Compare a dataset with its members now."""
        check: DatasetCheck = self._remote.call("dataset_check", name=name)
        return check

    def dataset_update(self, name: str) -> DatasetCheck:
        """Store a dataset's current members."""
        check: DatasetCheck = self._remote.call("dataset_update", name=name)
        return check

    def dataset_freeze(self, name: str) -> DatasetInfo:
        """Freeze a dataset."""
        info: DatasetInfo = self._remote.call("dataset_freeze", name=name)
        return info

    def dataset_release(self, name: str) -> DatasetInfo:
        """Release a frozen dataset."""
        info: DatasetInfo = self._remote.call("dataset_release", name=name)
        return info

    def dataset_annotate(self, name: str, text: str) -> DatasetInfo:
        """Annotate a dataset."""
        info: DatasetInfo = self._remote.call("dataset_annotate", name=name, text=text)
        return info

    def dataset_rm(self, name: str) -> bool:
        """Remove a dataset."""
        removed: bool = self._remote.call("dataset_rm", name=name)
        return removed

    def ancestry_add(self, items: Sequence[tuple[str, Sequence[str]]]) -> BulkResult[None]:
        """Record ancestors of files."""
        result: BulkResult[None] = self._remote.call(
            "ancestry_add", items=[[p, list(a)] for p, a in items]
        )
        return result

    def ancestors(self, lfns: Sequence[str], depth: int = 1) -> BulkResult[dict[str, int]]:
        """Ancestors of files."""
        result: BulkResult[dict[str, int]] = self._remote.call(
            "ancestors", lfns=list(lfns), depth=depth
        )
        return result

    def descendants(self, lfns: Sequence[str], depth: int = 1) -> BulkResult[dict[str, int]]:
        """Descendants of files."""
        result: BulkResult[dict[str, int]] = self._remote.call(
            "descendants", lfns=list(lfns), depth=depth
        )
        return result

    def du(self, path: str, *, own: bool = False, from_files: bool = False) -> Usage:
        """Usage of a directory tree."""
        usage: Usage = self._remote.call("du", path=path, own=own, from_files=from_files)
        return usage

    def recount_usage(self, path: str = "/") -> None:
        """Rebuild usage counters."""
        self._remote.call("recount_usage", path=path)

    def usage_mismatches(self, path: str = "/") -> list[tuple[str, int, int, int, int, int]]:
        """Compare usage counters with a recount."""
        rows = self._remote.call("usage_mismatches", path=path)
        return [tuple(r) for r in rows]

    def dump(self, path: str) -> Iterator[DumpEntry]:
        """Stream every file below a path."""
        return self._remote.stream("dump", path=path)
