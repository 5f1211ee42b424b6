"""Group the catalogue registrations of concurrent copies into shared transactions.

Many small files copied at once each finish with a registration. One
transaction per file makes the catalogue thread the bottleneck (a transaction
costs more than copying a small file); instead, every registration that
arrives while a batch is in the database waits for the next batch, so the
batches grow with the load and a lone file still goes at once.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dfc._sync import CatalogExecutor

__all__ = ["Batcher"]

T = TypeVar("T")
R = TypeVar("R")

#: Items per transaction at most (bounds a transaction's time and memory).
MAX_BATCH = 500


class Batcher(Generic[T, R]):
    """Runs ``run_batch`` on the catalogue thread for items submitted concurrently.

    ``run_batch(items)`` returns one outcome per item, in order: its result, or
    the exception that item failed with. An exception raised by ``run_batch``
    itself (the whole transaction failed) fails every item of the batch.
    Create it on the event loop that submits to it.
    """

    __slots__ = ("_drainer", "_executor", "_pending", "_run_batch")

    def __init__(
        self,
        executor: CatalogExecutor,
        run_batch: Callable[[list[T]], Sequence[R | Exception]],
    ) -> None:
        self._executor = executor
        self._run_batch = run_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Add ``item`` to the next batch and return its result.

        The item's batch runs to its end even if the caller is cancelled.

        Raises:
            Exception: the item's failure, or the whole batch's.
        """
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # Nobody waits any more: take the outcome so that it is not reported unseen.
            future.add_done_callback(_consume)
            raise

    async def _drain(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                try:
                    outcomes = await self._executor(self._run_batch, [item for item, _ in batch])
                except Exception as exc:  # noqa: BLE001 - every waiter gets it
                    outcomes = [exc] * len(batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        except BaseException:
            # Cancelled (the loop is closing): nobody will get an answer.
            for _, future in [*batch, *self._pending]:
                future.cancel()
            self._pending.clear()
            raise
        finally:
            self._drainer = None


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
