"""Rendering pages: one Jinja2 environment with autoescaping, and small filters."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    import jinja2

__all__ = ["human_size", "render", "url_for"]

#: Parameters that are part of a route's path, not of its query.
_PATH_PARAMS = ("id", "filename")
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(n: float | None) -> str:
    """Bytes as ``1.5 GiB`` (``-`` for None)."""
    if n is None:
        return "-"
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} PiB"  # pragma: no cover - the loop always returns


def _when(value: float | datetime | None) -> str:
    """A time stamp as ``2026-01-02 03:04:05 UTC`` (``-`` for None)."""
    if value is None:
        return "-"
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(value, UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return (
        f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"
        if s >= 3600
        else f"{s // 60}m{s % 60:02d}s"
    )


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dfc.portal", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = human_size
    env.filters["when"] = _when
    env.filters["duration"] = _duration
    env.filters["mode"] = lambda m: f"{m:04o}" if isinstance(m, int) else "-"
    return env


def url_for(request: web.Request, name: str, **query: object) -> str:
    """The URL of route ``name`` of the portal, with a query string.

    Args:
        request: the current request (its application knows the mount prefix).
        name: the route name.
        **query: query parameters (None values are left out); ``id`` and ``filename``
            fill the path.

    Returns:
        A path with its query, safe to put in ``href`` (the template escapes it).

    Raises:
        KeyError: no route of that name.
    """
    route = {k: str(query.pop(k)) for k in _PATH_PARAMS if k in query}
    parts = {k: str(v) for k, v in query.items() if v is not None}
    url = request.app.router[name].url_for(**route)
    return str(url.with_query(parts)) if parts else str(url)


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """Render a page.

    Args:
        request: the request (for links and the navigation).
        template: the template file name.
        context: its variables.
        status: the HTTP status.

    Returns:
        The HTML response (no caching, no framing by other sites).
    """
    body = (
        _environment()
        .get_template(template)
        .render(url=functools.partial(url_for, request), request_path=request.path, **context)
    )
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": (
                "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                "script-src 'self'; frame-ancestors 'none'"
            ),
        },
    )
