"""Storage elements opened for the duration of one operation."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, TypeVar

from dfc.errors import DFCError, NotFound, SEBanned, SENotFound

if TYPE_CHECKING:
    from collections.abc import Awaitable, Mapping

    from dfc.config import Settings
    from dfc.models import SEInfo
    from dfc.se import StorageElement

__all__ = ["Storage"]

T = TypeVar("T")


class Storage:
    """Opens storage elements on demand, on the running event loop, and closes them.

    SE clients hold connections bound to an event loop, so one ``Storage`` lives
    inside one ``asyncio.run``.
    """

    def __init__(self, settings: Settings, ses: Mapping[str, SEInfo]) -> None:
        self._settings = settings
        self.infos = dict(ses)
        self._open: dict[str, StorageElement] = {}

    def info(self, name: str) -> SEInfo:
        """Return the registry entry of SE ``name``.

        Raises:
            SENotFound: no such SE.
        """
        try:
            return self.infos[name]
        except KeyError:
            known = ", ".join(sorted(self.infos)) or "none registered; use `dfc se add`"
            raise SENotFound(f"unknown storage element {name!r} (known: {known})") from None

    def writable(self, name: str) -> SEInfo:
        """Return SE ``name`` if writing to it is allowed.

        Raises:
            SENotFound: no such SE.
            SEBanned: the SE is banned for writing.
        """
        info = self.info(name)
        if not info.write:
            raise SEBanned(f"storage element {name} is banned for writing")
        return info

    def get(self, name: str) -> StorageElement:
        """Return an open client for SE ``name``.

        Raises:
            SENotFound: no such SE.
            OptionalDependencyMissing: its protocol needs an extra that is missing.
        """
        se = self._open.get(name)
        if se is None:
            from dfc.se import open_se  # fsspec and friends load on first storage use

            info = self.info(name)
            se = open_se(info, self._settings.se_options.get(name))
            self._open[name] = se
        return se

    async def remove_quietly(self, name: str, path: str) -> None:
        """Remove ``path`` from SE ``name``; a file already gone is fine.

        Raises:
            DFCError: the SE failed for another reason.
        """
        with contextlib.suppress(NotFound):
            await self.get(name).rm(path)

    async def register_or_remove(self, name: str, path: str, register: Awaitable[T]) -> T:
        """Await ``register`` (the catalogue entry of ``path`` on SE ``name``).

        If it fails, the copy is removed. A cancelled caller does not cut the
        registration short: it goes on in its thread and is waited for, so that
        the SE ends up holding exactly what the catalogue says.

        Raises:
            DFCError: the registration failed (the copy was removed).
            asyncio.CancelledError: the caller was cancelled (once the
                registration had ended).
        """
        task = asyncio.ensure_future(register)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            try:
                await task
            except DFCError:
                await self.remove_quietly(name, path)
            raise
        except DFCError:
            await self.remove_quietly(name, path)
            raise

    async def aclose(self) -> None:
        """Close every client opened so far."""
        opened, self._open = self._open, {}
        for se in opened.values():
            await se.close()
