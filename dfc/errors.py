"""The dfc exception hierarchy.

Every error dfc raises on purpose is a :class:`DFCError`. Each class carries an
``errno`` (which becomes the CLI exit status, the FUSE return value and, mapped,
the HTTP status) and a ``retryable`` flag (whether trying the same operation again
later may succeed). Classes also derive from the matching builtin exception, so
``except FileNotFoundError`` keeps working for callers that know only Python.

Tree::

    DFCError (EIO)
    ├── InvalidArgument (EINVAL, ValueError)
    │   ├── InvalidLFN
    │   ├── InvalidQuery
    │   └── ConfigError
    ├── NotFound (ENOENT, FileNotFoundError)
    │   ├── LFNNotFound
    │   ├── SENotFound
    │   ├── ReplicaNotFound
    │   └── PFNNotFound
    ├── AlreadyExists (EEXIST, FileExistsError)
    │   ├── LFNExists
    │   └── ReplicaExists
    ├── MetadataMismatch (EEXIST): registered again with another size/checksum/GUID
    ├── MetadataConflict (EEXIST): a directory field set on two levels of one branch
    ├── NotADirectory (ENOTDIR, NotADirectoryError)
    ├── IsADirectory (EISDIR, IsADirectoryError)
    ├── DirectoryNotEmpty (ENOTEMPTY, OSError)
    ├── PermissionDenied (EACCES, PermissionError)
    │   └── SEBanned
    ├── ChecksumMismatch (EBADMSG)
    ├── SizeMismatch (EBADMSG)
    ├── LastReplica (EPERM): removing the sole replica of a file
    ├── NoReplicaAvailable (ENODATA)
    ├── NoSpace (ENOSPC, OSError)
    ├── StorageError (EIO): a storage operation failed for a non-specific reason
    ├── SETransient (EAGAIN, retryable)
    │   ├── SETimeout (ETIMEDOUT)
    │   └── SEUnavailable (ECONNREFUSED)
    ├── CatalogError (EIO): the database failed
    │   └── CatalogUnavailable (retryable)
    └── OptionalDependencyMissing (ENOSYS, ImportError)
"""

from __future__ import annotations

import errno as _errno
from typing import ClassVar

__all__ = [
    "AlreadyExists",
    "CatalogError",
    "CatalogUnavailable",
    "ChecksumMismatch",
    "ConfigError",
    "DFCError",
    "DirectoryNotEmpty",
    "InvalidArgument",
    "InvalidLFN",
    "InvalidQuery",
    "IsADirectory",
    "LFNExists",
    "LFNNotFound",
    "LastReplica",
    "MetadataConflict",
    "MetadataMismatch",
    "NoReplicaAvailable",
    "NoSpace",
    "NotADirectory",
    "NotFound",
    "OptionalDependencyMissing",
    "PFNNotFound",
    "PermissionDenied",
    "ReplicaExists",
    "ReplicaNotFound",
    "SEBanned",
    "SENotFound",
    "SETimeout",
    "SETransient",
    "SEUnavailable",
    "SizeMismatch",
    "StorageError",
]


class DFCError(Exception):
    """Root of every error raised by dfc on purpose.

    Attributes:
        errno: POSIX error number describing the failure class.
        retryable: whether the same operation may succeed if tried again later.
    """

    errno: int = _errno.EIO
    retryable: ClassVar[bool] = False

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message or self.__class__.__name__

    @property
    def kind(self) -> str:
        """The class name, a stable machine-readable error kind."""
        return type(self).__name__


class InvalidArgument(DFCError, ValueError):
    """A value given by the caller is malformed."""

    errno = _errno.EINVAL


class InvalidLFN(InvalidArgument):
    """A logical file name breaks the LFN rules."""


class InvalidQuery(InvalidArgument):
    """A metadata query is malformed or names an unknown field."""


class ConfigError(InvalidArgument):
    """The configuration file or an environment setting is invalid."""


class NotFound(DFCError, FileNotFoundError):
    """Something named does not exist."""

    errno = _errno.ENOENT


class LFNNotFound(NotFound):
    """No file or directory with this LFN is registered."""


class SENotFound(NotFound):
    """No storage element with this name is registered."""


class ReplicaNotFound(NotFound):
    """The file has no replica at this storage element."""


class PFNNotFound(NotFound):
    """The physical file does not exist on the storage element."""


class AlreadyExists(DFCError, FileExistsError):
    """Something to be created exists already."""

    errno = _errno.EEXIST


class LFNExists(AlreadyExists):
    """The LFN is registered already."""


class ReplicaExists(AlreadyExists):
    """The file has a replica at this storage element already."""


class MetadataMismatch(AlreadyExists):
    """The LFN is registered with another size, checksum or GUID."""


class NotADirectory(DFCError, NotADirectoryError):
    """A directory was expected."""

    errno = _errno.ENOTDIR


class IsADirectory(DFCError, IsADirectoryError):
    """A file was expected but the path is a directory."""

    errno = _errno.EISDIR


class DirectoryNotEmpty(DFCError, OSError):
    """A directory to remove still has entries."""

    errno = _errno.ENOTEMPTY


class PermissionDenied(DFCError, PermissionError):
    """The caller may not do this."""

    errno = _errno.EACCES


class SEBanned(PermissionDenied):
    """The storage element is banned for this kind of access (read or write)."""


class ChecksumMismatch(DFCError):
    """Bytes read or written do not have the expected checksum."""

    errno = _errno.EBADMSG


class SizeMismatch(DFCError):
    """Bytes read or written do not have the expected size."""

    errno = _errno.EBADMSG


class LastReplica(DFCError):
    """Removing this replica would leave the file with none."""

    errno = _errno.EPERM


class NoReplicaAvailable(DFCError):
    """No usable replica of the file could be read."""

    errno = _errno.ENODATA


class NoSpace(DFCError, OSError):
    """The storage element is full or over quota."""

    errno = _errno.ENOSPC


class StorageError(DFCError):
    """A storage operation failed for a reason that has no finer class."""


class SETransient(DFCError):
    """A storage element failed in a way that may pass: try again later."""

    errno = _errno.EAGAIN
    retryable = True


class SETimeout(SETransient):
    """A storage operation timed out."""

    errno = _errno.ETIMEDOUT


class SEUnavailable(SETransient):
    """The storage element cannot be reached (connection refused, server down)."""

    errno = _errno.ECONNREFUSED


class CatalogError(DFCError):
    """The catalogue database failed."""


class CatalogUnavailable(CatalogError):
    """The catalogue database cannot be reached or is locked: try again later."""

    retryable = True


class OptionalDependencyMissing(DFCError, ImportError):
    """A backend needs an optional extra that is not installed."""

    errno = _errno.ENOSYS


class MetadataConflict(AlreadyExists):
    """A metadata field would be set twice on one branch, or at two levels.

    A directory field is inherited by everything below the directory that sets
    it, so it may be set on at most one directory of any root-to-leaf branch;
    and a field name is either a directory field or a file field, never both.
    """
