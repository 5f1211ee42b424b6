"""Feeding a byte stream to a storage writer in large batches, with size checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfc.errors import SizeMismatch

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence

    from dfc.callbacks import Callback

__all__ = ["pump", "read_head"]


def _counted(chunk: bytes, total: int, size: int | None, pfn: str, callback: Callback) -> int:
    """``total`` with ``chunk`` counted, checked against ``size`` and reported.

    Raises:
        SizeMismatch: the stream is now longer than ``size``.
    """
    total += len(chunk)
    if size is not None and total > size:
        raise SizeMismatch(f"put {pfn}: stream longer than the expected {size} bytes")
    callback.relative_update(len(chunk))
    return total


def _check_ended(total: int, size: int | None, pfn: str) -> None:
    """Raise SizeMismatch if a stream of ``total`` bytes was to have ``size``."""
    if size is not None and total != size:
        raise SizeMismatch(f"put {pfn}: stream had {total} bytes, expected {size}")


async def read_head(
    src: AsyncIterator[bytes], limit: int, *, size: int | None, pfn: str, callback: Callback
) -> tuple[list[bytes], int, bool]:
    """Read ``src`` until ``limit`` bytes or its end: ``(chunks, total, ended)``.

    A writer learns this way whether a stream of unknown size is small (it
    ended) before it starts any request. The chunks are counted, checked
    against ``size`` and reported to ``callback``, as :func:`pump` does; hand
    them to :func:`pump` as ``head`` to write the rest.

    Raises:
        SizeMismatch: ``size`` was given and the stream had another length
            (when it ended) or is longer.
    """
    chunks: list[bytes] = []
    total = 0
    while total < limit:
        try:
            chunk = await anext(src)
        except StopAsyncIteration:
            break
        if chunk:
            total = _counted(chunk, total, size, pfn, callback)
            chunks.append(bytes(chunk))
    else:
        return chunks, total, False
    _check_ended(total, size, pfn)
    return chunks, total, True


async def pump(
    src: AsyncIterable[bytes],
    write: Callable[[bytes], Awaitable[None]],
    *,
    size: int | None,
    chunk_size: int,
    pfn: str,
    callback: Callback,
    head: Sequence[bytes] = (),
) -> int:
    """Write ``src`` through ``write`` in batches of about ``chunk_size``; return the total.

    ``head``: chunks already read from ``src`` by :func:`read_head` (counted
    and reported there), written first.

    Only ``write`` should translate storage errors: an error of ``src`` (the
    caller's stream, maybe another SE) propagates unchanged.

    Raises:
        SizeMismatch: ``size`` was given and the stream had another length.
    """
    batch = list(head)
    batched = total = sum(map(len, batch))
    if batched >= chunk_size:
        await write(b"".join(batch))
        batch, batched = [], 0
    async for chunk in src:
        if not chunk:
            continue
        total = _counted(chunk, total, size, pfn, callback)
        batch.append(bytes(chunk))
        batched += len(chunk)
        if batched >= chunk_size:
            await write(b"".join(batch))
            batch, batched = [], 0
    if batch:
        await write(b"".join(batch))
    _check_ended(total, size, pfn)
    return total
