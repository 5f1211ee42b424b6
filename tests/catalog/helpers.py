"""Builders shared by the catalogue tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfc.models import FileRecord, Replica

if TYPE_CHECKING:
    from dfc.catalog import CatalogTx

OWNER = "alice"
GROUP = "juno"


def rec(
    lfn: str,
    *,
    size: int = 10,
    adler32: str = "0001abcd",
    guid: str = "",
    ses: tuple[str, ...] = ("DISK",),
    xxh3: str | None = None,
) -> FileRecord:
    """A file record with one replica per SE (path = the LFN)."""
    if not guid:
        guid = f"guid-{lfn}"
    return FileRecord(
        lfn=lfn,
        size=size,
        adler32=adler32,
        xxh3=xxh3,
        guid=guid,
        replicas=tuple(Replica(se, lfn) for se in ses),
    )


def add(tx: CatalogTx, *records: FileRecord, overwrite: bool = False) -> None:
    """Register records and fail the test if any fails."""
    res = tx.add_files(list(records), owner=OWNER, group=GROUP, overwrite=overwrite)
    assert res.ok, res.failed


def mkdirs(tx: CatalogTx, *paths: str) -> None:
    """Create directories with parents and fail the test if any fails."""
    res = tx.mkdir(list(paths), parents=True, owner=OWNER, group=GROUP)
    assert res.ok, res.failed
