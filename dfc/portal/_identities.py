"""One :class:`dfc.DFC` per caller, for the portal mounted in the catalogue server."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp import web

    from dfc.api import DFC
    from dfc.auth.identity import Identity

__all__ = ["PerIdentity"]


class PerIdentity:
    """Keeps the API objects of the most recent callers (each owns a connection pool).

    Args:
        make: builds the API object acting for an identity.
        identity_of: the authenticated identity of a request.
        size: how many callers' objects to keep; the oldest is closed beyond that.
    """

    def __init__(
        self,
        make: Callable[[Identity], DFC],
        identity_of: Callable[[web.Request], Identity],
        *,
        size: int = 32,
    ) -> None:
        self._make = make
        self._identity_of = identity_of
        self._size = size
        self._apis: OrderedDict[str, DFC] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, request: web.Request) -> DFC:
        """The API object acting for the caller of ``request``."""
        identity = self._identity_of(request)
        # Identities are not always hashable (a token's scopes hold a mapping); their
        # repr names every field, so it tells callers apart just as well.
        key = repr(identity)
        with self._lock:
            api = self._apis.get(key)
            if api is not None:
                self._apis.move_to_end(key)
                return api
            api = self._make(identity)
            self._apis[key] = api
            evicted = self._apis.popitem(last=False)[1] if len(self._apis) > self._size else None
        if evicted is not None:
            evicted.close()
        return api

    def close(self) -> None:
        """Close every kept API object."""
        with self._lock:
            apis = list(self._apis.values())
            self._apis.clear()
        for api in apis:
            api.close()
