"""What the database engine keeps in its own files after an erasure (issue 20).

SQLite: the main file and its WAL, read as bytes, hold nothing of the person (secure_delete,
then the WAL written back and emptied), and the erasure's proof reads them itself.
PostgreSQL: the relation files of every table, TOAST table and index of the database, read
as bytes beside the server, hold nothing of the person once the erasure has vacuumed what it
touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from mailhub.db import unit_of_work
from mailhub.models import Tenant
from mailhub.privacy import erasure
from mailhub.privacy.scan import found_in_file

from conftest import Runtime

NEEDLES = ["bob@acme.example", "bob reader"]


def relation_files(runtime: Runtime) -> list[tuple[str, Path]]:
    """(relation, file) of every table, TOAST table and index of mailhub's database, with
    their further segments, where this process can read them (beside the server, as root)."""
    with runtime.sessions() as s:
        data_dir = Path(str(s.scalar(text("SHOW data_directory"))))
        rows = s.execute(
            text(
                "SELECT c.relname, pg_relation_filepath(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 't', 'i') AND n.nspname IN ('public', 'pg_toast') "
                "AND pg_relation_filepath(c.oid) IS NOT NULL"
            )
        ).all()
    found = []
    for name, rel in rows:
        base = data_dir / rel
        for path in [base, *sorted(base.parent.glob(base.name + ".*"))]:
            if path.is_file() and not path.name.endswith(("_fsm", "_vm")):
                found.append((name, path))
    return found


def _checkpoint(runtime: Runtime) -> None:
    url = runtime.settings.effective_database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")  # what is in shared buffers reaches the files


@pytest.mark.parametrize("backend", ["postgres-redis"], indirect=True)
def test_postgres_relation_files_hold_nothing_after_an_erasure(
    runtime: Runtime, acme: dict[str, int], smtp: Any
) -> None:
    from test_closure_backups import _content

    _content(runtime, smtp)
    _checkpoint(runtime)
    files = relation_files(runtime)
    if not files or not all(p.stat() and _readable(p) for _, p in files):
        pytest.skip("the server's files cannot be read from here")
    before = sorted({name for name, path in files if found_in_file(path, NEEDLES)})
    assert "users" in before and "inbound_messages" in before  # the scan sees him at all
    with unit_of_work(runtime.sessions) as s:
        t = s.get_one(Tenant, acme["tenant"])
    outcome = erasure.erase_user(runtime.sessions, runtime.places, t, "bob@acme.example")
    assert outcome.state == "done", outcome.left
    _checkpoint(runtime)
    after = sorted({name for name, path in relation_files(runtime) if found_in_file(path, NEEDLES)})
    assert after == [], f"still in the files of {after} (before: {before})"


def _readable(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.read(1)
        return True
    except OSError:
        return False


@pytest.mark.parametrize("secure_delete", ["OFF", "ON"])
def test_the_proof_reads_the_sqlite_files_as_bytes(tmp_path: Path, secure_delete: str) -> None:
    """A deleted row whose bytes stay in the file (secure_delete off) is found by the
    engine-file proof, in the encoding it was written in; with mailhub's setting, nothing."""
    from mailhub.db import make_engine
    from mailhub.privacy.engine_files import engine_hits

    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute(f"PRAGMA secure_delete={secure_delete}")
        raw.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        raw.execute('INSERT INTO t (body) VALUES (\'{"by": "\\u0062ob@acme.example"}\')')
        raw.execute("INSERT INTO t (body) VALUES ('nothing here')")
        raw.execute("DELETE FROM t WHERE id = 1")
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    hits = engine_hits(engine, NEEDLES)
    if secure_delete == "OFF":
        assert hits == {"database files": 1, "database files (json escapes)": 1}
    else:
        assert hits == {"database files": 0}
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgres-redis"], indirect=True)
def test_a_long_reader_does_not_stall_the_rewrite(
    runtime: Runtime, acme: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    """A backup reading for minutes holds its tables: the rewrite does not wait behind it
    (writers would queue behind the rewrite's lock request), it vacuums that table instead."""
    from mailhub.db import forget_deleted

    url = runtime.settings.effective_database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as reader:
        reader.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        reader.execute("SELECT count(*) FROM users").fetchone()  # holds its lock until the end
        with caplog.at_level("WARNING", logger="mailhub.db"):
            forget_deleted(runtime.sessions)
        assert any("users not rewritten" in r.getMessage() for r in caplog.records)
        reader.rollback()
