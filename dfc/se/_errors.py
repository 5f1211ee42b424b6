"""Translate foreign storage exceptions into :mod:`dfc.errors`: the one boundary.

Every storage call in :mod:`dfc.se` runs inside :class:`translate_errors`, which
turns ``OSError`` (by errno first, then by builtin subclass), fsspec and aiohttp
exceptions into the matching :class:`~dfc.errors.DFCError`. The message is one
line naming the operation, the PFN and the reason, with credentials removed.

Programming errors (``TypeError``, ``AttributeError``, ...) and
``BaseException`` (cancellation, ``KeyboardInterrupt``) pass through untouched.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from typing import TYPE_CHECKING

from dfc.errors import (
    AlreadyExists,
    DFCError,
    DirectoryNotEmpty,
    InvalidArgument,
    IsADirectory,
    NoSpace,
    NotADirectory,
    PermissionDenied,
    PFNNotFound,
    SETimeout,
    SEUnavailable,
    StorageError,
)

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["redact", "translate_errors", "translate_exception"]

_BY_ERRNO: dict[int, type[DFCError]] = {
    errno.ENOENT: PFNNotFound,
    errno.EACCES: PermissionDenied,
    errno.EPERM: PermissionDenied,
    errno.EROFS: PermissionDenied,
    errno.EEXIST: AlreadyExists,
    errno.ENOSPC: NoSpace,
    errno.EDQUOT: NoSpace,
    errno.ENOTEMPTY: DirectoryNotEmpty,
    errno.EISDIR: IsADirectory,
    errno.ENOTDIR: NotADirectory,
    errno.ENAMETOOLONG: InvalidArgument,
    errno.ETIMEDOUT: SETimeout,
    errno.ECONNREFUSED: SEUnavailable,
    errno.ECONNRESET: SEUnavailable,
    errno.ECONNABORTED: SEUnavailable,
    errno.EHOSTUNREACH: SEUnavailable,
    errno.ENETUNREACH: SEUnavailable,
    errno.ENETDOWN: SEUnavailable,
    errno.EHOSTDOWN: SEUnavailable,
    errno.EPIPE: SEUnavailable,
}

# Most specific first: a ConnectionRefusedError is also a ConnectionError.
_BY_CLASS: tuple[tuple[type[BaseException], type[DFCError]], ...] = (
    (FileNotFoundError, PFNNotFound),
    (FileExistsError, AlreadyExists),
    (IsADirectoryError, IsADirectory),
    (NotADirectoryError, NotADirectory),
    (PermissionError, PermissionDenied),
    (TimeoutError, SETimeout),
    (ConnectionError, SEUnavailable),
)

_HTTP_STATUS: dict[int, type[DFCError]] = {
    401: PermissionDenied,
    403: PermissionDenied,
    404: PFNNotFound,
    408: SETimeout,
    409: AlreadyExists,
    412: AlreadyExists,
    423: PermissionDenied,
    429: SEUnavailable,
    502: SEUnavailable,
    503: SEUnavailable,
    504: SETimeout,
    507: NoSpace,
}

# Bugs must surface as themselves, not as "storage error".
_NEVER_TRANSLATED = (TypeError, AttributeError, NameError, AssertionError, NotImplementedError)

_SECRETS = (
    (re.compile(r"(?<=://)[^/@\s]+@"), "***@"),
    (
        re.compile(
            r"(?i)((?:authz|access_token|token|signature|x-amz-signature|x-amz-credential"
            r"|x-amz-security-token|password|secret)=)[^&\s]+"
        ),
        r"\1***",
    ),
    (re.compile(r"(?i)(authorization:\s*\w+\s+)\S+"), r"\1***"),
)


def redact(text: str) -> str:
    """Return ``text`` on one line, without userinfo in URLs or secret query values."""
    for pattern, repl in _SECRETS:
        text = pattern.sub(repl, text)
    return " ".join(text.split())


def _reason(exc: BaseException, cls: type[DFCError]) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip()
    # fsspec raises e.g. FileNotFoundError("/bucket/key"): the path alone is no reason.
    if isinstance(exc, OSError) and (not text or " " not in text):
        return os.strerror(cls.errno)
    return text or type(exc).__name__


def _aiohttp_class(exc: BaseException) -> type[DFCError] | None:
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is None or not isinstance(exc, aiohttp.ClientError):
        return None
    if isinstance(exc, aiohttp.ClientResponseError):
        status = int(exc.status)
        if status in _HTTP_STATUS:
            return _HTTP_STATUS[status]
        return SEUnavailable if status >= 500 else StorageError
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return SETimeout
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        return SEUnavailable
    return StorageError


def _fsspec_class(exc: BaseException) -> type[DFCError] | None:
    fsspec_exc = sys.modules.get("fsspec.exceptions")
    if fsspec_exc is not None and isinstance(exc, fsspec_exc.FSTimeoutError):
        return SETimeout
    return None


def _classify(exc: BaseException) -> type[DFCError]:
    found = _aiohttp_class(exc) or _fsspec_class(exc)
    if found is not None:
        return found
    if isinstance(exc, OSError) and exc.errno in _BY_ERRNO:
        return _BY_ERRNO[exc.errno]
    for builtin, mapped in _BY_CLASS:
        if isinstance(exc, builtin):
            return mapped
    return StorageError


def translate_exception(exc: BaseException, pfn: str, op: str = "") -> DFCError | None:
    """Return the :class:`DFCError` for a foreign exception, or ``None`` to re-raise it.

    ``None`` is returned for a ``DFCError`` (already translated), for
    ``BaseException`` that is not an ``Exception`` (cancellation) and for
    programming errors.
    """
    if isinstance(exc, DFCError) or not isinstance(exc, Exception):
        return None
    if isinstance(exc, _NEVER_TRANSLATED):
        return None
    cls = _classify(exc)
    prefix = f"{op} {pfn}" if op else pfn
    return cls(redact(f"{prefix}: {_reason(exc, cls)}"))


class translate_errors:
    """Context manager (``with`` or ``async with``) mapping foreign errors to dfc ones.

    Example::

        async with translate_errors(self.pfn(path), "stat"):
            info = await fs._info(fspath)

    Raises:
        DFCError: the translated exception, chained to the original.
    """

    __slots__ = ("op", "pfn")

    def __init__(self, pfn: str, op: str = "") -> None:
        self.pfn = pfn
        self.op = op

    def __enter__(self) -> translate_errors:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            return
        mapped = translate_exception(exc, self.pfn, self.op)
        if mapped is not None:
            raise mapped from exc

    async def __aenter__(self) -> translate_errors:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
