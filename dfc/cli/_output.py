"""Rendering for the command line: data to stdout, messages to stderr.

The library never prints; commands hand their results here.
"""

from __future__ import annotations

import contextlib
import json
import stat as statmod
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from rich.console import Console
    from rich.progress import Progress, TaskID

    from dfc import BulkResult, DFCError, Entry

__all__ = [
    "progress",
    "emit_json",
    "entry_json",
    "fmt_time",
    "human_size",
    "ls_line",
    "mode_string",
    "report_failures",
    "stderr",
    "warn",
]

_stderr: Console | None = None


def stderr() -> Console:
    """The console for messages (stderr), created on first use."""
    global _stderr
    if _stderr is None:
        from rich.console import Console

        _stderr = Console(stderr=True, highlight=False, soft_wrap=True)
    return _stderr


def warn(message: str) -> None:
    """Print a one-line warning to stderr."""
    print(f"dfc: warning: {message}", file=sys.stderr)


def error_line(key: str, err: DFCError) -> str:
    """One line naming the item and the error."""
    text = str(err)
    return f"dfc: {text}" if key in text else f"dfc: {key}: {text}"


def report_failures(result: BulkResult[Any]) -> int:
    """Print one stderr line per failed item; return the exit status (0 if none)."""
    for key, err in result.failed.items():
        print(error_line(key, err), file=sys.stderr)
    if not result.failed:
        return 0
    first = next(iter(result.failed.values()))
    return min(first.errno, 255) or 1


def emit_json(value: Any) -> None:
    """Print ``value`` (models allowed) as JSON on stdout."""
    from dfc import to_json

    json.dump(to_json(value), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def entry_json(entry: Entry, *, full: bool = True) -> dict[str, Any]:
    """The documented JSON shape of an entry (see docs/cli.md)."""
    out: dict[str, Any] = {"lfn": entry.lfn, "type": entry.type, "size": entry.size}
    if not full:
        out.update(
            owner=entry.owner,
            group=entry.group,
            mode=f"{entry.mode:04o}",
            mtime=entry.mtime.isoformat(),
        )
        if entry.type == "file":
            out["replicas"] = len(entry.replicas)
        return out
    out.update(
        checksums={"adler32": entry.adler32, "xxh3": entry.xxh3},
        guid=entry.guid,
        owner=entry.owner,
        group=entry.group,
        mode=f"{entry.mode:04o}",
        ctime=entry.ctime.isoformat(),
        mtime=entry.mtime.isoformat(),
        status=entry.status,
        replicas=[{"se": r.se, "pfn": r.pfn, "status": r.status} for r in entry.replicas],
    )
    return out


def mode_string(entry: Entry) -> str:
    """``drwxr-xr-x``-style permissions."""
    kind = statmod.S_IFDIR if entry.is_dir else statmod.S_IFREG
    return statmod.filemode(kind | entry.mode)


def fmt_time(when: datetime) -> str:
    """Local time, minutes precision."""
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def human_size(size: float) -> str:
    """1536 -> '1.5K'."""
    for unit in ("", "K", "M", "G", "T", "P"):
        if abs(size) < 1024 or unit == "P":
            return f"{size:.0f}{unit}" if unit == "" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}E"


def ls_line(entry: Entry, name: str, *, human: bool, widths: Iterable[int] = ()) -> str:
    """One ``ls -l`` line: mode, replicas, owner, group, size, mtime, name."""
    nrep = len(entry.replicas) if not entry.is_dir else 1
    size = human_size(entry.size) if human else str(entry.size)
    return (
        f"{mode_string(entry)} {nrep:>2} {entry.owner:<8} {entry.group:<8} "
        f"{size:>12} {fmt_time(entry.mtime)} {name}"
    )


def progress(description: str) -> Any:
    """A context-managed fsspec callback drawing a Rich progress bar on stderr.

    The bar is drawn only when stderr is a terminal; otherwise this gives
    ``None`` (no callback), and neither fsspec nor Rich is imported.
    """
    if not sys.stderr.isatty():
        return contextlib.nullcontext(None)

    from dfc.callbacks import Callback

    class ProgressCallback(Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self._progress: Progress | None = None
            self._task: TaskID | None = None

        def __enter__(self) -> ProgressCallback:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=stderr(),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(description, total=None)
            return self

        def __exit__(self, *exc: object) -> None:
            if self._progress is not None:
                self._progress.stop()

        def call(self, *args: Any, **kwargs: Any) -> None:
            if self._progress is not None and self._task is not None:
                self._progress.update(self._task, completed=self.value, total=self.size)

    return ProgressCallback()
