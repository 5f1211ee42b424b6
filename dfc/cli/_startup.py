"""Start-up helpers of the command line."""

from __future__ import annotations

import gc

__all__ = ["freeze_for_exit", "freeze_loaded", "run_as_process"]

_process = False


def run_as_process() -> None:
    """Note that this process ends with the command being run (the console entry)."""
    global _process
    _process = True


def freeze_loaded() -> None:
    """In the console entry, keep what loading just made out of the cyclic collector's sight.

    Modules load with the collector paused (:func:`dfc._gc.gc_paused`), so the
    tens of thousands of objects of typer's, SQLAlchemy's and dfc's modules are
    all still in the youngest generation: the command's first collections would
    scan every one of them, and again in the older generations, to find nothing
    (~2 % of ``dfc ls /``). Frozen objects are never scanned; the few hundred
    cyclic leftovers of imports are then only freed when the process ends. A
    no-op unless :func:`run_as_process` was called (in-process callers, such as
    tests, keep a normal collector).
    """
    if _process:
        gc.freeze()


def freeze_for_exit() -> None:
    """Spare the interpreter's exit one full collection of everything start-up made.

    When the process ends, CPython runs the cyclic collector once more over every
    tracked object: all of typer's, SQLAlchemy's and dfc's module-level objects,
    none of them garbage (~6 % of ``dfc ls /``). Frozen objects are not scanned.
    Only for a process about to end: cyclic garbage frozen here is never collected
    (objects are still freed by reference counting, files and connections closed).
    """
    gc.freeze()
