"""Catalogue pages: directories (paged), a file's details, metadata search, usage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dfc import lfn as lfnmod
from dfc.errors import InvalidArgument
from dfc.portal._app import call, take
from dfc.portal._render import render, url_for

if TYPE_CHECKING:
    from dfc.api import DFC
    from dfc.models import Entry

__all__ = ["PAGE", "add_routes"]

#: Entries per directory page.
PAGE = 200
#: Search results shown (the count covers all of them).
SEARCH_LIMIT = 500


def _lfn(request: web.Request, key: str, default: str | None = "/") -> str:
    value = request.query.get(key, default)
    if value is None:
        raise InvalidArgument(f"missing parameter {key!r}")
    return lfnmod.validate(value)


def _page(request: web.Request) -> int:
    try:
        page = int(request.query.get("page", "1"))
    except ValueError:
        raise InvalidArgument("page must be a number") from None
    if not 1 <= page <= 10**7:
        raise InvalidArgument("page must be between 1 and 10000000")
    return page


def _crumbs(path: str) -> list[tuple[str, str]]:
    """``/a/b`` -> ``[("/", "/"), ("a", "/a"), ("b", "/a/b")]``."""
    crumbs = [("/", "/")]
    current = ""
    for part in path.strip("/").split("/") if path != "/" else []:
        current += "/" + part
        crumbs.append((part, current))
    return crumbs


@dataclass
class _Listing:
    entry: Entry
    entries: list[Entry] = field(default_factory=list)
    more: bool = False


def _listing(api: DFC, path: str, page: int) -> _Listing:
    stat = api.stat([path])
    stat.raise_first()
    entry = stat.succeeded[path]
    if not entry.is_dir:
        return _Listing(entry)
    start = (page - 1) * PAGE
    chunk = take(api.ls(path), start, start + PAGE + 1)
    return _Listing(entry, chunk[:PAGE], len(chunk) > PAGE)


async def browse(request: web.Request) -> web.StreamResponse:
    """A directory's entries, :data:`PAGE` at a time (a file redirects to its details).

    Raises:
        DFCError: refused (403 page), not found (404 page), a bad LFN (400 page).
    """
    path = _lfn(request, "path")
    page = _page(request)
    listing = await call(request, lambda api: _listing(api, path, page))
    if not listing.entry.is_dir:
        raise web.HTTPFound(url_for(request, "file", lfn=path))
    return render(
        request,
        "browse.html",
        {
            "title": path,
            "path": path,
            "crumbs": _crumbs(path),
            "entry": listing.entry,
            "entries": listing.entries,
            "page": page,
            "more": listing.more,
        },
    )


def _details(api: DFC, lfn: str) -> dict[str, Any]:
    stat = api.stat([lfn])
    stat.raise_first()
    entry = stat.succeeded[lfn]
    replicas = api.replicas([lfn]).succeeded.get(lfn, []) if not entry.is_dir else []
    sites = {se.name: se.site for se in api.se_list()}
    meta = sorted(api.meta_get(lfn).values(), key=lambda m: (m.inherited, m.name))
    ancestors = api.ancestors([lfn], depth=10).succeeded.get(lfn, {}) if not entry.is_dir else {}
    descendants = (
        api.descendants([lfn], depth=10).succeeded.get(lfn, {}) if not entry.is_dir else {}
    )
    return {
        "entry": entry,
        "replicas": [(r, sites.get(r.se, "")) for r in replicas],
        "meta": meta,
        "ancestors": sorted(ancestors.items(), key=lambda kv: (kv[1], kv[0])),
        "descendants": sorted(descendants.items(), key=lambda kv: (kv[1], kv[0])),
    }


async def file(request: web.Request) -> web.StreamResponse:
    """A file's details: attributes, replicas with SE and site, metadata, ancestry.

    Raises:
        DFCError: refused (403 page), not found (404 page), a bad LFN (400 page).
    """
    lfn = _lfn(request, "lfn", None)
    details = await call(request, lambda api: _details(api, lfn))
    return render(
        request,
        "file.html",
        {"title": lfn, "path": lfn, "crumbs": _crumbs(lfn), **details},
    )


def _search(api: DFC, path: str, query: str) -> dict[str, Any]:
    parsed = api.parse_query(query)
    count, size = api.find_count(path, query)
    lfns = take(api.find(path, query), 0, SEARCH_LIMIT)
    return {"parsed": parsed, "count": count, "bytes": size, "lfns": lfns}


async def search(request: web.Request) -> web.StreamResponse:
    """Files below a directory matching a ``dfc find`` query (``Run>100 Type=RAW``).

    Raises:
        DFCError: refused (403 page), not found (404 page), a bad query (400 page).
    """
    path = _lfn(request, "path")
    query = request.query.get("q", "").strip()
    results: dict[str, Any] = {}
    if query:
        results = await call(request, lambda api: _search(api, path, query))
    return render(
        request,
        "search.html",
        {"title": "Search", "path": path, "q": query, "limit": SEARCH_LIMIT, **results},
    )


async def usage(request: web.Request) -> web.StreamResponse:
    """Logical files and bytes below a directory, and replicas and bytes per SE.

    Raises:
        DFCError: refused (403 page), not found (404 page), a bad LFN (400 page).
    """
    path = _lfn(request, "path")
    result = await call(request, lambda api: api.du(path))
    top = max((u.bytes for u in result.ses.values()), default=0)
    return render(
        request,
        "usage.html",
        {
            "title": f"Usage of {path}",
            "path": path,
            "crumbs": _crumbs(path),
            "usage": result,
            "top": top,
        },
    )


def add_routes(app: web.Application) -> None:
    """Add the catalogue pages to the portal."""
    app.router.add_get("/browse", browse, name="browse")
    app.router.add_get("/file", file, name="file")
    app.router.add_get("/search", search, name="search")
    app.router.add_get("/usage", usage, name="usage")
