"""Pages count the attachments an erasure removed because they named the erased person.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pages") as batch:
        batch.add_column(
            sa.Column("attachments_removed", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("pages") as batch:
        batch.drop_column("attachments_removed")
