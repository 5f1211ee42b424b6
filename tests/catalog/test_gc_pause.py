"""Bulk catalogue calls pause the cyclic collector while they run, and only then."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

import pytest

from dfc._gc import gc_paused
from tests.catalog.helpers import add, rec

if TYPE_CHECKING:
    from collections.abc import Iterator

    from dfc.catalog import CatalogTx


@pytest.fixture
def gc_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        if not was:
            gc.disable()


@pytest.mark.usefixtures("gc_on")
def test_paused_inside_restored_after_even_on_error() -> None:
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError
    assert gc.isenabled()


@pytest.mark.usefixtures("gc_on")
def test_nested_and_already_disabled_pauses_change_nothing() -> None:
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()  # left as the caller had it
    gc.enable()


@pytest.mark.usefixtures("gc_on")
def test_bulk_calls_run_without_the_collector(
    tx: CatalogTx, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real = tx._fetchall

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    tx.mkdir(["/juno"], parents=True, owner="o", group="g")
    monkeypatch.setattr(tx, "_fetchall", spy)
    add(tx, rec("/juno/a"), rec("/juno/b"))
    assert tx.replicas(["/juno/a", "/juno/b"]).ok
    assert tx.stat(["/juno/a"]).ok
    assert seen and not any(seen)
    assert gc.isenabled()
