"""The HTTP routes of the catalogue server, all under ``/api/v1``.

- ``GET /api/v1/health``: ``{"status": "ok", ...}`` (no credential needed), 503 if the
  catalogue is not reachable;
- ``POST /api/v1/catalog/<op>``: run a catalogue operation (the client API: body
  ``{"args": {...}}`` in the typed wire format, answer ``{"result": ...}``; listings and
  dumps stream NDJSON);
- ``GET /api/v1/whoami``, ``GET /api/v1/stat?lfn=...``, ``GET /api/v1/replicas?lfn=...``,
  ``GET /api/v1/ls?path=...``: the same operations with plain JSON, for people and scripts.

Handlers only move bytes: the operations, their checks and authorisation live in
:class:`dfc.api.CatalogService`.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dfc import __version__, to_json
from dfc.api import CatalogService
from dfc.errors import DFCError, InvalidArgument
from dfc.server._bridge import Bridge
from dfc.server.config import ServerConfig
from dfc.server.middleware import IDENTITY, REQUEST_ID

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Generator

__all__ = ["BRIDGE", "CONFIG", "SERVICE", "add_routes"]

CONFIG = web.AppKey("config", ServerConfig)
SERVICE = web.AppKey("service", CatalogService)
BRIDGE = web.AppKey("bridge", Bridge)
_NDJSON = "application/x-ndjson"


async def health(request: web.Request) -> web.Response:
    """Whether the server and its catalogue work (for load balancers)."""
    app = request.app
    body: dict[str, Any] = {
        "status": "ok",
        "api": 1,
        "version": __version__,
        "max_items": app[CONFIG].max_items,
    }
    try:
        await app[BRIDGE].run(app[SERVICE].check_schema)
    except DFCError as exc:
        body.update(status="unavailable", detail=str(exc))
        return web.json_response(body, status=503)
    return web.json_response(body)


async def _stream(request: web.Request, lines: AsyncIterator[bytes]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": _NDJSON})
    response.headers["X-Request-ID"] = request[REQUEST_ID]
    response.enable_chunked_encoding()
    await response.prepare(request)
    async for chunk in lines:
        await response.write(chunk)
    await response.write_eof()
    return response


async def catalog_op(request: web.Request) -> web.StreamResponse:
    """Run one catalogue operation for the caller (the remote client's endpoint)."""
    app, op = request.app, request.match_info["op"]
    service, bridge = app[SERVICE], app[BRIDGE]
    kind = service.kind(op)
    identity = request[IDENTITY]
    body = await request.read()
    if kind != "stream":
        async with asyncio.timeout(app[CONFIG].request_timeout):
            data = await bridge.run(service.call, identity, op, body)
        return web.Response(body=data, content_type="application/json")
    lines = bridge.stream(lambda: service.stream(identity, op, body))
    try:
        async with asyncio.timeout(app[CONFIG].request_timeout):
            await anext(lines)  # the operation's checks
        return await _stream(request, lines)
    finally:
        await lines.aclose()


async def whoami(request: web.Request) -> web.Response:
    """How the server sees the caller, as plain JSON."""
    app = request.app
    who = await app[BRIDGE].run(app[SERVICE].run, request[IDENTITY], "whoami", {})
    return web.json_response(to_json(who))


def _lfns(request: web.Request) -> list[str]:
    lfns = request.query.getall("lfn", [])
    if not lfns:
        raise InvalidArgument("give one or more ?lfn=...")
    return lfns


def _bulk_json(result: Any) -> dict[str, Any]:
    return {
        "succeeded": to_json(result.succeeded),
        "failed": {k: {"error": e.kind, "message": str(e)} for k, e in result.failed.items()},
    }


async def stat(request: web.Request) -> web.Response:
    """Entries of LFNs, as plain JSON."""
    app = request.app
    args = {"lfns": _lfns(request)}
    result = await app[BRIDGE].run(app[SERVICE].run, request[IDENTITY], "stat", args)
    return web.json_response(_bulk_json(result))


async def replicas(request: web.Request) -> web.Response:
    """Replicas of LFNs, as plain JSON."""
    app = request.app
    args = {"lfns": _lfns(request)}
    result = await app[BRIDGE].run(app[SERVICE].run, request[IDENTITY], "replicas", args)
    return web.json_response(_bulk_json(result))


async def ls(request: web.Request) -> web.StreamResponse:
    """A directory listing as NDJSON, one plain-JSON entry per line."""
    app = request.app
    service, identity = app[SERVICE], request[IDENTITY]
    args = {
        "path": request.query.get("path", "/"),
        "with_replicas": request.query.get("replicas", "") in ("1", "true", "yes"),
    }

    def make() -> Generator[bytes, None, None]:
        yield b""
        for entry in service.iterate(identity, "list_dir", args):
            yield json.dumps(to_json(entry), ensure_ascii=False).encode() + b"\n"

    lines = app[BRIDGE].stream(make)
    try:
        async with asyncio.timeout(app[CONFIG].request_timeout):
            await anext(lines)
            first = await anext(lines, b"")
        return await _stream(request, _prepend(first, lines))
    finally:
        await lines.aclose()


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for item in rest:
        yield item


def add_routes(app: web.Application) -> None:
    """Register every route."""
    app.router.add_get("/api/v1/health", health)
    app.router.add_post("/api/v1/catalog/{op}", catalog_op)
    app.router.add_get("/api/v1/whoami", whoami)
    app.router.add_get("/api/v1/stat", stat)
    app.router.add_get("/api/v1/replicas", replicas)
    app.router.add_get("/api/v1/ls", ls)
