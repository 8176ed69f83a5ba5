"""What a command works on: the database (refused, in one line, while its schema is not
current) and the data directory."""

from __future__ import annotations

from mailhub.config import Settings
from mailhub.db import SessionFactory, make_engine, schema_is_current
from mailhub.domain.search import session_factory
from mailhub.errors import ConfigError


def sessions(settings: Settings) -> SessionFactory:
    engine = make_engine(settings.effective_database_url)
    if not schema_is_current(engine):
        raise ConfigError("the database schema is not current: run `mailhub migrate` first")
    return session_factory(engine)


def prepare_data_dir(settings: Settings) -> None:
    for path in (settings.data_dir, settings.raw_dir, settings.files_dir, settings.outbox_dir):
        path.mkdir(parents=True, exist_ok=True)
