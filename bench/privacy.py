"""Erasure, tenant closure and backups at size: how long they take and how that grows.

Erasure: a person owning N items — a quarter pages (each with its revision), a quarter
comments on a colleague's page, a quarter mail sent to them — in a tenant whose other member
has as many items again, erased by mailhub.privacy.erasure.erase_user, proof included; once
with shared content deleted, once kept and anonymized.

Closure: a tenant of N rows (pages, revisions, comments and mail of 100 people, and their
search entries) beside a second tenant of N/10, closed by mailhub.privacy.closure.close, proof
included.

Backup: the same tenant of N rows backed up by mailhub.backups.create (each row sealed with its
owner's key, then the whole with the tenant's) and restored from it.

    python bench/privacy.py [--items 1000,10000] [--rows 10000,100000] [--database URL]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from mailhub import config  # noqa: E402
from mailhub.db import make_engine, migrate, unit_of_work  # noqa: E402
from mailhub.domain import directory, search  # noqa: E402
from mailhub.domain.search import session_factory  # noqa: E402
from mailhub.models import Comment, Notification, Page, Revision, Tenant, User, utcnow  # noqa: E402
from mailhub.privacy import (  # noqa: E402
    backups,  # noqa: E402
    closure,
    erasure,
)
from mailhub.privacy.proof import Places  # noqa: E402


def fresh(database: str, tmp: Path, tag: str) -> tuple[config.Settings, str]:
    env = {"MAILHUB_DATA_DIR": str(tmp / tag), "MAILHUB_SECRET_KEY": "bench-secret-0123456789"}
    url = ""
    if database:
        admin = create_engine(database, isolation_level="AUTOCOMMIT")
        name = f"mailhub_bench_{tag}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = database.rsplit("/", 1)[0] + "/" + name
        env["MAILHUB_DATABASE_URL"] = url
    settings = config.load(env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.effective_database_url)
    return settings, url


def fill(session, tenant: Tenant, author: User, space_id: int, other_page: int, n: int) -> None:  # type: ignore[no-untyped-def]
    """n items of `author`: pages with their revision, comments, and mail to them."""
    now = utcnow()
    quarter = max(1, n // 4)
    ids = session.scalars(
        insert(Page).returning(Page.id, sort_by_parameter_order=True),
        [
            {
                "tenant_id": tenant.id,
                "space_id": space_id,
                "author_id": author.id,
                "title": f"Notes {i} by {author.name}",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(quarter)
        ],
    ).all()
    session.execute(
        insert(Revision),
        [
            {
                "tenant_id": tenant.id,
                "page_id": ids[i],
                "author_id": author.id,
                "number": 1,
                "body_html": f"<p>Call {author.email} about item {i}.</p>",
                "body_text": f"Call {author.email} about item {i}.",
                "created_at": now,
            }
            for i in range(quarter)
        ],
    )
    session.execute(
        insert(Comment),
        [
            {
                "tenant_id": tenant.id,
                "page_id": other_page,
                "author_id": author.id,
                "body_html": f"<p>Agreed ({i})</p>",
                "body_text": f"Agreed ({i})",
                "created_at": now,
            }
            for i in range(quarter)
        ],
    )
    session.execute(
        insert(Notification),
        [
            {
                "tenant_id": tenant.id,
                "kind": "page_created",
                "event_key": f"b:{author.id}:{i}",
                "to_addr": author.email,
                "user_id": author.id,
                "reason": "you follow sales",
                "context": {},
                "message_id": f"<b{author.id}.{i}@bench>",
                "status": "sent",
                "created_at": now,
                "enqueued_at": now,
            }
            for i in range(quarter)
        ],
    )


def setup_tenant(settings: config.Settings, slug: str, people: int, items_each: int) -> int:
    sessions = session_factory(make_engine(settings.effective_database_url))
    with unit_of_work(sessions) as s:
        t = directory.add_tenant(s, slug, f"{slug}.example", slug.title())
        space = directory.add_space(s, t, "sales")
        users = [
            directory.add_user(s, t, f"person{i}@{slug}.example", f"Person Number{i}")
            for i in range(people)
        ]
        s.flush()
        home = Page(tenant_id=t.id, space_id=space.id, author_id=users[0].id, title="Home")
        s.add(home)
        s.flush()
        for user in users:
            fill(s, t, user, space.id, home.id, items_each)
        search.reindex_tenant(s, t.id)
        return t.id


def bench_erasure(database: str, tmp: Path, items: int, keep: bool) -> float:
    settings, _ = fresh(database, tmp, f"erase{items}{int(keep)}")
    tenant_id = setup_tenant(settings, "acme", 2, items)
    sessions = session_factory(make_engine(settings.effective_database_url))
    with unit_of_work(sessions) as s:
        tenant = s.get_one(Tenant, tenant_id)
        tenant.keep_shared_content = keep
    start = time.perf_counter()
    outcome = erasure.erase_user(sessions, Places.of(settings), tenant, "person1@acme.example")
    took = time.perf_counter() - start
    assert outcome.state == "done", outcome.left
    return took


def bench_closure(database: str, tmp: Path, rows: int) -> float:
    settings, _ = fresh(database, tmp, f"close{rows}")
    per_person = rows // 100
    tenant_id = setup_tenant(settings, "acme", 100, per_person)
    setup_tenant(settings, "globex", 10, per_person)
    sessions = session_factory(make_engine(settings.effective_database_url))
    start = time.perf_counter()
    closed = closure.close(sessions, Places.of(settings), "acme", settings.data_dir / "closures")
    took = time.perf_counter() - start
    assert not closed.left, closed.left
    assert tenant_id
    return took


def bench_backup(database: str, tmp: Path, rows: int) -> tuple[float, float, int]:
    """Back up a tenant of `rows` rows (every row sealed for its owner), then restore it."""
    settings, _ = fresh(database, tmp, f"backup{rows}")
    tenant_id = setup_tenant(settings, "acme", 100, rows // 100)
    sessions = session_factory(make_engine(settings.effective_database_url))
    places = Places.of(settings)
    start = time.perf_counter()
    made = backups.create(
        sessions, places.keys, places.backups, places.files, tenant_id, settings.backup_keep
    )
    made_in = time.perf_counter() - start
    start = time.perf_counter()
    backups.restore(sessions, places.keys, places.files, tenant_id, places.backups, made.name)
    return made_in, time.perf_counter() - start, made.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", default="1000,10000")
    parser.add_argument("--rows", default="10000,100000")
    parser.add_argument("--database", default="", help="a PostgreSQL URL; empty: SQLite")
    args = parser.parse_args()
    engine = "PostgreSQL" if args.database else "SQLite"
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for keep in (False, True):
            for n in [int(x) for x in args.items.split(",")]:
                took = bench_erasure(args.database, tmp, n, keep)
                how = "kept anonymized" if keep else "deleted"
                print(f"{engine}: erase a person owning {n} items ({how}): {took:.2f} s")
        for n in [int(x) for x in args.rows.split(",")]:
            took = bench_closure(args.database, tmp, n)
            print(f"{engine}: close a tenant of {n} rows: {took:.2f} s")
        for n in [int(x) for x in args.rows.split(",")]:
            made, restored, size = bench_backup(args.database, tmp, n)
            print(
                f"{engine}: back up a tenant of {n} rows: {made:.2f} s ({size // 1024} KiB), "
                f"restore it: {restored:.2f} s"
            )


if __name__ == "__main__":
    main()
