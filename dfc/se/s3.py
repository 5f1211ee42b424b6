"""``s3://BUCKET/PREFIX`` storage elements: S3 object stores (Ceph RGW, EOS, AWS, SeaweedFS).

Built on ``s3fs`` in asynchronous mode (one client per SE, no listing cache).

- Uploads go straight to the final key: an S3 object appears atomically when
  ``PutObject`` returns or ``CompleteMultipartUpload`` assembles the parts, so
  no temporary name is needed. Files larger than one part (``chunk_size``,
  8 MiB by default) use a multipart upload with ``parallel`` parts in flight; a
  failed or cancelled upload is aborted and leaves nothing visible. Without
  ``overwrite`` the key is checked first (a narrow race: S3 has no portable
  "create only"), and a prefix with objects below is refused as a directory;
  for a one-part object these checks run while the source is being read.
- Directories are key prefixes: ``mkdir`` makes nothing (``mkdir("/")`` creates
  the bucket if it is missing) and ``rmdir`` is a no-op.
- ``copy`` is the server-side ``CopyObject`` (:class:`~dfc.se.base.SupportsCopy`).
  S3 offers no adler32, so there is no server-side checksum.
- The per-object requests (HEAD, ranged GET, one-part PUT, the one-key listing
  that tells a prefix from a missing key) go through dfc's lean signed client
  (:mod:`dfc.se._s3http`) when the SE has an ``endpoint_url`` and explicit
  credentials and no HTTP proxy is configured; reads then need no HEAD first
  (the first GET's ``Content-Range`` tells the size). Otherwise, and for
  everything else, s3fs/aiobotocore.

Credentials come from the SE's local options ``key``, ``secret`` (and
``token``), which override ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
``AWS_SESSION_TOKEN``; ``endpoint_url`` overrides ``AWS_ENDPOINT_URL_S3`` and
``AWS_ENDPOINT_URL``; ``region`` overrides ``AWS_REGION`` /
``AWS_DEFAULT_REGION`` (default ``us-east-1``). They never appear in PFNs or
messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import s3fs
from fsspec.callbacks import DEFAULT_CALLBACK

from dfc.errors import (
    AlreadyExists,
    ConfigError,
    InvalidArgument,
    IsADirectory,
    NotFound,
    PFNNotFound,
)
from dfc.models import FileInfo
from dfc.se._errors import S3Failure, redact, translate_errors
from dfc.se._paths import normalize
from dfc.se._s3http import S3Client
from dfc.se._s3upload import MAX_PARTS, MIN_PART, MultipartUpload
from dfc.se.fsspec_se import FsspecSE

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Mapping

    from fsspec.callbacks import Callback

    from dfc.models import SEInfo

__all__ = ["S3SE", "parse_s3_url"]

MiB = 1024 * 1024
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy")

_OPTIONS: dict[str, type | tuple[type, ...]] = {
    "key": str,
    "secret": str,
    "token": str,
    "endpoint_url": str,
    "region": str,
    "addressing_style": str,
    "chunk_size": int,
    "parallel": int,
    "retries": int,
    "timeout": (int, float),
}


def parse_s3_url(url: str) -> tuple[str, str]:
    """Split ``s3://BUCKET/PREFIX`` into ``(BUCKET, "PREFIX")`` (prefix without slashes).

    Raises:
        InvalidArgument: not an ``s3://`` URL with a bucket, or credentials in it.
    """
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise InvalidArgument(f"not an s3://BUCKET/PREFIX URL: {redact(url)}")
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise InvalidArgument(
            f"SE URL {redact(url)}: credentials and parameters belong in the local "
            "configuration ([se.NAME] key, secret, endpoint_url), not the URL"
        )
    prefix = normalize(parts.path).strip("/")
    return parts.netloc, prefix


def _check_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    opts = dict(options)
    unknown = sorted(set(opts) - set(_OPTIONS))
    if unknown:
        raise ConfigError(f"SE {name}: unknown option(s) {', '.join(unknown)}")
    for key, value in opts.items():
        ok = isinstance(value, _OPTIONS[key]) and not isinstance(value, bool)
        if ok and key in ("chunk_size", "parallel", "retries", "timeout"):
            ok = value > 0
        if not ok:
            raise ConfigError(f"SE {name}: option {key!r} has a wrong type or value")
    if opts.get("addressing_style", "path") not in ("path", "virtual", "auto"):
        raise ConfigError(f"SE {name}: addressing_style must be path, virtual or auto")
    return opts


class S3SE(FsspecSE):
    """A storage element in an S3 bucket, under an optional key prefix.

    Args:
        name: the SE name.
        url: ``s3://BUCKET[/PREFIX]``.
        options: ``key``, ``secret``, ``token``, ``endpoint_url``, ``region``,
            ``addressing_style`` (``path`` with an endpoint, else ``auto``),
            ``chunk_size`` (part size, at least 5 MiB is used), ``parallel``
            (parts in flight), ``retries`` (attempts per request), ``timeout``
            (seconds per request).
        env: the environment to read ``AWS_*`` defaults from (``os.environ``).

    Raises:
        InvalidArgument: ``url`` is not a usable ``s3://`` URL.
        ConfigError: an option is unknown or has the wrong type.
    """

    def __init__(
        self,
        name: str,
        url: str,
        options: Mapping[str, Any] | None = None,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.bucket, self.prefix = parse_s3_url(url)
        opts = _check_options(name, options or {})
        env = os.environ if env is None else env
        key = opts.get("key") or env.get("AWS_ACCESS_KEY_ID")
        secret = opts.get("secret") or env.get("AWS_SECRET_ACCESS_KEY")
        token = opts.get("token") or env.get("AWS_SESSION_TOKEN")
        endpoint = (
            opts.get("endpoint_url")
            or env.get("AWS_ENDPOINT_URL_S3")
            or env.get("AWS_ENDPOINT_URL")
        )
        self.region = (
            opts.get("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        ) or "us-east-1"
        self.endpoint_url = endpoint
        self.parallel = int(opts.get("parallel", 4))
        timeout = float(opts.get("timeout", 60))
        style = opts.get("addressing_style", "path" if endpoint else "auto")
        self._secrets = tuple(s for s in (key, secret, token) if s)
        fs = s3fs.S3FileSystem(
            key=key,
            secret=secret,
            token=token,
            endpoint_url=endpoint,
            client_kwargs={"region_name": self.region},
            config_kwargs={
                "s3": {"addressing_style": style},
                "retries": {"max_attempts": int(opts.get("retries", 3)), "mode": "standard"},
                "connect_timeout": min(10.0, timeout),
                "read_timeout": timeout,
            },
            asynchronous=True,
            skip_instance_cache=True,
            use_listings_cache=False,
        )
        # botocore retries already; s3fs's own loop (5 by default) would multiply them.
        fs.retries = 2
        root = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        url = f"s3://{root}"
        super().__init__(name, url, fs, root, chunk_size=int(opts.get("chunk_size", 8 * MiB)))
        self._client: S3Client | None = None
        proxied = any(env.get(v) or env.get(v.upper()) for v in _PROXY_VARS)
        if endpoint and key and secret and not proxied and style in ("path", "virtual"):
            self._client = S3Client(
                endpoint,
                self.bucket,
                region=self.region,
                key=key,
                secret=secret,
                token=token,
                virtual=style == "virtual",
                timeout=timeout,
                attempts=int(opts.get("retries", 3)),
                connections=max(64, 4 * self.parallel),
                ca_bundle=env.get("AWS_CA_BUNDLE"),
            )

    @classmethod
    def from_info(cls, info: SEInfo, options: Mapping[str, Any] | None = None) -> S3SE:
        """Build from a catalogue SE record and local options (see the class).

        Raises:
            ConfigError: an option is unknown or has the wrong type.
            InvalidArgument: the URL is not a usable ``s3://`` URL.
        """
        return cls(info.name, info.url, options)

    def __repr__(self) -> str:
        return f"S3SE({self.name!r}, {self.url!r})"

    # ------------------------------------------------------------ helpers

    def _errors(self, norm: str, op: str) -> translate_errors:
        return translate_errors(self.url + norm, op, self._secrets)

    def _key(self, norm: str) -> str:
        return f"{self.prefix}{norm}".lstrip("/") if norm != "/" else self.prefix

    def _path_of_key(self, key: str) -> str:
        return normalize(key[len(self.prefix) :] if self.prefix else key)

    # ------------------------------------------------------------ reading

    async def stat(self, path: str) -> FileInfo:
        """Return size and type of ``path`` (a prefix with objects is a directory).

        The SE root is a directory as long as the bucket exists, even when empty.

        Raises:
            PFNNotFound: nothing exists at ``path`` (or the bucket is missing).
        """
        norm = normalize(path)
        if norm != "/":
            if self._client is None:
                return await super().stat(norm)
            async with self._errors(norm, "stat"):
                return await self._lean_stat(self._client, norm)
        async with self._errors(norm, "stat"):
            await self.fs._call_s3("head_bucket", Bucket=self.bucket)
        return FileInfo(path="/", size=0, type="directory")

    async def _lean_stat(self, client: S3Client, norm: str) -> FileInfo:
        key = self._key(norm)
        try:
            obj = await client.head(key)
        except S3Failure as exc:
            if exc.status == 404 and await client.has_keys_under(key + "/"):
                return FileInfo(path=norm, size=0, type="directory")
            raise
        return FileInfo(path=norm, size=obj.size, mtime=obj.mtime)

    async def _missing_or_directory(self, client: S3Client, norm: str, exc: S3Failure) -> None:
        """After a 404 on ``norm``: IsADirectory if it is a prefix, else ``exc`` again."""
        if exc.status == 404 and await client.has_keys_under(self._key(norm) + "/"):
            raise IsADirectory(f"read {self.pfn(norm)}: is a directory") from None
        raise exc

    async def ls(self, path: str) -> list[FileInfo]:
        """List the keys and prefixes one level below ``path``.

        Raises:
            PFNNotFound: nothing exists below ``path`` (or the bucket is missing).
            NotADirectory: ``path`` is an object.
        """
        norm = normalize(path)
        try:
            return await super().ls(norm)
        except PFNNotFound:
            if norm != "/":
                raise
        async with self._errors(norm, "ls"):
            await self.fs._call_s3("head_bucket", Bucket=self.bucket)
        return []  # an empty prefix in an existing bucket: an empty SE

    async def walk(self, path: str) -> AsyncIterator[FileInfo]:
        """Yield every object below ``path`` from flat, paged listings (no per-directory calls).

        A missing path yields nothing; an object yields itself.

        Raises:
            PermissionDenied: the bucket cannot be listed.
        """
        norm = normalize(path)
        prefix = self._key(norm)
        prefix = f"{prefix}/" if prefix else ""
        found = False
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            try:
                async with self._errors(norm, "walk"):
                    page = await self.fs._call_s3("list_objects_v2", **kwargs)
            except NotFound:
                return
            for item in page.get("Contents", ()):
                key = str(item["Key"])
                if key.endswith("/"):  # a "directory marker" some tools create
                    continue
                found = True
                modified = item.get("LastModified")
                yield FileInfo(
                    path=self._path_of_key(key),
                    size=int(item["Size"]),
                    mtime=modified.timestamp() if modified is not None else None,
                )
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
        if not found and norm != "/":
            try:
                info = await self.stat(norm)
            except NotFound:
                return
            if info.type == "file":
                yield info

    async def read_range(self, path: str, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes of ``path`` from ``offset``.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a prefix.
            InvalidArgument: ``offset`` or ``length`` is negative.
        """
        if offset < 0 or length < 0:
            raise InvalidArgument(f"invalid range offset={offset} length={length}")
        norm = normalize(path)
        if self._client is not None and norm != "/" and length > 0:
            async with self._errors(norm, "read"):
                data, _ = await self._lean_get(self._client, norm, offset, offset + length)
                return data
        info = await self.stat(norm)
        if info.type == "directory":
            raise IsADirectory(f"read {self.pfn(norm)}: is a directory")
        end = min(info.size, offset + length)
        if offset >= end:  # S3 refuses unsatisfiable ranges
            return b""
        async with self._errors(norm, "read"):
            return await self._cat(norm, offset, end)

    async def _lean_get(
        self, client: S3Client, norm: str, start: int, end: int
    ) -> tuple[bytes, int | None]:
        try:
            return await client.get(self._key(norm), start, end)
        except S3Failure as exc:
            await self._missing_or_directory(client, norm, exc)
            raise  # pragma: no cover (the line above always raises)

    async def open_read(
        self, path: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream ``path`` in ``chunk_size`` ranged GETs, one request ahead.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a prefix.
            InvalidArgument: ``offset`` or ``length`` is negative.
        """
        norm = normalize(path)
        client = self._client
        if client is None or norm == "/" or length == 0 or offset < 0 or (length or 0) < 0:
            async for chunk in super().open_read(norm, offset, length):
                yield chunk
            return
        stop = None if length is None else offset + length
        first_end = (
            offset + self.chunk_size if stop is None else min(stop, offset + self.chunk_size)
        )
        async with self._errors(norm, "read"):
            data, total = await self._lean_get(client, norm, offset, first_end)
            if total is None:  # no Content-Range: ask for the size
                total = (await client.head(self._key(norm))).size
        end = total if stop is None else min(total, stop)
        pos = offset + len(data)
        ahead: asyncio.Task[tuple[bytes, int | None]] | None = None
        try:
            if data:
                if pos < end:
                    ahead = asyncio.ensure_future(
                        self._lean_get(client, norm, pos, min(end, pos + self.chunk_size))
                    )
                yield data
            async with self._errors(norm, "read"):
                while ahead is not None:
                    data, _ = await ahead
                    ahead = None
                    if not data:
                        break
                    pos += len(data)
                    if pos < end:
                        ahead = asyncio.ensure_future(
                            self._lean_get(client, norm, pos, min(end, pos + self.chunk_size))
                        )
                    yield data
        finally:
            if ahead is not None:
                ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    # The read-ahead's own failure is moot: the stream is closed.
                    await ahead

    # ------------------------------------------------------------ writing

    async def put(
        self,
        src: AsyncIterable[bytes],
        path: str,
        *,
        size: int | None = None,
        overwrite: bool = False,
        callback: Callback | None = None,
    ) -> FileInfo:
        """Upload ``src`` to the key of ``path`` (multipart above one part).

        Raises:
            AlreadyExists: ``path`` exists and ``overwrite`` is false.
            IsADirectory: ``path`` is a prefix with objects below it.
            SizeMismatch: ``size`` was given and the stream had another length.
            SEUnavailable, SETimeout: the server failed (the upload is aborted).
        """
        norm = normalize(path)
        cb = callback or DEFAULT_CALLBACK
        if size is not None:
            cb.set_size(size)
        part = self.chunk_size
        if size is not None:
            part = max(part, -(-size // MAX_PARTS))
        upload = MultipartUpload(
            self.fs,
            self.bucket,
            self._key(norm),
            part,
            self.parallel,
            put_object=self._client.put if self._client is not None else None,
        )
        check: asyncio.Future[None] | None = None
        if size is not None and size <= max(part, MIN_PART):
            # One PutObject at close(), nothing sent before: look at the target
            # while the source is being read.
            check = asyncio.ensure_future(self._checked_target(norm, overwrite))
        else:
            await self._checked_target(norm, overwrite)
        try:
            total = await self._pump(src, upload, size, norm, cb)
            if check is not None:
                await check
            async with self._errors(norm, "put"):
                await upload.close()
        except BaseException:
            if check is not None:
                check.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    # The first error is the one raised; the check's own is moot.
                    await check
            await asyncio.shield(upload.abort())
            raise
        return FileInfo(path=norm, size=total)

    async def _checked_target(self, norm: str, overwrite: bool) -> None:
        async with self._errors(norm, "put"):
            await self._check_target(norm, overwrite)

    async def _check_target(self, norm: str, overwrite: bool) -> None:
        client = self._client
        if client is None or norm == "/":
            await super()._check_target(norm, overwrite)
            return
        key = self._key(norm)
        if not overwrite and await _has_object(client, key):
            raise AlreadyExists(f"put {self.pfn(norm)}: file exists")
        if await client.has_keys_under(key + "/"):
            # An object and a prefix of the same name: the object may be replaced.
            if overwrite and await _has_object(client, key):
                return
            raise IsADirectory(f"put {self.pfn(norm)}: is a directory")

    async def copy(self, src: str, dst: str) -> None:
        """Copy object ``src`` to ``dst`` on the server (``CopyObject``), replacing ``dst``.

        Raises:
            PFNNotFound: ``src`` does not exist.
            IsADirectory: ``src`` is a prefix.
        """
        snorm, dnorm = normalize(src), normalize(dst)
        async with self._errors(snorm, "copy"):
            if (await self._info(snorm)).get("type") == "directory":
                raise IsADirectory(f"copy {self.pfn(snorm)}: is a directory")
            await self.fs._cp_file(self._fspath(snorm), self._fspath(dnorm))

    async def rename(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        """Move object ``src`` to ``dst`` (server-side copy, then delete).

        Raises:
            PFNNotFound: ``src`` does not exist.
            AlreadyExists: ``dst`` exists and ``overwrite`` is false.
            IsADirectory: ``src`` is a prefix (renaming one would copy every object).
            InvalidArgument: ``src`` or ``dst`` is the SE root.
        """
        snorm, dnorm = normalize(src), normalize(dst)
        if "/" in (snorm, dnorm):
            raise InvalidArgument(f"rename {self.pfn(snorm)}: cannot move the SE root")
        async with self._errors(snorm, "rename"):
            if (await self._info(snorm)).get("type") == "directory":
                raise IsADirectory(f"rename {self.pfn(snorm)}: cannot rename a prefix")
            await self._check_target(dnorm, overwrite)
            await self.fs._cp_file(self._fspath(snorm), self._fspath(dnorm))
            await self.fs._rm_file(self._fspath(snorm))

    async def mkdir(self, path: str) -> None:
        """Nothing to make: prefixes exist through their objects; ``/`` makes the bucket.

        Raises:
            PermissionDenied: the bucket is missing and may not be created.
        """
        norm = normalize(path)
        if norm != "/":
            return
        async with self._errors(norm, "mkdir"):
            try:
                await self.fs._call_s3("head_bucket", Bucket=self.bucket)
            except FileNotFoundError:
                kwargs: dict[str, Any] = {"Bucket": self.bucket}
                if self.region != "us-east-1":
                    kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
                with contextlib.suppress(FileExistsError):  # created meanwhile, or ours
                    await self.fs._call_s3("create_bucket", **kwargs)

    async def rmdir(self, path: str) -> None:
        """A no-op: a prefix vanishes with its last object.

        Raises:
            InvalidArgument: ``path`` is the SE root.
        """
        if normalize(path) == "/":
            raise InvalidArgument(f"rmdir {self.url}/: cannot remove the SE root")

    async def close(self) -> None:
        """Close the S3 clients' connections."""
        if self._client is not None:
            await self._client.close()
        client = getattr(self.fs, "_s3", None)
        if client is not None:
            self.fs._s3 = None
            await client.close()
        await super().close()


async def _has_object(client: S3Client, key: str) -> bool:
    """Whether object ``key`` exists (a HEAD; 404 is no).

    Raises:
        S3Failure: the HEAD failed otherwise.
    """
    try:
        await client.head(key)
    except S3Failure as exc:
        if exc.status != 404:
            raise
        return False
    return True
