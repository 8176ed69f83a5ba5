"""Alembic environment: runs migrations against the URL that mailhub passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from mailhub.db import in_metadata
from mailhub.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    connectable = create_engine(url, poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=url.startswith("sqlite"),
            compare_type=True,
            include_object=in_metadata,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
