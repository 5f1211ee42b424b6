"""``davs://``, ``https://`` and ``http://`` storage elements: WebDAV servers.

Requests go through an ``aiohttp`` client session (its C parser reads several
times faster than pure-Python clients); PROPFIND answers are parsed by
``webdav4``. ``davs://`` means WebDAV over HTTPS (the grid's name for it); PFNs
keep the scheme the SE was registered with.

- Uploads stream the caller's bytes as the PUT body (nothing is held in memory)
  to a temporary name next to the target, then ``MOVE`` it into place
  (``Overwrite: F`` unless overwriting), so a file appears only when complete.
- Reads are one streamed ``GET`` with a ``Range`` header.
- Parents are created with ``MKCOL``, one level at a time when missing.
- ``copy`` is the server-side ``COPY`` (:class:`~dfc.se.base.SupportsCopy`).

Credentials never go into URLs: HTTPS presents the grid proxy
(``x509_user_proxy`` option, else ``X509_USER_PROXY``, else
``/tmp/x509up_u<uid>``) and trusts ``x509_cert_dir`` (else ``X509_CERT_DIR``,
else ``/etc/grid-security/certificates``, else the system CAs); a bearer
``token`` option is sent as ``Authorization``. No checksum is offered: servers
answering ``Want-Digest`` are not the common case.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import aiohttp
import yarl
from fsspec.callbacks import DEFAULT_CALLBACK
from webdav4.multistatus import MultiStatusResponse

from dfc.errors import (
    AlreadyExists,
    ConfigError,
    DFCError,
    DirectoryNotEmpty,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    PFNNotFound,
)
from dfc.models import FileInfo
from dfc.se._errors import http_error, redact, translate_errors
from dfc.se._http import UploadBody, grid_ssl_context, x509_settings
from dfc.se._paths import normalize, parent, temp_path
from dfc.se._walk import walk_tree

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Mapping

    from fsspec.callbacks import Callback

    from dfc.models import SEInfo

__all__ = ["WebDAVSE"]

log = logging.getLogger(__name__)

MiB = 1024 * 1024
_SCHEMES = {"davs": "https", "https": "https", "http": "http"}
_PROPFIND = (
    '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
    "<D:resourcetype/><D:getcontentlength/><D:getlastmodified/></D:prop></D:propfind>"
)
_OK = (HTTPStatus.OK, HTTPStatus.CREATED, HTTPStatus.NO_CONTENT)


@dataclass(frozen=True, slots=True)
class _Reply:
    """A finished HTTP exchange: status, reason and body text."""

    status: int
    reason: str
    text: str


class WebDAVSE:
    """A storage element on a WebDAV server.

    Args:
        name: the SE name.
        url: ``davs://HOST[:PORT]/BASE`` (or ``https://``, ``http://``).
        chunk_size: bytes per block handed out by reads.
        timeout: seconds to wait for the server on any one request (connecting
            waits at most 10 s).
        token: a bearer token sent with every request.
        verify: check the server's TLS certificate (turn off only for tests).
        x509_user_proxy: the grid proxy to present over HTTPS.
        x509_cert_dir: the directory of trusted CA certificates.

    Raises:
        InvalidArgument: ``url`` is not a usable WebDAV URL.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        chunk_size: int = MiB,
        timeout: float = 60.0,
        token: str | None = None,
        verify: bool = True,
        x509_user_proxy: str | None = None,
        x509_cert_dir: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        scheme = _SCHEMES.get(parts.scheme)
        if scheme is None or not parts.hostname:
            raise InvalidArgument(f"not a WebDAV URL (davs://, https://, http://): {redact(url)}")
        if parts.username or parts.password:
            raise InvalidArgument(
                f"SE URL {redact(url)}: credentials belong in the local configuration, not the URL"
            )
        if parts.query or parts.fragment:
            raise InvalidArgument(f"SE URL {redact(url)}: no query or fragment allowed")
        base = normalize(unquote(parts.path))
        self.name = name
        self.base = "" if base == "/" else base
        self.url = f"{parts.scheme}://{parts.netloc}{self.base}"
        self._origin = f"{scheme}://{parts.netloc}"
        self.chunk_size = chunk_size
        self.timeout = timeout
        self._token = token
        self._verify = verify
        self._x509 = {"x509_user_proxy": x509_user_proxy, "x509_cert_dir": x509_cert_dir}
        self._client: aiohttp.ClientSession | None = None

    @classmethod
    def from_info(cls, info: SEInfo, options: Mapping[str, Any] | None = None) -> WebDAVSE:
        """Build from a catalogue SE record and local options.

        Options: ``chunk_size`` (int), ``timeout`` (seconds), ``token`` (str),
        ``verify`` (bool), ``x509_user_proxy`` and ``x509_cert_dir`` (paths).

        Raises:
            ConfigError: an option is unknown or has the wrong type.
            InvalidArgument: the URL is not a usable WebDAV URL.
        """
        opts = dict(options or {})
        kinds: dict[str, type | tuple[type, ...]] = {
            "chunk_size": int,
            "timeout": (int, float),
            "token": str,
            "verify": bool,
            "x509_user_proxy": str,
            "x509_cert_dir": str,
        }
        kwargs: dict[str, Any] = {}
        for key, kind in kinds.items():
            if key not in opts:
                continue
            value = opts.pop(key)
            ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
            if ok and key in ("chunk_size", "timeout"):
                ok = value > 0
            if not ok:
                raise ConfigError(f"SE {info.name}: option {key!r} has a wrong type or value")
            kwargs[key] = value
        if opts:
            raise ConfigError(f"SE {info.name}: unknown option(s) {', '.join(sorted(opts))}")
        return cls(info.name, info.url, **kwargs)

    def __repr__(self) -> str:
        return f"WebDAVSE({self.name!r}, {self.url!r})"

    # ------------------------------------------------------------ helpers

    def pfn(self, path: str) -> str:
        """Return the SE URL followed by ``path`` (not percent-encoded, like the catalogue's).

        Raises:
            InvalidArgument: ``path`` escapes the SE root.
        """
        return self.url + normalize(path)

    def _http_url(self, norm: str, collection: bool = False) -> str:
        path = self.base + norm if norm != "/" else self.base + "/"
        if collection and not path.endswith("/"):
            path += "/"
        return self._origin + quote(path)

    def _errors(self, norm: str, op: str) -> translate_errors:
        secrets = (self._token,) if self._token else ()
        return translate_errors(self.pfn(norm), op, secrets)

    def _fail(self, reply: _Reply, norm: str, op: str) -> DFCError:
        return http_error(reply.status, self.pfn(norm), op, reply.reason)

    def _http(self) -> aiohttp.ClientSession:
        if self._client is None:
            ssl: Any = False
            if self._origin.startswith("https:") and self._verify:
                proxy, cert_dir = x509_settings(self._x509)
                ssl = grid_ssl_context(proxy, cert_dir)
            headers = {"Accept-Encoding": "identity"}
            if self._token:
                headers["Authorization"] = f"Bearer {self._token}"
            self._client = aiohttp.ClientSession(
                headers=headers,
                connector=aiohttp.TCPConnector(ssl=ssl, limit=64),
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=min(10.0, self.timeout), sock_read=self.timeout
                ),
                auto_decompress=False,
            )
        return self._client

    def _target(self, norm: str, collection: bool = False) -> yarl.URL:
        return yarl.URL(self._http_url(norm, collection), encoded=True)

    async def _send(
        self,
        method: str,
        norm: str,
        *,
        collection: bool = False,
        redirects: bool = False,
        **kwargs: Any,
    ) -> _Reply:
        async with self._http().request(
            method, self._target(norm, collection), allow_redirects=redirects, **kwargs
        ) as response:
            text = await response.text(errors="replace")
            return _Reply(response.status, response.reason or "", text)

    def _se_path(self, href_path: str) -> str:
        if self.base and (href_path == self.base or href_path.startswith(self.base + "/")):
            href_path = href_path[len(self.base) :]
        return normalize(href_path)

    async def _propfind(self, norm: str, depth: int) -> list[FileInfo]:
        """PROPFIND ``norm``: the resource itself first, then its members.

        Raises:
            PFNNotFound: nothing exists at ``norm``.
        """
        reply = await self._send(
            "PROPFIND",
            norm,
            data=_PROPFIND,
            headers={"Depth": str(depth), "Content-Type": "application/xml"},
            redirects=True,
        )
        if reply.status != HTTPStatus.MULTI_STATUS:
            raise self._fail(reply, norm, "stat")
        infos = []
        for item in MultiStatusResponse(reply.text).responses.values():
            props = item.properties
            is_dir = bool(props.collection)
            infos.append(
                FileInfo(
                    path=self._se_path(item.path_norm),
                    size=0 if is_dir else int(props.content_length or 0),
                    type="directory" if is_dir else "file",
                    mtime=props.modified.timestamp() if props.modified else None,
                )
            )
        own = [i for i in infos if i.path == norm]
        if not own:
            raise PFNNotFound(f"stat {self.pfn(norm)}: not in the server's answer")
        return own[:1] + sorted((i for i in infos if i.path != norm), key=lambda i: i.path)

    async def _lookup(self, norm: str) -> FileInfo | None:
        try:
            return (await self._propfind(norm, 0))[0]
        except NotFound:
            return None

    # ------------------------------------------------------------ reading

    async def stat(self, path: str) -> FileInfo:
        """Return size, type and mtime of ``path``.

        Raises:
            PFNNotFound: nothing exists at ``path``.
            SEUnavailable: the server cannot be reached.
        """
        norm = normalize(path)
        async with self._errors(norm, "stat"):
            return (await self._propfind(norm, 0))[0]

    async def ls(self, path: str) -> list[FileInfo]:
        """List directory ``path`` (PROPFIND, depth 1), sorted by path.

        Raises:
            PFNNotFound: the directory does not exist.
            NotADirectory: ``path`` is a file.
        """
        norm = normalize(path)
        async with self._errors(norm, "ls"):
            own, *members = await self._propfind(norm, 1)
        if own.type != "directory":
            raise NotADirectory(f"ls {self.pfn(norm)}: not a directory")
        return members

    def walk(self, path: str) -> AsyncIterator[FileInfo]:
        """Yield every file below ``path``; a missing path yields nothing, a file itself.

        Raises:
            PermissionDenied: a directory cannot be listed.
        """
        return walk_tree(self.ls, self.stat, normalize(path))

    async def _file(self, norm: str) -> FileInfo:
        info = await self.stat(norm)
        if info.type == "directory":
            raise IsADirectory(f"read {self.pfn(norm)}: is a directory")
        return info

    async def open_read(
        self, path: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream ``path`` from ``offset`` with one ranged GET.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a directory.
            InvalidArgument: ``offset`` or ``length`` is negative.
        """
        if offset < 0 or (length is not None and length < 0):
            raise InvalidArgument(f"invalid range offset={offset} length={length}")
        norm = normalize(path)
        info = await self._file(norm)
        end = info.size if length is None else min(info.size, offset + length)
        if offset >= end:
            return
        headers = {"Range": f"bytes={offset}-{end - 1}"}
        async with (
            self._errors(norm, "read"),
            self._http().get(self._target(norm), headers=headers) as response,
        ):
            if response.status not in (HTTPStatus.OK, HTTPStatus.PARTIAL_CONTENT):
                text = await response.text(errors="replace")
                raise self._fail(_Reply(response.status, response.reason or "", text), norm, "read")
            # A server ignoring Range (200) sends the whole file: skip and cut.
            skip = offset if response.status == HTTPStatus.OK else 0
            remaining = end - offset
            async for block in response.content.iter_chunked(self.chunk_size):
                if skip:
                    cut = min(skip, len(block))
                    block, skip = block[cut:], skip - cut
                block = block[:remaining]
                if block:
                    remaining -= len(block)
                    yield block
                if remaining <= 0:
                    break

    async def read_range(self, path: str, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes of ``path`` from ``offset``.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a directory.
            InvalidArgument: ``offset`` or ``length`` is negative.
        """
        if offset < 0 or length < 0:
            raise InvalidArgument(f"invalid range offset={offset} length={length}")
        return b"".join([block async for block in self.open_read(path, offset, length)])

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
        """Stream ``src`` into a temporary name next to ``path``, then ``MOVE`` it there.

        Raises:
            AlreadyExists: ``path`` exists and ``overwrite`` is false.
            IsADirectory: ``path`` is a directory.
            SizeMismatch: ``size`` was given and the stream had another length.
            SEUnavailable, SETimeout: the server failed (the put left nothing).
        """
        norm = normalize(path)
        cb = callback or DEFAULT_CALLBACK
        if size is not None:
            cb.set_size(size)
        if norm == "/":
            raise IsADirectory(f"put {self.pfn(norm)}: is the SE root")
        async with self._errors(norm, "put"):
            target = await self._lookup(norm)
            if target is not None and target.type == "directory":
                raise IsADirectory(f"put {self.pfn(norm)}: is a directory")
            if target is not None and not overwrite:
                raise AlreadyExists(f"put {self.pfn(norm)}: file exists")
            await self._ensure_dir(parent(norm))
        tmp = temp_path(norm)
        body = UploadBody(src, size, cb, self.pfn(norm))
        headers = {"Content-Length": str(size)} if size is not None else {}
        try:
            try:
                async with self._errors(norm, "put"):
                    reply = await self._send("PUT", tmp, data=body, headers=headers)
            except DFCError:
                if body.error is not None:
                    # The caller's stream failed, not the server: its error, unchanged.
                    raise body.error from None
                raise
            async with self._errors(norm, "put"):
                if reply.status not in _OK:
                    raise self._fail(reply, norm, "put")
                await self._move(tmp, norm, overwrite, "put")
        except BaseException:
            await asyncio.shield(self._discard(tmp))
            raise
        return FileInfo(path=norm, size=body.total)

    async def _move(self, src: str, dst: str, overwrite: bool, op: str) -> None:
        reply = await self._send(
            "MOVE",
            src,
            headers={"Destination": self._http_url(dst), "Overwrite": "T" if overwrite else "F"},
        )
        if reply.status == HTTPStatus.PRECONDITION_FAILED:
            raise AlreadyExists(f"{op} {self.pfn(dst)}: file exists")
        if reply.status not in _OK:
            raise self._fail(reply, src, op)

    async def _discard(self, tmp: str) -> None:
        """Remove a failed upload's temporary file; its own failure is only logged."""
        try:
            async with self._errors(tmp, "put (cleanup)"):
                reply = await self._send("DELETE", tmp)
        except DFCError as exc:
            log.warning("%s: could not remove the partial upload: %s", self.name, exc)
            return
        if reply.status not in (*_OK, HTTPStatus.NOT_FOUND):
            log.warning(
                "%s: could not remove the partial upload %s: HTTP %s",
                self.name,
                self.pfn(tmp),
                reply.status,
            )

    # ------------------------------------------------------------ namespace

    async def _ensure_dir(self, norm: str) -> None:
        """Create collection ``norm`` and missing parents (``MKCOL``); existing is fine.

        The parents of the SE's base path are created too, like ``mkdir -p``.
        """
        await self._mkcol(self.base + norm if norm != "/" else self.base or "/", norm)

    async def _mkcol(self, server_path: str, norm: str) -> None:
        if server_path == "/":
            return
        url = yarl.URL(self._origin + quote(server_path + "/"), encoded=True)

        async def mkcol() -> _Reply:
            async with self._http().request("MKCOL", url, allow_redirects=False) as response:
                text = await response.text(errors="replace")
                return _Reply(response.status, response.reason or "", text)

        reply = await mkcol()
        if reply.status == HTTPStatus.CONFLICT:  # the parent is missing
            await self._mkcol(parent(server_path), norm)
            reply = await mkcol()
        # 405 Method Not Allowed: something exists there already.
        if reply.status not in (*_OK, HTTPStatus.METHOD_NOT_ALLOWED):
            raise self._fail(reply, norm, "mkdir")

    async def rename(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        """Move ``src`` to ``dst`` (creating ``dst``'s parents).

        Raises:
            PFNNotFound: ``src`` does not exist.
            AlreadyExists: ``dst`` exists and ``overwrite`` is false.
            InvalidArgument: ``src`` or ``dst`` is the SE root.
        """
        snorm, dnorm = normalize(src), normalize(dst)
        if "/" in (snorm, dnorm):
            raise InvalidArgument(f"rename {self.pfn(snorm)}: cannot move the SE root")
        async with self._errors(snorm, "rename"):
            await self._propfind(snorm, 0)
            if not overwrite and await self._lookup(dnorm) is not None:
                raise AlreadyExists(f"rename {self.pfn(dnorm)}: file exists")
            await self._ensure_dir(parent(dnorm))
            await self._move(snorm, dnorm, overwrite, "rename")

    async def copy(self, src: str, dst: str) -> None:
        """Copy file ``src`` to ``dst`` on the server (``COPY``), replacing ``dst``.

        Raises:
            PFNNotFound: ``src`` does not exist.
            IsADirectory: ``src`` is a directory.
        """
        snorm, dnorm = normalize(src), normalize(dst)
        async with self._errors(snorm, "copy"):
            if (await self._propfind(snorm, 0))[0].type == "directory":
                raise IsADirectory(f"copy {self.pfn(snorm)}: is a directory")
            await self._ensure_dir(parent(dnorm))
            reply = await self._send(
                "COPY",
                snorm,
                headers={"Destination": self._http_url(dnorm), "Overwrite": "T", "Depth": "0"},
            )
            if reply.status not in _OK:
                raise self._fail(reply, snorm, "copy")

    async def rm(self, path: str) -> None:
        """Remove the file ``path``.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a directory (WebDAV would delete it recursively).
        """
        norm = normalize(path)
        async with self._errors(norm, "rm"):
            if (await self._propfind(norm, 0))[0].type == "directory":
                raise IsADirectory(f"rm {self.pfn(norm)}: is a directory")
            reply = await self._send("DELETE", norm)
            if reply.status not in _OK:
                raise self._fail(reply, norm, "rm")

    async def mkdir(self, path: str) -> None:
        """Create directory ``path`` and its parents; an existing one is fine.

        Raises:
            AlreadyExists: a file is in the way.
        """
        norm = normalize(path)
        async with self._errors(norm, "mkdir"):
            await self._ensure_dir(norm)
            info = await self._lookup(norm)
            if info is not None and info.type != "directory":
                raise AlreadyExists(f"mkdir {self.pfn(norm)}: a file is in the way")

    async def rmdir(self, path: str) -> None:
        """Remove the empty directory ``path``.

        Raises:
            PFNNotFound: the directory does not exist.
            DirectoryNotEmpty: it still holds entries.
            NotADirectory: ``path`` is a file.
            InvalidArgument: ``path`` is the SE root.
        """
        norm = normalize(path)
        if norm == "/":
            raise InvalidArgument(f"rmdir {self.pfn(norm)}: cannot remove the SE root")
        async with self._errors(norm, "rmdir"):
            own, *members = await self._propfind(norm, 1)
            if own.type != "directory":
                raise NotADirectory(f"rmdir {self.pfn(norm)}: not a directory")
            if members:
                raise DirectoryNotEmpty(f"rmdir {self.pfn(norm)}: directory not empty")
            reply = await self._send("DELETE", norm, collection=True)
            if reply.status not in _OK:
                raise self._fail(reply, norm, "rmdir")

    async def close(self) -> None:
        """Close the HTTP connections."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()
