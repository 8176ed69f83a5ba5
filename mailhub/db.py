"""Engines, sessions and migrations: the same code on SQLite (embedded) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout so the SMTP thread, web server and worker threads
of `mailhub serve` can share one file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from mailhub import SCHEMA_DIR

if TYPE_CHECKING:
    from alembic.config import Config

T = TypeVar("T")

SessionFactory = sessionmaker[Session]


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE matched: how a conditional status change knows it won."""
    return int(cast(CursorResult[Any], result).rowcount)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # What is deleted is overwritten with zeros, in the main file and the WAL alike,
            # whatever this build of SQLite defaults to (forget_deleted empties the WAL).
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin_immediate(conn: Any) -> None:
            # Take the write lock up front: a deferred transaction that later writes can fail
            # with "database is locked" instead of waiting for the busy timeout.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        # pysqlite's own transaction handling must be off for the BEGIN above to be ours.
        @event.listens_for(engine, "connect", insert=True)
        def _sqlite_autocommit_off(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def make_session_factory(
    engine: Engine, on_flush: Sequence[Callable[[Session, Any], None]] = ()
) -> SessionFactory:
    """Sessions on `engine`; each of `on_flush` runs after every flush of every session the
    factory makes (how the search index keeps in step: `domain.search.session_factory`)."""
    factory = sessionmaker(engine, expire_on_commit=False)
    for hook in on_flush:
        event.listen(factory, "after_flush", hook)
    return factory


REWRITE_MAX = 512 * 1024 * 1024  # PostgreSQL: larger tables are vacuumed, not rewritten
LOCK_TIMEOUT = "3s"  # how long a table's rewrite may wait for its lock


def forget_deleted(factory: SessionFactory, rewrite: bool = True) -> None:
    """After personal data is deleted and committed (an erasure, a tenant's closure,
    retention), the engine's own files are made to forget it too.

    SQLite: the WAL still holds the pages as they were before, so it is written into the main
    file (where secure_delete has zeroed what was deleted) and truncated to nothing.
    PostgreSQL: deleted and updated rows stay in their pages as dead tuples until vacuumed,
    and VACUUM frees their space without overwriting it (measured: the person is still read
    in three tables' files after it). So each of mailhub's tables up to REWRITE_MAX is
    rewritten (VACUUM FULL: new files, the old ones unlinked; a short exclusive lock per
    table), and larger ones are vacuumed, their freed space overwritten as it is reused.
    `rewrite=False` (a process stopping) does only SQLite's checkpoint.
    """
    engine = factory.kw["bind"]
    if engine.dialect.name != "sqlite":
        if rewrite:
            _rewrite_tables(engine)
        return
    with engine.connect() as conn:  # outside any transaction, which a checkpoint cannot be in
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def _rewrite_tables(engine: Engine) -> None:
    from mailhub.models import Base  # the models import this module

    with engine.connect() as conn:
        auto = conn.execution_options(isolation_level="AUTOCOMMIT")
        # Never wait long for a table's lock: writers would queue behind the rewrite's request
        # (mail could not be accepted while a backup reads for minutes).
        auto.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        for name in sorted(Base.metadata.tables):
            size = auto.exec_driver_sql(
                "SELECT pg_total_relation_size(to_regclass(%(t)s))", {"t": f'"{name}"'}
            ).scalar()
            if size is None:
                continue  # not in this database (yet)
            if size <= REWRITE_MAX:
                try:
                    auto.exec_driver_sql(f'VACUUM (FULL) "{name}"')
                    continue
                except OperationalError as exc:  # a long reader holds the table (a backup)
                    logging.getLogger(__name__).warning(
                        "%s not rewritten (%s): vacuumed; its freed space keeps old rows "
                        "until reused, and the erasure's proof reads the files",
                        name,
                        str(exc).splitlines()[0],
                    )
            auto.exec_driver_sql(f'VACUUM "{name}"')


@contextmanager
def unit_of_work(factory: SessionFactory) -> Iterator[Session]:
    """One transaction per use case: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        session.info["unit_of_work"] = True  # whoever reads this knows a commit will come
        yield session


def in_metadata(
    _obj: object, name: str | None, type_: str, _reflected: bool, _other: object
) -> bool:
    """For Alembic's comparisons: the full-text index the migrations make by hand (FTS5
    tables on SQLite, GIN indexes over stored tsvector columns on PostgreSQL) is not in the
    models, and that is right."""
    if type_ == "table" and name is not None and name.startswith("search_fts"):
        return False
    if type_ == "column" and name in ("search_vector", "title_vector"):
        return False
    return not (type_ == "index" and name is not None and name.startswith("ix_search_entries_fts"))


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCHEMA_DIR / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the database to the newest schema (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


_REVISION = re.compile(r'^(down_revision|revision) = (?:"(\w+)"|None)$', re.MULTILINE)


def schema_heads() -> set[str]:
    """The newest revisions of schema/migrations, read from the scripts' own lines (what
    alembic's script directory says, without the second it takes to import alembic: every
    command asks this)."""
    revisions, parents = set(), set()
    for script in (SCHEMA_DIR / "migrations" / "versions").glob("*.py"):
        found = dict((m.group(1), m.group(2)) for m in _REVISION.finditer(script.read_text()))
        if found.get("revision"):
            revisions.add(found["revision"])
        if found.get("down_revision"):
            parents.add(found["down_revision"])
    return revisions - parents


def schema_is_current(engine: Engine) -> bool:
    with engine.connect() as conn:  # a database out of reach says so (OperationalError)
        try:
            current = set(conn.scalars(text("SELECT version_num FROM alembic_version")))
        except (OperationalError, ProgrammingError):  # no such table: never migrated
            return False
    return current == schema_heads()


def once_per_transaction(session: Session, name: str, key: object, make: Callable[[], T]) -> T:
    """`make()`, remembered in the session for `key`: what every mail of a batch (one claiming
    transaction, one session) about one page asks alike (its revision, its files, an edit's
    changes)."""
    memo: dict[object, T] = session.info.setdefault(name, {})
    if key not in memo:
        memo[key] = make()
    return memo[key]
