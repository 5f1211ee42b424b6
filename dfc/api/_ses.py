"""Storage-element registry operations of :class:`dfc.DFC`: add, list, ban, test, remove."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from dfc import _sync
from dfc.api._storage import Storage
from dfc.errors import InvalidArgument
from dfc.models import SEInfo

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from dfc.api._guarded import ApiTx
    from dfc.api._results import SEProbe
    from dfc.config import Settings

__all__ = ["SEMixin"]


class SEMixin:
    """The storage-element operations of :class:`dfc.DFC` (``dfc se ...``)."""

    settings: Settings

    if TYPE_CHECKING:
        # Authorised transactions (dfc.api._authz), provided by DFC.
        def _tx(self) -> AbstractContextManager[ApiTx]: ...

        def _reader(self) -> AbstractContextManager[ApiTx]: ...

    def se_add(self, name: str, url: str, *, site: str = "") -> SEInfo:
        """Register storage element ``name`` at fsspec base ``url``.

        The SE's base directory is created if missing.

        Raises:
            InvalidArgument: the name or URL is malformed.
            AlreadyExists: the name is registered with another URL.
            DFCError: the SE's base directory cannot be created.
        """
        info = SEInfo(name=_se_name(name), url=_se_url(url), site=site)

        # The SE's base directory is created once, here: afterwards a missing
        # root means an unmounted disk, and the SE refuses to work.
        async def prepare() -> None:
            storage = Storage(self.settings, {info.name: info})
            try:
                await storage.get(info.name).mkdir("/")
            finally:
                await storage.aclose()

        _sync.run(prepare())
        with self._tx() as tx:
            return tx.add_se(info)

    def se_list(self) -> list[SEInfo]:
        """Return every registered storage element, sorted by name."""
        with self._reader() as tx:
            return tx.list_ses()

    def se_get(self, name: str) -> SEInfo:
        """Return storage element ``name``.

        Raises:
            SENotFound: no such SE.
        """
        with self._reader() as tx:
            return tx.get_se(name)

    def se_update(
        self, name: str, *, read: bool | None = None, write: bool | None = None
    ) -> SEInfo:
        """Allow or ban reading and writing at storage element ``name``.

        Raises:
            SENotFound: no such SE.
        """
        with self._tx() as tx:
            return tx.update_se(name, read=read, write=write)

    def se_ban(self, name: str, *, read: bool = True, write: bool = True) -> SEInfo:
        """Ban reading and/or writing at storage element ``name``.

        Banned SEs are skipped by get, put and replication with a message.

        Raises:
            SENotFound: no such SE.
        """
        return self.se_update(name, read=False if read else None, write=False if write else None)

    def se_allow(self, name: str, *, read: bool = True, write: bool = True) -> SEInfo:
        """Lift a ban on reading and/or writing at storage element ``name``.

        Raises:
            SENotFound: no such SE.
        """
        return self.se_update(name, read=True if read else None, write=True if write else None)

    def se_test(self, name: str, *, size: int = 1 << 20) -> SEProbe:
        """Probe storage element ``name``: write, read back, checksum and remove a file.

        Failures are reported in the result, not raised.

        Raises:
            SENotFound: no such SE.
            OptionalDependencyMissing: its protocol needs a missing extra.
        """
        from dfc.api._probe import probe

        info = self.se_get(name)

        async def run() -> SEProbe:
            storage = Storage(self.settings, {name: info})
            try:
                return await probe(storage, name, size)
            finally:
                await storage.aclose()

        return _sync.run(run())

    def se_remove(self, name: str) -> None:
        """Unregister storage element ``name``.

        Raises:
            SENotFound: no such SE.
            InvalidArgument: replicas still point at it.
        """
        with self._tx() as tx:
            tx.remove_se(name)


def _se_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
        raise InvalidArgument(
            f"invalid SE name {name!r}: use letters, digits, '-', '_' and '.' (at most 64)"
        )
    return name


def _se_url(url: str) -> str:
    if "://" not in url:
        raise InvalidArgument(f"invalid SE URL {url!r}: expected a URL such as file:///data/se")
    scheme, rest = url.split("://", 1)
    if scheme == "file":
        if not rest.startswith("/"):
            raise InvalidArgument(f"invalid SE URL {url!r}: file:// needs an absolute path")
        return "file://" + os.path.normpath(rest).rstrip("/") if rest != "/" else url
    return url.rstrip("/")
