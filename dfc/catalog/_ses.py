"""The storage-element registry part of a catalogue transaction.

Driver-level SQL (see :mod:`dfc.catalog._base`): every command that touches
storage reads the registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dfc.catalog._base import TxBase
from dfc.errors import AlreadyExists, InvalidArgument, SENotFound
from dfc.models import SEInfo

if TYPE_CHECKING:
    from dfc.catalog._base import DBRow

__all__ = ["SEMixin"]

#: The columns that :func:`_info` reads (the id first, which it skips).
_COLS = "id, name, url, site, read_allowed, write_allowed"


def _info(row: DBRow) -> SEInfo:
    _id, name, url, site, read, write = row
    return SEInfo(name=name, url=url, site=site, read=bool(read), write=bool(write))


def _check_name(name: str) -> None:
    if not name or name != name.strip() or "/" in name or len(name) > 64:
        raise InvalidArgument(f"invalid storage element name {name!r}")


class SEMixin(TxBase):
    """Register, change and remove storage elements."""

    def _find_se(self, name: str) -> DBRow | None:
        rows = self._fetchall(f"SELECT {_COLS} FROM storage_elements WHERE name = ?", [name])
        return rows[0] if rows else None

    def _se_row(self, name: str) -> DBRow:
        row = self._find_se(name)
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
        row = self._find_se(se.name)
        if row is not None:
            found = _info(row)
            if found.url != se.url:
                raise AlreadyExists(
                    f"{se.name}: storage element exists already with URL {found.url}"
                )
            return found
        self._exec(
            "INSERT INTO storage_elements (name, url, site, read_allowed, write_allowed) "
            "VALUES (?, ?, ?, ?, ?)",
            [se.name, se.url, se.site, bool(se.read), bool(se.write)],
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
        rows = self._fetchall(f"SELECT {_COLS} FROM storage_elements")
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
            assign = ", ".join(f"{column} = ?" for column in changes)
            self._exec(
                f"UPDATE storage_elements SET {assign} WHERE name = ?", [*changes.values(), name]
            )
        return self.get_se(name)

    def se_replica_count(self, name: str) -> int:
        """Return how many replicas the storage element holds.

        Raises:
            SENotFound: no SE has that name.
        """
        se_id = self._se_row(name)[0]
        ((count,),) = self._fetchall("SELECT count(*) FROM replicas WHERE se_id = ?", [se_id])
        return int(count)

    def remove_se(self, name: str) -> None:
        """Unregister a storage element that holds no replicas.

        Raises:
            SENotFound: no SE has that name.
            InvalidArgument: replicas still point at it.
        """
        count = self.se_replica_count(name)
        if count:
            raise InvalidArgument(f"SE {name} still holds {count} replicas")
        self._exec("DELETE FROM storage_elements WHERE name = ?", [name])
