"""The data map declares every table, column and store that exists, and nothing that does not."""

from __future__ import annotations

import dataclasses

from sqlalchemy import inspect

from mailhub.config import Settings
from mailhub.db import make_engine, migrate
from mailhub.models import Base
from mailhub.privacy import datamap


def _file_stores() -> list[str]:
    return [f.name for f in dataclasses.fields(Settings) if f.name.endswith("_dir") and not f.init]


def test_every_model_column_and_store_is_declared() -> None:
    tables = {t.name: [c.name for c in t.columns] for t in Base.metadata.tables.values()}
    tables["alembic_version"] = ["version_num"]
    assert datamap.undeclared(tables, _file_stores()) == []


def test_the_migrated_database_matches_the_map(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    migrate(url)
    insp = inspect(make_engine(url))
    tables = {name: [c["name"] for c in insp.get_columns(name)] for name in insp.get_table_names()}
    assert datamap.undeclared(tables, _file_stores()) == []


def test_an_undeclared_column_is_caught() -> None:
    tables = {t.name: [c.name for c in t.columns] for t in Base.metadata.tables.values()}
    tables["alembic_version"] = ["version_num"]
    tables["users"] = [*tables["users"], "phone"]
    tables["shadow_copies"] = ["id"]
    problems = datamap.undeclared(tables, [*_file_stores(), "thumbs_dir"])
    assert "column users.phone is not in the data map" in problems
    assert "table shadow_copies is not in the data map" in problems
    assert "file store thumbs_dir is not in the data map" in problems
