"""The web portal: the catalogue, storage elements, transfers and jobs in a browser.

Server-side HTML (Jinja2 with autoescaping) over the public API :class:`dfc.DFC`,
so a page shows exactly what the API lets its caller see; a refused request is a 403
page. Every asset is served by the portal itself; pages work without JavaScript,
which only adds live refresh and small SVG plots.

:func:`create_portal` builds the aiohttp application; ``dfc web`` serves it for the
embedded catalogue, and the catalogue server mounts it under ``/portal/``.
"""

from __future__ import annotations

from dfc.portal._app import API_FOR, ApiFor, create_portal, serve
from dfc.portal._identities import PerIdentity

__all__ = ["API_FOR", "ApiFor", "PerIdentity", "create_portal", "serve"]
