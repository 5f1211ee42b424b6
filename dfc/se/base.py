"""The storage-element interface: small, async, with optional capabilities.

A storage element (SE) knows *paths* on itself (absolute, ``/``-separated,
relative to its base URL) and bytes. It knows nothing of LFNs or the catalogue.

Every method raises only :class:`~dfc.errors.DFCError` subclasses:

- :class:`~dfc.errors.PFNNotFound` for a missing path (or missing parent on read);
- :class:`~dfc.errors.PermissionDenied` when the server refuses access;
- :class:`~dfc.errors.AlreadyExists` when a path exists and may not be replaced;
- :class:`~dfc.errors.NoSpace` when the SE is full;
- :class:`~dfc.errors.SETimeout` / :class:`~dfc.errors.SEUnavailable` (retryable)
  when the server is slow or down;
- :class:`~dfc.errors.StorageError` otherwise.

Optional capabilities are separate protocols, probed with ``isinstance``:
:class:`SupportsChecksum` (server-side checksums), :class:`SupportsCopy`
(server-side copy within one SE).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator

    from fsspec.callbacks import Callback

    from dfc.models import FileInfo

__all__ = ["StorageElement", "SupportsChecksum", "SupportsCopy"]


@runtime_checkable
class StorageElement(Protocol):
    """A storage endpoint holding files under a base URL."""

    name: str
    url: str

    def pfn(self, path: str) -> str:
        """Return the full URL of ``path`` on this SE (credentials never included)."""
        ...

    async def stat(self, path: str) -> FileInfo:
        """Return size and type of ``path``.

        Raises:
            PFNNotFound: nothing exists at ``path``.
        """
        ...

    async def ls(self, path: str) -> list[FileInfo]:
        """List the entries of directory ``path`` (full paths in ``FileInfo.path``).

        Raises:
            PFNNotFound: the directory does not exist.
        """
        ...

    def walk(self, path: str) -> AsyncIterator[FileInfo]:
        """Yield every file (not directory) below ``path``, recursively.

        A missing ``path`` yields nothing.
        """
        ...

    def open_read(
        self, path: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream the bytes of ``path`` from ``offset``, ``length`` bytes or to the end.

        Raises:
            PFNNotFound: the file does not exist.
            IsADirectory: ``path`` is a directory.
        """
        ...

    async def read_range(self, path: str, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes of ``path`` starting at ``offset``.

        Raises:
            PFNNotFound: the file does not exist.
        """
        ...

    async def put(
        self,
        src: AsyncIterable[bytes],
        path: str,
        *,
        size: int | None = None,
        overwrite: bool = False,
        callback: Callback | None = None,
    ) -> FileInfo:
        """Write the stream ``src`` to ``path``, creating missing parent directories.

        The file appears at ``path`` only when complete: a failed or cancelled
        put leaves nothing behind.

        Raises:
            AlreadyExists: ``path`` exists and ``overwrite`` is false.
            SizeMismatch: ``size`` was given and the stream had another length.
        """
        ...

    async def rename(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        """Move ``src`` to ``dst`` on this SE (creating ``dst``'s parents).

        Raises:
            PFNNotFound: ``src`` does not exist.
            AlreadyExists: ``dst`` exists and ``overwrite`` is false.
        """
        ...

    async def rm(self, path: str) -> None:
        """Remove the file ``path``.

        Raises:
            PFNNotFound: the file does not exist.
        """
        ...

    async def mkdir(self, path: str) -> None:
        """Create directory ``path`` and its parents; an existing one is fine.

        Object stores without directories treat this as a no-op.
        """
        ...

    async def rmdir(self, path: str) -> None:
        """Remove the empty directory ``path`` (no-op on object stores).

        Raises:
            PFNNotFound: the directory does not exist.
            DirectoryNotEmpty: it still holds entries.
        """
        ...

    async def close(self) -> None:
        """Release connections and sessions."""
        ...


@runtime_checkable
class SupportsChecksum(Protocol):
    """An SE that can checksum its files (XRootD ``query checksum``, a local disk, ...).

    Attributes:
        remote_checksum: the server computes checksums without the bytes being
            read through this process (XRootD, S3). dfc then verifies every
            upload against it; when false (a local disk) verifying would only
            re-read what was just written, so uploads skip it and only
            ``dfc check --checksum`` uses :meth:`checksum`.
    """

    remote_checksum: bool

    async def checksum(self, path: str, algo: str) -> str | None:
        """Return the server's ``algo`` checksum of ``path`` (lower-case hex).

        Returns ``None`` when the server does not offer ``algo`` for this file.

        Raises:
            PFNNotFound: the file does not exist.
        """
        ...


@runtime_checkable
class SupportsCopy(Protocol):
    """An SE that copies a file server-side (S3 CopyObject, WebDAV COPY)."""

    async def copy(self, src: str, dst: str) -> None:
        """Copy ``src`` to ``dst`` within this SE.

        Raises:
            PFNNotFound: ``src`` does not exist.
        """
        ...
