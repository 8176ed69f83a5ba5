"""Alembic migrations produce exactly the models' schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mailhub.db import make_engine, migrate, schema_is_current
from mailhub.models import Base


def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))


def test_sqlite_schema_matches_models(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    assert not schema_is_current(make_engine(url))
    migrate(url)
    migrate(url)  # idempotent
    assert schema_is_current(make_engine(url))
    assert _diff(url) == []


@pytest.mark.usefixtures("pg_database")
def test_postgresql_schema_matches_models(pg_database: str) -> None:
    migrate(pg_database)
    assert schema_is_current(make_engine(pg_database))
    assert _diff(pg_database) == []
