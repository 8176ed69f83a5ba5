"""Tenants apply the sender domain's DMARC policy to members' unauthenticated mail (on by
default, for existing tenants too: mail forged in the name of a domain that says all its mail
is authenticated waits for a moderator).

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-29 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("apply_dmarc", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("apply_dmarc")
