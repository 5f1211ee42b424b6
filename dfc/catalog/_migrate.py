"""Run the Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = ["stamp", "upgrade"]


def _config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "dfc.catalog:migrations")
    cfg.attributes["connection"] = conn
    return cfg


def upgrade(conn: Connection, revision: str = "head") -> None:
    """Upgrade the schema on ``conn`` to ``revision`` (the caller commits)."""
    command.upgrade(_config(conn), revision)


def stamp(conn: Connection, revision: str) -> None:
    """Record ``revision`` as the schema version without running migrations."""
    command.stamp(_config(conn), revision, purge=True)
