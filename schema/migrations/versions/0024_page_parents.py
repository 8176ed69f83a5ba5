"""Pages form a tree within their space: a page may sit under a parent page (breadcrumbs, a
table of contents on the space's home). A deleted parent leaves its children at the top.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-29 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_pages_parent_id", ["parent_id"])
        batch_op.create_foreign_key(
            "fk_pages_parent_id_pages", "pages", ["parent_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_constraint("fk_pages_parent_id_pages", type_="foreignkey")
        batch_op.drop_index("ix_pages_parent_id")
        batch_op.drop_column("parent_id")
