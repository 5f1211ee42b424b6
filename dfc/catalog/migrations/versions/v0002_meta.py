"""Metadata, datasets, ancestry and storage usage.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01

- ``meta_fields``: declared fields (name, level ``dir``/``file``, type).
- ``dir_meta_<type>`` / ``file_meta_<type>`` for type in int, float, string,
  date: one typed value table per level and type (never a table per field),
  clustered on the owner and indexed on ``(field_id, value)`` for queries.
- ``dir_usage``: per-directory, non-recursive counters of logical files/bytes
  (``se_id`` 0) and of replicas/bytes per SE, kept in step by every change and
  never negative (CHECK).
- ``datasets`` and ``dataset_files`` (frozen members); ``ancestry`` (direct
  provenance links; depths are computed by recursive queries).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from dfc.catalog.schema import ID, NAME, PATH, UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_TYPES: dict[str, Any] = {
    "int": sa.BigInteger(),
    "float": sa.Float(precision=53),
    "string": PATH,
    "date": UTCDateTime(),
}
_LEVELS = {"dir": ("dir_id", "directories"), "file": ("file_id", "files")}


def _value_tables() -> None:
    for level, (owner, parent) in _LEVELS.items():
        for type_name, type_ in _TYPES.items():
            table = f"{level}_meta_{type_name}"
            op.create_table(
                table,
                sa.Column(owner, ID, nullable=False),
                sa.Column("field_id", sa.Integer, nullable=False),
                sa.Column("value", type_, nullable=False),
                sa.PrimaryKeyConstraint(owner, "field_id", name=f"pk_{table}"),
                sa.ForeignKeyConstraint(
                    [owner], [f"{parent}.id"], name=f"fk_{table}_{owner}", ondelete="CASCADE"
                ),
                sa.ForeignKeyConstraint(
                    ["field_id"],
                    ["meta_fields.id"],
                    name=f"fk_{table}_field_id",
                    ondelete="CASCADE",
                ),
                sqlite_with_rowid=False,
            )
            op.create_index(f"ix_{table}_field_id_value", table, ["field_id", "value", owner])


def upgrade() -> None:
    op.create_table(
        "meta_fields",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", NAME, nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("ctime", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_meta_fields"),
        sa.UniqueConstraint("name", name="uq_meta_fields_name"),
        sa.CheckConstraint("level IN ('dir', 'file')", name="ck_meta_fields_level"),
        sa.CheckConstraint(
            "type IN ('int', 'float', 'string', 'date')", name="ck_meta_fields_type"
        ),
    )
    _value_tables()
    op.create_table(
        "dir_usage",
        sa.Column("dir_id", ID, nullable=False),
        sa.Column("se_id", sa.Integer, nullable=False),
        sa.Column("files", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("dir_id", "se_id", name="pk_dir_usage"),
        sa.ForeignKeyConstraint(
            ["dir_id"], ["directories.id"], name="fk_dir_usage_dir_id", ondelete="CASCADE"
        ),
        sa.CheckConstraint("files >= 0 AND bytes >= 0", name="ck_dir_usage_not_negative"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "datasets",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", PATH, nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", NAME, nullable=False),
        sa.Column("grp", NAME, nullable=False),
        sa.Column("files", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(32), nullable=False),
        sa.Column("annotation", sa.Text, nullable=True),
        sa.Column("ctime", UTCDateTime, nullable=False),
        sa.Column("mtime", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_datasets"),
        sa.UniqueConstraint("name", name="uq_datasets_name"),
    )
    op.create_table(
        "dataset_files",
        sa.Column("dataset_id", ID, nullable=False),
        sa.Column("file_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "file_id", name="pk_dataset_files"),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name="fk_dataset_files_dataset_id",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_dataset_files_file_id", ondelete="CASCADE"
        ),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_dataset_files_file_id", "dataset_files", ["file_id"])
    op.create_table(
        "ancestry",
        sa.Column("file_id", ID, nullable=False),
        sa.Column("ancestor_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("file_id", "ancestor_id", name="pk_ancestry"),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_ancestry_file_id", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["ancestor_id"], ["files.id"], name="fk_ancestry_ancestor_id", ondelete="CASCADE"
        ),
        sa.CheckConstraint("file_id <> ancestor_id", name="ck_ancestry_not_self"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_ancestry_ancestor_id", "ancestry", ["ancestor_id", "file_id"])
    # Counters of a catalogue that already holds files: one recount.
    op.execute(
        "INSERT INTO dir_usage (dir_id, se_id, files, bytes) "
        "SELECT dir_id, 0, COUNT(*), SUM(size) FROM files GROUP BY dir_id"
    )
    op.execute(
        "INSERT INTO dir_usage (dir_id, se_id, files, bytes) "
        "SELECT f.dir_id, r.se_id, COUNT(*), SUM(f.size) FROM replicas r "
        "JOIN files f ON f.id = r.file_id GROUP BY f.dir_id, r.se_id"
    )


def downgrade() -> None:
    op.drop_table("ancestry")
    op.drop_table("dataset_files")
    op.drop_table("datasets")
    op.drop_table("dir_usage")
    for level in _LEVELS:
        for type_name in _TYPES:
            op.drop_table(f"{level}_meta_{type_name}")
    op.drop_table("meta_fields")
