"""Where bytes live beside the database: the file store (attachments and thumbnails), the raw
mail store, and the secret box. Files before rows: a file is written before its row commits
and removed before its row is deleted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailhub.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from mailhub.config import Settings
    from mailhub.stores.blobs import DatabaseBlobs
    from mailhub.stores.files import FileStore
    from mailhub.stores.outbox import Outbox
    from mailhub.stores.rawstore import RawStore

BLOB_STORES = ("files", "postgres")


def in_database(settings: Settings) -> bool:
    """MAILHUB_BLOB_STORE=postgres: raw mail, attachments and thumbnails in the database."""
    if settings.blob_store not in BLOB_STORES:
        raise ConfigError(
            f"MAILHUB_BLOB_STORE must be files or postgres, not {settings.blob_store!r}"
        )
    if settings.blob_store == "postgres" and not settings.effective_database_url.startswith(
        "postgresql"
    ):
        raise ConfigError("MAILHUB_BLOB_STORE=postgres needs MAILHUB_DATABASE_URL=postgresql…")
    return settings.blob_store == "postgres"


def _engine(settings: Settings, engine: Engine | None) -> Engine:
    from mailhub.db import make_engine

    return engine if engine is not None else make_engine(settings.effective_database_url)


def raw_store(settings: Settings, engine: Engine | None = None) -> RawStore:
    from mailhub.stores.blobs import DatabaseBlobs
    from mailhub.stores.rawstore import RawStore

    if in_database(settings):
        cache = settings.data_dir / "cache" / "raw"
        return RawStore(settings.raw_dir, DatabaseBlobs(_engine(settings, engine), "raw", cache))
    return RawStore(settings.raw_dir)


def export_blobs(settings: Settings, engine: Engine | None = None) -> DatabaseBlobs | None:
    """Export archives in the database, so the web host serves what a worker built."""
    from mailhub.stores.blobs import DatabaseBlobs

    if not in_database(settings):
        return None
    return DatabaseBlobs(
        _engine(settings, engine), "exports", settings.data_dir / "cache" / "exports"
    )


def outbox(settings: Settings, engine: Engine | None = None) -> Outbox:
    """Where mail goes when no relay is set: .eml files, or blobs any host can read."""
    from mailhub.stores.blobs import DatabaseBlobs
    from mailhub.stores.outbox import Outbox

    if in_database(settings):
        copies = settings.data_dir / "cache" / "outbox"
        return Outbox(copies, DatabaseBlobs(_engine(settings, engine), "outbox", copies))
    return Outbox(settings.outbox_dir)


def file_store(settings: Settings, engine: Engine | None = None) -> FileStore:
    from mailhub.stores.blobs import DatabaseBlobs
    from mailhub.stores.files import FileStore

    if in_database(settings):
        cache = settings.data_dir / "cache" / "files"
        return FileStore(cache, DatabaseBlobs(_engine(settings, engine), "files", cache))
    return FileStore(settings.files_dir)
