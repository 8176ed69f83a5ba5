"""Alembic migrations produce exactly the models' schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mailhub.db import in_metadata, make_engine, migrate, schema_is_current
from mailhub.models import Base


def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": in_metadata}
        )
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


def test_follows_become_watching_subscriptions_and_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from alembic import command
    from sqlalchemy import text

    from mailhub.db import alembic_config

    url = f"sqlite:///{tmp_path / 'f.sqlite3'}"
    command.upgrade(alembic_config(url), "0008")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (id, slug, name, domain, require_authenticated, unknown_senders, locale, created_at) VALUES (1, 'acme', 'Acme', 'acme.example', 0, 'reject', 'en', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO users (id, tenant_id, email, name, is_admin, active, guest, created_at) VALUES (7, 1, 'bob@acme.example', 'Bob', 0, 1, 0, '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO spaces (id, tenant_id, slug, name, created_at) VALUES (3, 1, 'sales', 'Sales', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO follows (tenant_id, user_id, space_id, created_at) VALUES (1, 7, 3, '2026-01-01')"
            )
        )
    migrate(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT user_id, subject_kind, subject_id, level, frequency FROM subscriptions")
        ).all()
        assert [tuple(r) for r in rows] == [(7, "space", 3, "watching", None)]
        assert conn.execute(text("SELECT hourly_cap, publish_receipts FROM tenants")).one() == (
            20,
            1,
        )
    command.downgrade(alembic_config(url), "0008")
    with engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(text("SELECT user_id, space_id FROM follows"))] == [
            (7, 3)
        ]


def test_the_quick_schema_check_agrees_with_alembic(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every command checks the schema without importing alembic: the heads it reads from the
    scripts are alembic's, and a database one revision behind is not current."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from mailhub.db import alembic_config, schema_heads

    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    assert schema_heads() == heads and len(heads) == 1
    migrate(url)
    command.downgrade(alembic_config(url), "-1")
    assert not schema_is_current(make_engine(url))
    migrate(url)
    assert schema_is_current(make_engine(url))
