"""Blobs: raw mail, attachments and thumbnails in the database (MAILHUB_BLOB_STORE=postgres),
so that SMTP, worker and web hosts share nothing but the database and the broker.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("store", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("store", "name", name="uq_blob_name"),
    )
    op.create_index("ix_blobs_tenant_id", "blobs", ["tenant_id"])
    op.create_table(
        "blob_chunks",
        sa.Column("blob_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["blob_id"], ["blobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("blob_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("blob_chunks")
    op.drop_index("ix_blobs_tenant_id", table_name="blobs")
    op.drop_table("blobs")
