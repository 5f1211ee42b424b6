"""The :class:`CatalogTx`: everything one can do inside a catalogue transaction."""

from __future__ import annotations

from dfc.catalog._ancestry import AncestryMixin
from dfc.catalog._consistency import ConsistencyMixin
from dfc.catalog._datasets import DatasetMixin
from dfc.catalog._dump import DumpMixin
from dfc.catalog._move import MoveMixin
from dfc.catalog._ses import SEMixin

__all__ = ["CatalogTx"]


class CatalogTx(DatasetMixin, AncestryMixin, DumpMixin, MoveMixin, SEMixin, ConsistencyMixin):
    """Operations on the catalogue inside one transaction.

    Get one from :meth:`Catalog.transaction` (writes, committed at the end of the
    ``with`` block, rolled back on an exception) or :meth:`Catalog.reader`. All
    LFN arguments must already be valid (:func:`dfc.lfn.validate`). Bulk methods
    return a :class:`~dfc.models.BulkResult` and never stop at the first bad item;
    they run a constant number of queries per chunk of items.
    """
