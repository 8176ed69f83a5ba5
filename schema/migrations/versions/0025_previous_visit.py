"""Users remember when their previous visit to the web pages ended, so the tenant's home can
say what is new since then.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-29 15:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_visit_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("previous_visit_at")
