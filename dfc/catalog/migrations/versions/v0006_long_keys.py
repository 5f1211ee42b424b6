"""PostgreSQL: path keys of any valid length (up to the 4,096 bytes of an LFN).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

A PostgreSQL B-tree index entry holds at most ~2,700 bytes, so the B-tree
indexes over whole paths refused a directory, dataset or queued transfer whose
path was longer, although such an LFN is valid. On PostgreSQL this revision
replaces them:

- uniqueness by hash-index exclusion constraints (``EXCLUDE USING hash (... WITH
  =)``), which store a 4-byte hash per row whatever the key's length, and also
  serve the equality lookups (``path = ?``, ``path IN (...)``);
- the range scans over a directory's subtree by a B-tree on the first
  :data:`~dfc.catalog.schema.PATH_PREFIX` characters of the path, which the
  queries name next to their exact condition (``dfc.catalog._base.indexed_prefix``);
- the ``(parent_id, path)`` index by one on ``parent_id`` alone: a directory's
  subdirectories are sorted after the lookup.

SQLite has no such limit: its schema is not changed. Downgrading fails if a path
longer than the old index entries exists.
"""

from __future__ import annotations

from alembic import op

from dfc.catalog.schema import PATH_PREFIX

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

#: job, destination SE and LFN as one text key (SE names hold no space).
_TRANSFER_KEY = "(job_id::text || ' ' || dest_se || ' ' || lfn)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.drop_constraint("uq_directories_path", "directories", type_="unique")
    op.drop_index("ix_directories_parent_id_path", table_name="directories")
    op.execute(
        "ALTER TABLE directories ADD CONSTRAINT ex_directories_path "
        "EXCLUDE USING hash (path WITH =)"
    )
    op.execute(
        f"CREATE INDEX ix_directories_path_prefix ON directories (substr(path, 1, {PATH_PREFIX}))"
    )
    op.create_index("ix_directories_parent_id", "directories", ["parent_id"])
    op.drop_constraint("uq_datasets_name", "datasets", type_="unique")
    op.execute("ALTER TABLE datasets ADD CONSTRAINT ex_datasets_name EXCLUDE USING hash (name WITH =)")
    op.drop_constraint("uq_fts_files_job_id_dest_se_lfn", "fts_files", type_="unique")
    op.execute(
        "ALTER TABLE fts_files ADD CONSTRAINT ex_fts_files_job_id_dest_se_lfn "
        f"EXCLUDE USING hash ({_TRANSFER_KEY} WITH =)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.drop_constraint("ex_fts_files_job_id_dest_se_lfn", "fts_files")
    op.create_unique_constraint(
        "uq_fts_files_job_id_dest_se_lfn", "fts_files", ["job_id", "dest_se", "lfn"]
    )
    op.drop_constraint("ex_datasets_name", "datasets")
    op.create_unique_constraint("uq_datasets_name", "datasets", ["name"])
    op.drop_index("ix_directories_parent_id", table_name="directories")
    op.drop_index("ix_directories_path_prefix", table_name="directories")
    op.drop_constraint("ex_directories_path", "directories")
    op.create_unique_constraint("uq_directories_path", "directories", ["path"])
    op.create_index("ix_directories_parent_id_path", "directories", ["parent_id", "path"])
