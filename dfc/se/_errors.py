"""Translate foreign storage exceptions into :mod:`dfc.errors`: the one boundary.

Every storage call in :mod:`dfc.se` runs inside :class:`translate_errors`, which
turns ``OSError`` (by errno first, then by builtin subclass), fsspec, aiohttp
(WebDAV, S3), botocore (S3) exceptions, the answers of dfc's own S3 client
(:class:`S3Failure`) and XRootD statuses (:class:`XRootDFailure`) into the
matching :class:`~dfc.errors.DFCError`. The
message is one line naming the operation, the PFN and the reason, with
credentials removed.

The rules, whatever the library: missing -> ``PFNNotFound``; refused ->
``PermissionDenied``; full or over quota -> ``NoSpace``; timed out ->
``SETimeout``; connection refused/reset, server gone or 5xx -> ``SEUnavailable``
(both retryable).

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
    from collections.abc import Sequence
    from types import TracebackType

__all__ = [
    "S3Failure",
    "XRootDFailure",
    "http_error",
    "redact",
    "translate_errors",
    "translate_exception",
]

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
    # s3fs turns SlowDown/ServiceUnavailable/503 into EBUSY and 500 into EREMOTEIO
    errno.EBUSY: SEUnavailable,
    errno.EREMOTEIO: SEUnavailable,
    errno.EAGAIN: SEUnavailable,
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

# XRootD (XProtocol.hh) server error numbers, reported with client code 400.
_XRD_SERVER: dict[int, type[DFCError]] = {
    3000: InvalidArgument,  # kXR_ArgInvalid
    3001: InvalidArgument,  # kXR_ArgMissing
    3002: InvalidArgument,  # kXR_ArgTooLong
    3009: NoSpace,  # kXR_NoSpace
    3010: PermissionDenied,  # kXR_NotAuthorized
    3011: PFNNotFound,  # kXR_NotFound
    3012: SEUnavailable,  # kXR_ServerError
    3014: SEUnavailable,  # kXR_noserver
    3015: IsADirectory,  # kXR_NotFile
    3016: IsADirectory,  # kXR_isDirectory
    3018: AlreadyExists,  # kXR_ItExists
    3020: SEUnavailable,  # kXR_inProgress
    3021: NoSpace,  # kXR_overQuota
    3024: SEUnavailable,  # kXR_Overloaded
    3025: PermissionDenied,  # kXR_fsReadOnly
    3028: PermissionDenied,  # kXR_TLSRequired
    3030: PermissionDenied,  # kXR_AuthFailed
    3034: SETimeout,  # kXR_ReqTimedOut
    3035: SETimeout,  # kXR_TimerExpired
}

# XRootD client-side status codes (XrdClStatus.hh) when the server sent no error.
_XRD_CLIENT: dict[int, type[DFCError]] = {
    1: SEUnavailable,  # errRetry
    101: InvalidArgument,  # errInvalidAddr
    102: SEUnavailable,  # errSocketError
    103: SETimeout,  # errSocketTimeout
    104: SEUnavailable,  # errSocketDisconnected
    107: SEUnavailable,  # errStreamDisconnect
    108: SEUnavailable,  # errConnectionError
    109: SEUnavailable,  # errInvalidSession
    202: SEUnavailable,  # errHandShakeFailed
    203: PermissionDenied,  # errLoginFailed
    204: PermissionDenied,  # errAuthFailed
    206: SETimeout,  # errOperationExpired
    207: SEUnavailable,  # errOperationInterrupted
    304: PFNNotFound,  # errNotFound
}

# kXR_FSError (3005) carries the POSIX reason only in its text.
_XRD_FS_TEXT: tuple[tuple[str, type[DFCError]], ...] = (
    ("directory not empty", DirectoryNotEmpty),
    ("not a directory", NotADirectory),
    ("is a directory", IsADirectory),
    ("no such file", PFNNotFound),
    ("file exists", AlreadyExists),
    ("permission denied", PermissionDenied),
    ("read-only file system", PermissionDenied),
    ("no space", NoSpace),
    ("quota", NoSpace),
)

# S3 error codes whose HTTP status alone would mislead.
_S3_CODES: dict[str, type[DFCError]] = {
    "NoSuchKey": PFNNotFound,
    "NoSuchBucket": PFNNotFound,
    "NoSuchUpload": PFNNotFound,
    "NotFound": PFNNotFound,
    "AccessDenied": PermissionDenied,
    "InvalidAccessKeyId": PermissionDenied,
    "SignatureDoesNotMatch": PermissionDenied,
    "ExpiredToken": PermissionDenied,
    "RequestTimeTooSkewed": PermissionDenied,
    "SlowDown": SEUnavailable,
    "ServiceUnavailable": SEUnavailable,
    "InternalError": SEUnavailable,
    "RequestTimeout": SETimeout,
    "QuotaExceeded": NoSpace,
    "EntityTooLarge": InvalidArgument,
    "InvalidBucketName": InvalidArgument,
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


class XRootDFailure(Exception):
    """An unsuccessful XRootD status as an exception (the XRootD client reports statuses).

    Attributes:
        code: the client status code (``400`` when the server answered an error).
        server_errno: the server's ``kXR_*`` error number, or ``0``.
        text: the status message.
    """

    def __init__(self, code: int, server_errno: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.server_errno = server_errno
        self.text = text

    def __str__(self) -> str:
        # "[ERROR] Server responded with an error: [3011] Unable to ...; no such file"
        text = self.text.strip()
        if "] " in text and text.startswith("["):
            text = text.split("] ", 1)[1]
        return text.removeprefix("Server responded with an error: ") or f"code {self.code}"


class S3Failure(Exception):
    """An S3 error answer from dfc's own S3 client (:mod:`dfc.se._s3http`).

    Attributes:
        status: the HTTP status.
        code: the S3 error code (``NoSuchKey``, ``SlowDown``, ...), or ``""``
            when the answer had no body (HEAD).
        text: the server's message.
    """

    def __init__(self, status: int, code: str, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.code = code
        self.text = text

    def __str__(self) -> str:
        detail = f"{self.code}: {self.text}" if self.code else self.text
        return f"HTTP {self.status} {detail}".strip()


_MIN_SECRET = 4


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """Return ``text`` on one line, without userinfo in URLs, secret query values or ``secrets``."""
    for secret in secrets:
        # Masking a very short string would shred the message and hide nothing.
        if len(secret) >= _MIN_SECRET:
            text = text.replace(secret, "***")
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
        return _http_status_class(int(exc.status))
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return SETimeout
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return PermissionDenied  # the server's certificate is not trusted: no retry helps
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        return SEUnavailable
    return StorageError


def _http_status_class(status: int) -> type[DFCError]:
    if status in _HTTP_STATUS:
        return _HTTP_STATUS[status]
    return SEUnavailable if status >= 500 else StorageError


def _botocore_class(exc: BaseException) -> type[DFCError] | None:
    boto = sys.modules.get("botocore.exceptions")
    if boto is None or not isinstance(exc, boto.BotoCoreError | boto.ClientError):
        return None
    if isinstance(exc, boto.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in _S3_CODES:
            return _S3_CODES[code]
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return _http_status_class(int(status)) if status else StorageError
    if isinstance(exc, boto.ConnectTimeoutError | boto.ReadTimeoutError):
        return SETimeout
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return PermissionDenied
    if isinstance(exc, boto.ConnectionError | boto.HTTPClientError):
        return SEUnavailable
    if isinstance(exc, boto.ParamValidationError | boto.NoRegionError):
        return InvalidArgument
    return StorageError


def _s3_class(exc: BaseException) -> type[DFCError] | None:
    if not isinstance(exc, S3Failure):
        return None
    return _S3_CODES.get(exc.code) or _http_status_class(exc.status)


def _xrootd_class(exc: BaseException) -> type[DFCError] | None:
    if not isinstance(exc, XRootDFailure):
        return None
    if exc.server_errno == 3005:  # kXR_FSError: the reason is in the text
        text = exc.text.lower()
        for needle, mapped in _XRD_FS_TEXT:
            if needle in text:
                return mapped
        return StorageError
    if exc.server_errno in _XRD_SERVER:
        return _XRD_SERVER[exc.server_errno]
    return _XRD_CLIENT.get(exc.code, StorageError)


def _fsspec_class(exc: BaseException) -> type[DFCError] | None:
    fsspec_exc = sys.modules.get("fsspec.exceptions")
    if fsspec_exc is not None and isinstance(exc, fsspec_exc.FSTimeoutError):
        return SETimeout
    return None


def _classify(exc: BaseException) -> type[DFCError]:
    found = (
        _xrootd_class(exc)
        or _s3_class(exc)
        or _aiohttp_class(exc)
        or _botocore_class(exc)
        or _fsspec_class(exc)
    )
    if found is not None:
        return found
    if isinstance(exc, OSError) and exc.errno in _BY_ERRNO:
        return _BY_ERRNO[exc.errno]
    for builtin, mapped in _BY_CLASS:
        if isinstance(exc, builtin):
            return mapped
    return StorageError


def translate_exception(
    exc: BaseException, pfn: str, op: str = "", secrets: Sequence[str] = ()
) -> DFCError | None:
    """Return the :class:`DFCError` for a foreign exception, or ``None`` to re-raise it.

    ``None`` is returned for a ``DFCError`` (already translated), for
    ``BaseException`` that is not an ``Exception`` (cancellation) and for
    programming errors. ``secrets`` (credentials) are masked in the message.
    """
    if isinstance(exc, DFCError) or not isinstance(exc, Exception):
        return None
    if isinstance(exc, _NEVER_TRANSLATED):
        return None
    cls = _classify(exc)
    prefix = f"{op} {pfn}" if op else pfn
    return cls(redact(f"{prefix}: {_reason(exc, cls)}", secrets))


def http_error(status: int, pfn: str, op: str = "", reason: str = "") -> DFCError:
    """Return the :class:`DFCError` for an HTTP error ``status`` answered for ``pfn``."""
    cls = _http_status_class(status)
    prefix = f"{op} {pfn}" if op else pfn
    text = f"HTTP {status} {reason}".strip()
    return cls(redact(f"{prefix}: {text}"))


class translate_errors:
    """Context manager (``with`` or ``async with``) mapping foreign errors to dfc ones.

    Example::

        async with translate_errors(self.pfn(path), "stat"):
            info = await fs._info(fspath)

    Raises:
        DFCError: the translated exception, chained to the original.
    """

    __slots__ = ("op", "pfn", "secrets")

    def __init__(self, pfn: str, op: str = "", secrets: Sequence[str] = ()) -> None:
        self.pfn = pfn
        self.op = op
        self.secrets = secrets

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
        mapped = translate_exception(exc, self.pfn, self.op, self.secrets)
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
