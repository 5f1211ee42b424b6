"""Transfer agents: an engine with an identity, a heartbeat and a clean way out.

:func:`run_agent` registers the agent in the queue, runs an
:class:`~dfc.fts.engine.Engine` until it is drained (``once``, or a
foreground job) or stopped (SIGTERM/SIGINT), then marks the agent stopped.
Files the agent still holds when it stops go back to the queue; files held by
an agent that died (``kill -9``, a lost host) are taken over by the others
once its heartbeat is older than the grace period.

On PostgreSQL any number of agents share the queue (rows are claimed with
``FOR UPDATE SKIP LOCKED``). On SQLite one agent runs at a time: it holds an
exclusive lock on ``<catalogue>.fts-agent.lock`` (released by the kernel even
on ``kill -9``), and a second one fails with :class:`~dfc.fts.job.AgentBusy`.
The lock holder knows it is alone and takes over every other agent's files
at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import signal
import socket
from typing import TYPE_CHECKING, Protocol

from dfc._sync import CatalogExecutor
from dfc.fts.engine import Engine, EngineReport, Store
from dfc.fts.job import AgentBusy

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from pathlib import Path

    from dfc.callbacks import Callback
    from dfc.fts.config import EngineConfig
    from dfc.fts.sources import SEPool

__all__ = ["AgentStore", "agent_lock", "run_agent"]


class AgentStore(Store, Protocol):
    """A :class:`~dfc.fts.engine.Store` that also records agents."""

    def register_agent(self, host: str, pid: int) -> int:
        """Record a running agent; return its id."""
        ...

    def stop_agent(self, agent_id: int) -> None:
        """Mark an agent stopped."""
        ...

    def lock_path(self) -> Path | None:
        """The one-agent lock file of an SQLite queue (None: several agents allowed)."""
        ...


@contextlib.contextmanager
def agent_lock(path: Path) -> Iterator[None]:
    """Hold the exclusive agent lock ``path`` for the duration of the block.

    Raises:
        AgentBusy: another process holds it.
        StorageError: the lock file cannot be opened.
    """
    from dfc.errors import StorageError

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StorageError(f"cannot open the agent lock {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise StorageError(f"cannot lock {path}: {exc.strerror}") from None
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise AgentBusy(
                f"another transfer agent ({holder}) is running on this SQLite catalogue; "
                "SQLite allows one agent at a time (use PostgreSQL to run several)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
        yield
    finally:
        os.close(fd)


async def run_agent(
    store: AgentStore,
    pool: SEPool,
    config: EngineConfig,
    *,
    once: bool = False,
    jobs: Iterable[int] | None = None,
    callback: Callback | None = None,
    signals: bool = False,
    on_start: Callable[[int], None] | None = None,
) -> EngineReport:
    """Run a transfer agent until drained (``once`` or ``jobs``) or stopped.

    Args:
        store: the queue.
        pool: storage-element clients (closed at the end).
        config: the engine's settings.
        once: exit when nothing is left to do instead of waiting for work.
        jobs: work only on these jobs, and exit when they are final.
        callback: byte progress.
        signals: stop cleanly on SIGTERM and SIGINT.
        on_start: called with the agent id once registered.

    Raises:
        AgentBusy: on SQLite, another agent is running.
        AgentLost: this agent was declared dead by another one and stopped.
        CatalogError: the queue failed.
    """
    lock = store.lock_path()
    with agent_lock(lock) if lock is not None else contextlib.nullcontext():
        db = CatalogExecutor()
        try:
            agent_id = await db(store.register_agent, socket.gethostname(), os.getpid())
        finally:
            db.shutdown()
        if on_start is not None:
            on_start(agent_id)
        engine = Engine(
            store,
            pool,
            config,
            agent_id=agent_id,
            jobs=jobs,
            exclusive=lock is not None,
            callback=callback,
        )
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        if signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, engine.stop)
                    installed.append(sig)
        try:
            return await engine.run(drain=once or jobs is not None)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            db = CatalogExecutor()
            try:
                await db(store.stop_agent, agent_id)
            finally:
                db.shutdown()
