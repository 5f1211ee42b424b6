"""The catalogue tables, as SQLAlchemy Core metadata.

This module mirrors what the Alembic migrations create; the migrations are the
source of truth for the database, this module is what the code queries against.
Paths and names use the ``C`` collation on PostgreSQL so that ordering is by
code point on both backends (SQLite compares text bytewise).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
)

from dfc.catalog._values import PATH_PREFIX, from_db_time, to_db_time

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect
    from sqlalchemy.types import TypeEngine

__all__ = [
    "ID",
    "PATH",
    "PATH_PREFIX",
    "UTCDateTime",
    "directories",
    "files",
    "from_db_time",
    "metadata",
    "replicas",
    "storage_elements",
    "to_db_time",
]

#: Primary keys: 64-bit on PostgreSQL, the rowid alias on SQLite.
ID = BigInteger().with_variant(Integer(), "sqlite")
#: Paths and names: compared and ordered by code point on both backends.
PATH = Text().with_variant(Text(collation="C"), "postgresql")
NAME = String(255).with_variant(String(255, collation="C"), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (integer microseconds on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """``BIGINT`` on SQLite, ``timestamptz`` elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(self.impl_instance)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """Store as :func:`to_db_time` does.

        Raises:
            ValueError: ``value`` is naive.
        """
        return None if value is None else to_db_time(value, dialect.name)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Read back as an aware UTC datetime."""
        return None if value is None else from_db_time(value)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

directories = Table(
    "directories",
    metadata,
    Column("id", ID, primary_key=True),
    Column("path", PATH, nullable=False),
    Column("parent_id", ID, ForeignKey("directories.id"), nullable=True),
    Column("owner", NAME, nullable=False),
    Column("grp", NAME, nullable=False),
    Column("mode", Integer, nullable=False),
    Column("ctime", UTCDateTime, nullable=False),
    Column("mtime", UTCDateTime, nullable=False),
    # SQLite: B-trees over whole paths.
    UniqueConstraint("path").ddl_if(dialect="sqlite"),
    Index(None, "parent_id", "path").ddl_if(dialect="sqlite"),
    # PostgreSQL (migration 0006): a path is unique by the hash-index exclusion
    # constraint ex_directories_path, declared in the migration only (its construct
    # lives in SQLAlchemy's PostgreSQL dialect, too costly an import for every
    # command); subtree ranges use the B-tree on the path's first characters.
    Index(None, "parent_id").ddl_if(dialect="postgresql"),
)
Index("ix_directories_path_prefix", func.substr(directories.c.path, 1, PATH_PREFIX)).ddl_if(
    dialect="postgresql"
)

files = Table(
    "files",
    metadata,
    Column("id", ID, primary_key=True),
    Column("dir_id", ID, ForeignKey("directories.id"), nullable=False),
    Column("name", NAME, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("adler32", String(8), nullable=False),
    Column("xxh3", String(16), nullable=True),
    Column("guid", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("owner", NAME, nullable=False),
    Column("grp", NAME, nullable=False),
    Column("mode", Integer, nullable=False),
    Column("ctime", UTCDateTime, nullable=False),
    Column("mtime", UTCDateTime, nullable=False),
    UniqueConstraint("dir_id", "name"),
    Index(None, "guid"),
)

storage_elements = Table(
    "storage_elements",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("site", String(64), nullable=False),
    Column("read_allowed", Boolean, nullable=False),
    Column("write_allowed", Boolean, nullable=False),
)

replicas = Table(
    "replicas",
    metadata,
    Column(
        "file_id",
        ID,
        ForeignKey("files.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column(
        "se_id", Integer, ForeignKey("storage_elements.id"), primary_key=True, autoincrement=False
    ),
    Column("path", PATH, nullable=False),
    Column("status", String(16), nullable=False),
    Column("ctime", UTCDateTime, nullable=False),
    Index(None, "se_id"),
    # A file's replicas are stored together in the key's B-tree (see migration 0005).
    sqlite_with_rowid=False,
)
