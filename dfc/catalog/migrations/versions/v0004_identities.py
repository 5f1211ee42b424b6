"""The identity registry: users and their DNs, groups, FQAN rules; the first administrator.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04

The user who creates the catalogue (runs this migration, e.g. through ``dfc init``) is
registered as its first administrator, as ``local:<OS user>``: an embedded catalogue
belongs to whoever made it, and a shared one gets an administrator who can register
the others.
"""

from __future__ import annotations

import getpass
import grp
import os
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from dfc.catalog.schema import ID, NAME, UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def _os_identity() -> tuple[str, str]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    try:
        group = grp.getgrgid(os.getgid()).gr_name
    except KeyError:
        group = str(os.getgid())
    return user, group


def upgrade() -> None:
    users = op.create_table(
        "auth_users",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", NAME, nullable=False),
        sa.Column("account", NAME, nullable=True),
        sa.Column("grp", NAME, nullable=True),
        sa.Column("properties", sa.Text, nullable=False),
        sa.Column("ctime", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_auth_users"),
        sa.UniqueConstraint("name", name="uq_auth_users_name"),
    )
    dns = op.create_table(
        "auth_user_dns",
        sa.Column("id", ID, primary_key=True),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("dn", sa.Text, nullable=False),
        sa.Column("dn_key", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_auth_user_dns"),
        sa.UniqueConstraint("dn_key", name="uq_auth_user_dns_dn_key"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["auth_users.id"], name="fk_auth_user_dns_user_id_auth_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_auth_user_dns_user_id", "auth_user_dns", ["user_id"])
    op.create_table(
        "auth_groups",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", NAME, nullable=False),
        sa.Column("properties", sa.Text, nullable=False),
        sa.Column("ctime", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_auth_groups"),
        sa.UniqueConstraint("name", name="uq_auth_groups_name"),
    )
    op.create_table(
        "auth_members",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("group_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "group_id", name="pk_auth_members"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["auth_users.id"], name="fk_auth_members_user_id_auth_users",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["auth_groups.id"], name="fk_auth_members_group_id_auth_groups",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_auth_members_group_id", "auth_members", ["group_id"])
    op.create_table(
        "auth_fqan_rules",
        sa.Column("id", ID, primary_key=True),
        sa.Column("fqan", sa.String(512), nullable=False),
        sa.Column("group_id", ID, nullable=False),
        sa.Column("account", NAME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_auth_fqan_rules"),
        sa.UniqueConstraint("fqan", name="uq_auth_fqan_rules_fqan"),
        sa.ForeignKeyConstraint(
            ["group_id"], ["auth_groups.id"], name="fk_auth_fqan_rules_group_id_auth_groups",
            ondelete="CASCADE",
        ),
    )
    user, group = _os_identity()
    now = datetime.now(UTC)
    op.bulk_insert(
        users,
        [{"name": user, "account": user, "grp": group, "properties": "admin", "ctime": now}],
    )
    op.get_bind().execute(
        sa.insert(dns).from_select(
            ["user_id", "dn", "dn_key"],
            sa.select(
                users.c.id,
                sa.literal(f"local:{user}", sa.Text),
                sa.literal(f"local:{user}", sa.Text),
            ).where(users.c.name == user),
        )
    )


def downgrade() -> None:
    op.drop_table("auth_fqan_rules")
    op.drop_table("auth_members")
    op.drop_table("auth_groups")
    op.drop_table("auth_user_dns")
    op.drop_table("auth_users")
