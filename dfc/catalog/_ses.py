"""The storage-element registry part of a catalogue transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, update

from dfc.catalog._base import TxBase
from dfc.catalog.schema import replicas, storage_elements
from dfc.errors import AlreadyExists, InvalidArgument, SENotFound
from dfc.models import SEInfo

if TYPE_CHECKING:
    from dfc.catalog._base import SARow

__all__ = ["SEMixin"]

_SE = storage_elements


def _info(row: SARow) -> SEInfo:
    return SEInfo(
        name=row.name,
        url=row.url,
        site=row.site,
        read=bool(row.read_allowed),
        write=bool(row.write_allowed),
    )


def _check_name(name: str) -> None:
    if not name or name != name.strip() or "/" in name or len(name) > 64:
        raise InvalidArgument(f"invalid storage element name {name!r}")


class SEMixin(TxBase):
    """Register, change and remove storage elements."""

    def _se_row(self, name: str) -> SARow:
        row = self._conn.execute(select(_SE).where(_SE.c.name == name)).first()
        if row is None:
            raise SENotFound(f"{name}: no such storage element")
        return row

    def add_se(self, se: SEInfo) -> SEInfo:
        """Register a storage element.

        Registering the same name with the same URL again succeeds and returns
        the registered SE unchanged.

        Raises:
            InvalidArgument: the name or URL is empty or malformed.
            AlreadyExists: an SE of that name exists with another URL.
        """
        _check_name(se.name)
        if not se.url:
            raise InvalidArgument(f"{se.name}: storage element URL is empty")
        row = self._conn.execute(select(_SE).where(_SE.c.name == se.name)).first()
        if row is not None:
            if row.url != se.url:
                raise AlreadyExists(f"{se.name}: storage element exists already with URL {row.url}")
            return _info(row)
        self._conn.execute(
            insert(_SE).values(
                name=se.name,
                url=se.url,
                site=se.site,
                read_allowed=se.read,
                write_allowed=se.write,
            )
        )
        return se

    def get_se(self, name: str) -> SEInfo:
        """Return the storage element called ``name``.

        Raises:
            SENotFound: no SE has that name.
        """
        return _info(self._se_row(name))

    def list_ses(self) -> list[SEInfo]:
        """Return every registered storage element, sorted by name."""
        rows = self._conn.execute(select(_SE)).all()
        return sorted((_info(r) for r in rows), key=lambda s: s.name)

    def update_se(
        self,
        name: str,
        *,
        url: str | None = None,
        site: str | None = None,
        read: bool | None = None,
        write: bool | None = None,
    ) -> SEInfo:
        """Change attributes of a storage element; ``None`` leaves one as it is.

        Raises:
            SENotFound: no SE has that name.
            InvalidArgument: the new URL is empty.
        """
        self._se_row(name)
        changes: dict[str, Any] = {}
        if url is not None:
            if not url:
                raise InvalidArgument(f"{name}: storage element URL is empty")
            changes["url"] = url
        if site is not None:
            changes["site"] = site
        if read is not None:
            changes["read_allowed"] = read
        if write is not None:
            changes["write_allowed"] = write
        if changes:
            self._conn.execute(update(_SE).where(_SE.c.name == name).values(**changes))
        return self.get_se(name)

    def se_replica_count(self, name: str) -> int:
        """Return how many replicas the storage element holds.

        Raises:
            SENotFound: no SE has that name.
        """
        se_id = self._se_row(name).id
        stmt = select(func.count()).select_from(replicas).where(replicas.c.se_id == se_id)
        return int(self._conn.execute(stmt).scalar_one())

    def remove_se(self, name: str) -> None:
        """Unregister a storage element that holds no replicas.

        Raises:
            SENotFound: no SE has that name.
            InvalidArgument: replicas still point at it.
        """
        count = self.se_replica_count(name)
        if count:
            raise InvalidArgument(f"SE {name} still holds {count} replicas")
        self._conn.execute(delete(_SE).where(_SE.c.name == name))
