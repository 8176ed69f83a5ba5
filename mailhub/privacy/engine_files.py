"""The database engine's own files, read as bytes: the last part of an erasure's proof.

A row-level proof cannot see an old copy of a page that the engine keeps in its files (a WAL
frame, a dead tuple, freed space). After the erasure has committed and the engine was made to
forget (db.forget_deleted), these files are scanned through every encoding (privacy/scan.py):

- SQLite: the database file and its WAL;
- PostgreSQL: the relation files of every table, TOAST table and index of mailhub's schema,
  where this process can read them (beside the server, as its owner or root); a server on
  another host is not readable from here, and the proof says "not readable" instead of 0.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from mailhub.privacy.proof import files_hits, record

NOT_READABLE = -1


def engine_files(engine: Engine) -> list[Path] | None:
    """The files the engine keeps mailhub's data in, or None when they cannot be read here."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            return []
        main = Path(database)
        return [p for p in (main, Path(f"{main}-wal")) if p.is_file()]
    with engine.connect() as conn:
        try:
            data_dir = Path(str(conn.scalar(text("SHOW data_directory"))))
        except Exception:  # not a superuser: the server does not say where its files are
            return None
        rows = conn.execute(
            text(
                "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 't', 'i') AND n.nspname IN ('public', 'pg_toast') "
                "AND pg_relation_filepath(c.oid) IS NOT NULL"
            )
        ).scalars()
        paths: list[Path] = []
        for rel in rows:
            base = data_dir / rel
            paths += [base, *sorted(base.parent.glob(base.name + ".*"))]
    files = [p for p in paths if not p.name.endswith(("_fsm", "_vm", "_init"))]
    try:
        if files:
            with open(files[0], "rb") as fh:
                fh.read(1)
    except OSError:  # another host's, or not ours to read
        return None
    return files


def engine_hits(engine: Engine, needles: list[str]) -> dict[str, int]:
    """{"database files": files that mention a needle (NOT_READABLE when they cannot be read
    here), and beside it the encodings other than plain bytes they were found in}."""
    files = engine_files(engine)
    if files is None:
        return {"database files": NOT_READABLE}
    hits: dict[str, int] = {}
    record(hits, "database files", files_hits(iter(files), needles))
    return hits
