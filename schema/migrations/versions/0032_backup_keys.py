"""Backup keys in the database (MAILHUB_BLOB_STORE=postgres), so that every worker host opens
and shreds the same keys.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backup_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "user_id", name="uq_backup_key"),
    )
    op.create_index("ix_backup_keys_tenant_id", "backup_keys", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_backup_keys_tenant_id", table_name="backup_keys")
    op.drop_table("backup_keys")
