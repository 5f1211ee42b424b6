"""Feeding a byte stream to a storage writer in large batches, with size checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfc.errors import SizeMismatch

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Awaitable, Callable

    from dfc.callbacks import Callback

__all__ = ["pump"]


async def pump(
    src: AsyncIterable[bytes],
    write: Callable[[bytes], Awaitable[None]],
    *,
    size: int | None,
    chunk_size: int,
    pfn: str,
    callback: Callback,
) -> int:
    """Write ``src`` through ``write`` in batches of about ``chunk_size``; return the total.

    Only ``write`` should translate storage errors: an error of ``src`` (the
    caller's stream, maybe another SE) propagates unchanged.

    Raises:
        SizeMismatch: ``size`` was given and the stream had another length.
    """
    batch: list[bytes] = []
    batched = total = 0
    async for chunk in src:
        if not chunk:
            continue
        total += len(chunk)
        if size is not None and total > size:
            raise SizeMismatch(f"put {pfn}: stream longer than the expected {size} bytes")
        batch.append(bytes(chunk))
        batched += len(chunk)
        callback.relative_update(len(chunk))
        if batched >= chunk_size:
            await write(b"".join(batch))
            batch, batched = [], 0
    if batch:
        await write(b"".join(batch))
    if size is not None and total != size:
        raise SizeMismatch(f"put {pfn}: stream had {total} bytes, expected {size}")
    return total
