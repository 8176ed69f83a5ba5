"""The IMAP reader records a message too large to fetch on its row (size and limit) instead of
a header it wrote into the stored bytes.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-29 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("oversize", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("oversize_limit", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_column("oversize_limit")
        batch_op.drop_column("oversize")
