"""SIGTERM stops a command the way Ctrl-C does, so that its cleanup runs.

``kill``, systemd and batch systems (Slurm at a job's time limit) send SIGTERM,
whose default action ends the process at once: a put would leave its temporary
file on the storage element, a get its temporary file next to the destination.
Inside :class:`TerminateAsInterrupt` SIGTERM goes through Python's SIGINT
handler instead: the one ``asyncio.run`` installs cancels the running command,
whose ``finally`` blocks remove what it had begun; otherwise
:exc:`KeyboardInterrupt` is raised.
"""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import FrameType, TracebackType

__all__ = ["TerminateAsInterrupt"]


class TerminateAsInterrupt:
    """Context manager around a command line's run: SIGTERM acts as SIGINT inside.

    On the way out it reports a command stopped by either signal the way a
    shell would: ``PROG: interrupted`` and exit status 130 (128 + SIGINT), or
    ``PROG: terminated`` and 143 (128 + SIGTERM). A stopped command is a
    :exc:`KeyboardInterrupt` leaving the block, or exit status 130 (typer's
    silent translation of one). Outside the main thread (where signal handlers
    cannot be set) SIGTERM keeps its handler. On exit the previous SIGTERM
    handler is restored.

    Args:
        prog: the program name to report with.

    Attributes:
        received: a SIGTERM arrived.
    """

    __slots__ = ("_previous", "prog", "received")

    def __init__(self, prog: str) -> None:
        self.prog = prog
        self.received = False
        self._previous: Any = None

    def __enter__(self) -> TerminateAsInterrupt:
        try:
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread
            self._previous = None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Restore SIGTERM's handler; report a stopped command.

        Raises:
            SystemExit: status 143 after SIGTERM, 130 after SIGINT.
        """
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
        stopped = isinstance(exc, KeyboardInterrupt) or (
            isinstance(exc, SystemExit) and exc.code == 130
        )
        if stopped:
            what = "terminated" if self.received else "interrupted"
            print(f"{self.prog}: {what}", file=sys.stderr)
            raise SystemExit(143 if self.received else 130) from None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        """Pass SIGTERM to the SIGINT handler (asyncio's cancels the main task).

        Raises:
            KeyboardInterrupt: SIGINT has no Python handler (ignored or default).
        """
        self.received = True
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)
            return
        raise KeyboardInterrupt
