"""Request ids, structured logs, errors as JSON, and authentication.

Every response carries ``X-Request-ID``; every error is JSON
``{"error": kind, "message": text, "request_id": id}`` with the status of its class:

=========================================  ======
AuthenticationFailed (credential refused)  401
PermissionDenied, InsufficientRights       403
NotFound                                   404
AlreadyExists, not-a-directory and friends 409
InvalidArgument (bad input, limits)        400
CatalogUnavailable, request time limit     503
=========================================  ======

Logs are one JSON object per line with the request id and the identity (its DN or
token principal), never a certificate, key, proxy or token.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import secrets
import time
import weakref
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dfc.auth import AuthenticationFailed, Identity, peer_chain
from dfc.errors import (
    AlreadyExists,
    CatalogUnavailable,
    DFCError,
    DirectoryNotEmpty,
    InvalidArgument,
    IsADirectory,
    LastReplica,
    NotADirectory,
    NotFound,
    OptionalDependencyMissing,
    PermissionDenied,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from dfc.auth import Authenticator
    from dfc.server._bridge import Bridge

__all__ = [
    "IDENTITIES",
    "IDENTITY",
    "REQUEST_ID",
    "JsonFormatter",
    "Identities",
    "error_response",
    "handle_errors",
    "status_for",
]

log = logging.getLogger("dfc.server")

IDENTITY = web.RequestKey("identity", Identity)
REQUEST_ID = web.RequestKey("request_id", str)
#: Paths served without a credential.
PUBLIC = frozenset({"/api/v1/health"})
_RID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# A connection's identity is re-checked (through the authenticator's cache) this often.
_CONNECTION_TTL = 60.0

_STATUS: tuple[tuple[type[DFCError], int], ...] = (
    (AuthenticationFailed, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (AlreadyExists, 409),
    (NotADirectory, 409),
    (IsADirectory, 409),
    (DirectoryNotEmpty, 409),
    (LastReplica, 409),
    (InvalidArgument, 400),
    (CatalogUnavailable, 503),
    (OptionalDependencyMissing, 501),
)


def status_for(error: DFCError) -> int:
    """The HTTP status of an error."""
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 503 if error.retryable else 500


class JsonFormatter(logging.Formatter):
    """Formats log records as one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON: time, level, message and the ``dfc`` extra fields."""
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        fields = getattr(record, "dfc", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def error_response(
    status: int, kind: str, message: str, request_id: str, **extra: Any
) -> web.Response:
    """A JSON error response."""
    body = {"error": kind, "message": message, "request_id": request_id, **extra}
    return web.json_response(body, status=status)


class _Ids:
    """Request ids: a random prefix per process and a counter (no entropy per request)."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a new process: a new prefix

    def _reset(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._count = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._count):08x}"


_IDS = _Ids()


def _request_id(request: web.Request) -> str:
    given = request.headers.get("X-Request-ID", "")
    return given if _RID.fullmatch(given) else _IDS.next()


@web.middleware
async def handle_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Give the request an id and an identity, log it, and turn errors into JSON.

    Every request but the public ones (health) needs a credential (one middleware does
    both: each one more costs a few percent of a small request).
    """
    rid = _request_id(request)
    request[REQUEST_ID] = rid
    start = time.perf_counter()
    try:
        if request.path not in PUBLIC:
            request[IDENTITY] = await request.app[IDENTITIES].identify(request)
        response = await handler(request)
    except DFCError as exc:
        status = status_for(exc)
        if status >= 500:
            log.error("%s failed", request.path, exc_info=exc, extra=_fields(request, status))
        response = error_response(status, exc.kind, str(exc), rid, errno=exc.errno)
    except web.HTTPException as exc:
        kind = {404: "NotFound", 405: "InvalidArgument", 413: "InvalidArgument"}.get(
            exc.status, "InvalidArgument" if exc.status < 500 else "ServerError"
        )
        message = exc.reason
        if exc.status == 413:
            message = "the request body is too large"
        response = error_response(exc.status, kind, message, rid)
    except TimeoutError:
        response = error_response(
            503, "CatalogUnavailable", "the request took too long and was abandoned", rid
        )
    except Exception:
        log.exception("internal error", extra=_fields(request, 500))
        response = error_response(500, "ServerError", "internal server error", rid)
    response.headers["X-Request-ID"] = rid
    if log.isEnabledFor(logging.INFO):
        fields = _fields(request, response.status)
        fields["ms"] = round((time.perf_counter() - start) * 1000, 2)
        log.info("request", extra=fields)
    return response


def _fields(request: web.Request, status: int) -> dict[str, Any]:
    who = request.get(IDENTITY)
    return {
        "dfc": {
            "request_id": request.get(REQUEST_ID),
            "method": request.method,
            "path": request.path,
            "status": status,
            "identity": who.dn if who is not None else None,
            "via": who.via if who is not None else None,
            "peer": request.remote,
        }
    }


class Identities:
    """Identifies requests: bearer token, else the client certificate chain.

    A connection's chain is validated once and remembered for the connection (up to a
    minute, and never past the credential's expiry).
    """

    def __init__(self, authenticator: Authenticator, bridge: Bridge) -> None:
        self._auth = authenticator
        self._bridge = bridge
        self._connections: weakref.WeakKeyDictionary[object, tuple[Identity, float]] = (
            weakref.WeakKeyDictionary()
        )

    async def identify(self, request: web.Request) -> Identity:
        """The identity of a request.

        Raises:
            AuthenticationFailed: no credential, or the credential does not verify.
        """
        header = request.headers.get("Authorization")
        if header is not None:
            return await self._bridge.run(self._auth.from_authorization, header)
        transport = request.transport
        sslobj = transport.get_extra_info("ssl_object") if transport is not None else None
        if sslobj is None:
            raise AuthenticationFailed(
                "no credential: present a proxy certificate or a bearer token"
            )
        now = time.monotonic()
        hit = self._connections.get(sslobj)
        if hit is not None and hit[1] > now:
            expiry = hit[0].not_after
            if expiry is None or expiry > datetime.now(UTC):
                return hit[0]
        chain = peer_chain(sslobj)
        if not chain:
            raise AuthenticationFailed(
                "no credential: present a proxy certificate or a bearer token"
            )
        identity = await self._bridge.run(self._auth.from_chain, chain)
        self._connections[sslobj] = (identity, now + _CONNECTION_TTL)
        return identity


IDENTITIES = web.AppKey("identities", Identities)
