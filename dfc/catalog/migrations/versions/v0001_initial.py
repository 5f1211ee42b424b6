"""The first schema: directories, files, storage elements, replicas.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from dfc.catalog.schema import ID, NAME, PATH, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    directories = op.create_table(
        "directories",
        sa.Column("id", ID, primary_key=True),
        sa.Column("path", PATH, nullable=False),
        sa.Column("parent_id", ID, nullable=True),
        sa.Column("owner", NAME, nullable=False),
        sa.Column("grp", NAME, nullable=False),
        sa.Column("mode", sa.Integer, nullable=False),
        sa.Column("ctime", UTCDateTime, nullable=False),
        sa.Column("mtime", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_directories"),
        sa.UniqueConstraint("path", name="uq_directories_path"),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["directories.id"], name="fk_directories_parent_id_directories"
        ),
    )
    op.create_index("ix_directories_parent_id_path", "directories", ["parent_id", "path"])
    op.create_table(
        "files",
        sa.Column("id", ID, primary_key=True),
        sa.Column("dir_id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("adler32", sa.String(8), nullable=False),
        sa.Column("xxh3", sa.String(16), nullable=True),
        sa.Column("guid", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", NAME, nullable=False),
        sa.Column("grp", NAME, nullable=False),
        sa.Column("mode", sa.Integer, nullable=False),
        sa.Column("ctime", UTCDateTime, nullable=False),
        sa.Column("mtime", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_files"),
        sa.UniqueConstraint("dir_id", "name", name="uq_files_dir_id_name"),
        sa.ForeignKeyConstraint(["dir_id"], ["directories.id"], name="fk_files_dir_id_directories"),
    )
    op.create_index("ix_files_guid", "files", ["guid"])
    op.create_table(
        "storage_elements",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("read_allowed", sa.Boolean, nullable=False),
        sa.Column("write_allowed", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_storage_elements"),
        sa.UniqueConstraint("name", name="uq_storage_elements_name"),
    )
    op.create_table(
        "replicas",
        sa.Column("id", ID, primary_key=True),
        sa.Column("file_id", ID, nullable=False),
        sa.Column("se_id", sa.Integer, nullable=False),
        sa.Column("path", PATH, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ctime", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_replicas"),
        sa.UniqueConstraint("file_id", "se_id", name="uq_replicas_file_id_se_id"),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_replicas_file_id_files", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["se_id"], ["storage_elements.id"], name="fk_replicas_se_id_storage_elements"
        ),
    )
    op.create_index("ix_replicas_se_id", "replicas", ["se_id"])
    now = datetime.now(UTC)
    op.bulk_insert(
        directories,
        [
            {
                "path": "/",
                "parent_id": None,
                "owner": "root",
                "grp": "root",
                "mode": 0o775,
                "ctime": now,
                "mtime": now,
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("replicas")
    op.drop_table("storage_elements")
    op.drop_table("files")
    op.drop_table("directories")
