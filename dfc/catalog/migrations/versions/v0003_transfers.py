"""The transfer queue: jobs, files, failed attempts, agents and link decisions.

Revision ID: 0003
Revises: 0002
Create Date: 2025-03-01

- ``fts_jobs``: priority, owner, the ``canceled`` flag, and counters of files per
  state and bytes, kept in step with ``fts_files`` by every transition;
- ``fts_files``: one row per (LFN, destination SE), with its state, tries,
  ``retry_at`` gate, holding agent and last error; claimed by
  ``(job_id, state, id)``;
- ``fts_attempts``: one row per failed try (or abandoned source) with its error;
- ``fts_agents``: agents and their heartbeats;
- ``fts_links``: the optimizer's latest limit per (source SE, destination SE).

Times are float seconds since the epoch.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dfc.catalog.schema import ID, NAME, PATH

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_TIME = sa.Float(precision=53)
_SE = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "fts_agents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started", _TIME, nullable=False),
        sa.Column("beat", _TIME, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fts_agents"),
    )
    op.create_index("ix_fts_agents_state", "fts_agents", ["state"])
    counters = [
        sa.Column(name, sa.BigInteger, nullable=False)
        for name in (
            "n_files",
            "n_submitted",
            "n_active",
            "n_finished",
            "n_failed",
            "n_canceled",
            "n_skipped",
            "bytes_total",
            "bytes_done",
        )
    ]
    op.create_table(
        "fts_jobs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("owner", NAME, nullable=False),
        sa.Column("grp", NAME, nullable=False),
        sa.Column("created", _TIME, nullable=False),
        sa.Column("updated", _TIME, nullable=False),
        sa.Column("finished", _TIME, nullable=True),
        sa.Column("source_se", _SE, nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("canceled", sa.Boolean, nullable=False),
        sa.Column("retries", sa.Integer, nullable=True),
        *counters,
        sa.PrimaryKeyConstraint("id", name="pk_fts_jobs"),
        sa.CheckConstraint(
            "n_submitted >= 0 AND n_active >= 0 AND n_finished >= 0 AND n_failed >= 0 "
            "AND n_canceled >= 0",
            name="ck_fts_jobs_counters",
        ),
    )
    op.create_index("ix_fts_jobs_state", "fts_jobs", ["state"])
    op.create_table(
        "fts_files",
        sa.Column("id", ID, primary_key=True),
        sa.Column("job_id", ID, nullable=False),
        sa.Column("lfn", PATH, nullable=False),
        sa.Column("file_id", ID, nullable=True),
        sa.Column("dest_se", _SE, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("source_se", _SE, nullable=True),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("retries", sa.Integer, nullable=False),
        sa.Column("retry_at", _TIME, nullable=False),
        sa.Column("agent_id", sa.Integer, nullable=True),
        sa.Column("skipped", sa.Boolean, nullable=False),
        sa.Column("started", _TIME, nullable=True),
        sa.Column("finished", _TIME, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("error_kind", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_fts_files"),
        sa.UniqueConstraint("job_id", "dest_se", "lfn", name="uq_fts_files_job_id_dest_se_lfn"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["fts_jobs.id"], name="fk_fts_files_job_id_fts_jobs", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_fts_files_job_id_state_id", "fts_files", ["job_id", "state", "id"])
    op.create_index("ix_fts_files_agent_id_state", "fts_files", ["agent_id", "state"])
    op.create_table(
        "fts_attempts",
        sa.Column("id", ID, primary_key=True),
        sa.Column("file_id", ID, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("source_se", _SE, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("error_kind", sa.String(64), nullable=False),
        sa.Column("time", _TIME, nullable=False),
        sa.Column("agent_id", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_fts_attempts"),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["fts_files.id"],
            name="fk_fts_attempts_file_id_fts_files",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_fts_attempts_file_id", "fts_attempts", ["file_id"])
    op.create_table(
        "fts_links",
        sa.Column("source_se", _SE, nullable=False),
        sa.Column("dest_se", _SE, nullable=False),
        sa.Column("active_limit", sa.Integer, nullable=False),
        sa.Column("ema", _TIME, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("updated", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("source_se", "dest_se", name="pk_fts_links"),
    )


def downgrade() -> None:
    op.drop_table("fts_links")
    op.drop_table("fts_attempts")
    op.drop_table("fts_files")
    op.drop_table("fts_jobs")
    op.drop_index("ix_fts_agents_state", table_name="fts_agents")
    op.drop_table("fts_agents")
