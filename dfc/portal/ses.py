"""The storage elements page: sites, SEs, bans and usage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dfc.portal._app import call
from dfc.portal._render import render

if TYPE_CHECKING:
    from aiohttp import web

    from dfc.api import DFC

__all__ = ["add_routes"]


def _ses(api: DFC) -> dict[str, Any]:
    ses = sorted(api.se_list(), key=lambda se: (se.site, se.name))
    usage = api.du("/").ses
    return {"ses": [(se, usage.get(se.name)) for se in ses]}


async def ses(request: web.Request) -> web.StreamResponse:
    """Every storage element with its site, status (banned or not) and usage.

    Raises:
        DFCError: refused (403 page).
    """
    context = await call(request, _ses)
    return render(request, "ses.html", {"title": "Storage elements", **context})


def add_routes(app: web.Application) -> None:
    """Add the SE page to the portal."""
    app.router.add_get("/ses", ses, name="ses")
