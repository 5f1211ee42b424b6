"""An S3 upload streamed in parts: one PutObject when small, a multipart upload when not.

The object appears only when the upload completes (``PutObject`` returns, or
``CompleteMultipartUpload`` assembles the parts), so writing straight to the
final key never exposes a partial file. An aborted upload is abandoned with
``AbortMultipartUpload``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from dfc.errors import DFCError, InvalidArgument
from dfc.se._errors import translate_errors

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["MAX_PARTS", "MIN_PART", "MultipartUpload"]

log = logging.getLogger(__name__)

MIN_PART = 5 * 1024 * 1024  # S3's smallest part (except the last)
MAX_PARTS = 10_000


class MultipartUpload:
    """Writes one object from a stream of blocks, ``parallel`` parts in flight.

    Args:
        fs: the ``s3fs.S3FileSystem`` (its ``_call_s3`` translates and retries).
        bucket: the bucket.
        key: the object key.
        part_size: bytes per part (at least :data:`MIN_PART`).
        parallel: parts uploaded at the same time.
        put_object: sends a one-part object as ``put_object(key, body)`` (dfc's
            lean client); ``None`` sends it through ``fs``.
    """

    def __init__(
        self,
        fs: Any,
        bucket: str,
        key: str,
        part_size: int,
        parallel: int,
        put_object: Callable[[str, bytes], Awaitable[None]] | None = None,
    ) -> None:
        self._fs = fs
        self._put_object = put_object
        self._bucket = bucket
        self._key = key
        self._part_size = max(part_size, MIN_PART)
        self._parallel = parallel
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._etags: dict[int, str] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._next_part = 1

    async def write(self, data: bytes) -> None:
        """Add ``data``; full parts are sent as they fill.

        Raises:
            Exception: S3 refused a part (s3fs's or botocore's exception, for the
                caller to translate).
            InvalidArgument: the object would need more than 10,000 parts.
        """
        self._buffer += data
        while len(self._buffer) >= self._part_size:
            part = bytes(self._buffer[: self._part_size])
            del self._buffer[: self._part_size]
            await self._send_part(part)

    async def _send_part(self, data: bytes) -> None:
        if self._upload_id is None:
            answer = await self._fs._call_s3(
                "create_multipart_upload", Bucket=self._bucket, Key=self._key
            )
            self._upload_id = str(answer["UploadId"])
        if self._next_part > MAX_PARTS:
            raise InvalidArgument(
                f"object {self._key} needs more than {MAX_PARTS} parts of {self._part_size} bytes"
            )
        number, self._next_part = self._next_part, self._next_part + 1
        self._pending.add(asyncio.ensure_future(self._upload_part(number, data)))
        await self._wait(self._parallel - 1)

    async def _wait(self, in_flight: int) -> None:
        """Wait until at most ``in_flight`` parts are being sent; raise the first failure."""
        while len(self._pending) > in_flight:
            done, self._pending = await asyncio.wait(
                self._pending, return_when=asyncio.FIRST_COMPLETED
            )
            # Collect every finished part's error (so none goes unretrieved), raise one.
            errors = [t.exception() for t in done if not t.cancelled()]
            for error in errors:
                if error is not None:
                    raise error

    async def _upload_part(self, number: int, data: bytes) -> None:
        answer = await self._fs._call_s3(
            "upload_part",
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=data,
        )
        self._etags[number] = str(answer["ETag"])

    async def close(self) -> None:
        """Send what is left and make the object appear.

        Raises:
            Exception: S3 refused the upload (for the caller to translate).
        """
        if self._upload_id is None:
            body = bytes(self._buffer)
            if self._put_object is not None:
                await self._put_object(self._key, body)
            else:
                await self._fs._call_s3("put_object", Bucket=self._bucket, Key=self._key, Body=body)
            self._buffer.clear()
            return
        if self._buffer:
            await self._send_part(bytes(self._buffer))
            self._buffer.clear()
        await self._wait(0)
        parts = [{"PartNumber": n, "ETag": self._etags[n]} for n in sorted(self._etags)]
        await self._fs._call_s3(
            "complete_multipart_upload",
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": parts},
        )
        self._upload_id = None

    async def abort(self) -> None:
        """Stop sending and abandon the upload; the server keeps nothing visible."""
        pending, self._pending = self._pending, set()
        for task in pending:
            task.cancel()
        where = f"s3://{self._bucket}/{self._key}"
        for task in pending:
            # Their errors are moot now; the caller is raising the first one.
            with contextlib.suppress(asyncio.CancelledError, DFCError):
                async with translate_errors(where, "upload part"):
                    await task
        if self._upload_id is None:
            return
        upload_id, self._upload_id = self._upload_id, None
        try:
            async with translate_errors(where, "abort upload"):
                await self._fs._call_s3(
                    "abort_multipart_upload",
                    Bucket=self._bucket,
                    Key=self._key,
                    UploadId=upload_id,
                )
        except DFCError as exc:
            # Orphaned parts are invisible; bucket lifecycle rules reclaim them.
            log.warning("could not abort the multipart upload: %s", exc)
