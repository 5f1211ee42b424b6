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
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from types import FrameType, TracebackType

__all__ = ["TerminateAsInterrupt"]


class TerminateAsInterrupt:
    """Context manager: SIGTERM acts as SIGINT while it is active.

    Outside the main thread (where signal handlers cannot be set) it does
    nothing. On exit the previous SIGTERM handler is restored.

    Attributes:
        received: a SIGTERM arrived (the caller may then exit with 143, not 130).
    """

    __slots__ = ("_previous", "received")

    def __init__(self) -> None:
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
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

    def exit(self, prog: str) -> NoReturn:
        """Report that the command was stopped, and exit as a shell would report it.

        Prints ``PROG: terminated`` (after SIGTERM) or ``PROG: interrupted``.

        Raises:
            SystemExit: status 143 (128 + SIGTERM) or 130 (128 + SIGINT).
        """
        print(f"{prog}: {'terminated' if self.received else 'interrupted'}", file=sys.stderr)
        sys.exit(143 if self.received else 130)

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
