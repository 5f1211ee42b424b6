"""Concurrent writers: the idempotence rules hold across transactions."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from dfc.catalog import Catalog
from dfc.models import SEInfo
from tests.catalog.helpers import GROUP, OWNER, rec

if TYPE_CHECKING:
    from dfc.models import BulkResult, FileRecord


def test_two_writers_register_the_same_files(catalog: Catalog) -> None:
    with catalog.transaction() as tx:
        tx.add_se(SEInfo("DISK", "file:///d"))
        tx.add_se(SEInfo("TAPE", "file:///t"))
    records = [rec(f"/c/d{i % 4}/f{i}") for i in range(600)]
    more = [rec(f"/c/d{i % 4}/f{i}", ses=("DISK", "TAPE")) for i in range(600)]
    results: list[BulkResult[None]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(batch: list[FileRecord]) -> None:
        own = Catalog(catalog.engine.url.render_as_string(hide_password=False))
        try:
            start.wait()
            with own.transaction() as tx:
                results.append(tx.add_files(batch, owner=OWNER, group=GROUP))
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=writer, args=(b,)) for b in (records, more)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r.ok for r in results)
    with catalog.reader() as tx:
        assert sum(1 for _ in tx.walk("/c", files_only=True)) == 600
        assert tx.se_replica_count("TAPE") == 600
        assert tx.se_replica_count("DISK") == 600
