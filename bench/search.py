"""Search latency at 100,000 pages: find-as-you-type queries against the database's own
full-text engine (FTS5 on SQLite, a GIN-indexed tsvector on PostgreSQL), through
mailhub.domain.search.find, as the web page calls it.

Pages get ~120 words each from a 6,000-word vocabulary with a Zipf-like spread (a few words
everywhere, most rare), plus a comment on every tenth page and an attached file with 800
words of text (as read from a PDF) on every tenth page; a second tenant holds a tenth as many
pages, so the tenant filter has something to filter. The index is filled by
`search.reindex_tenant`, as after a restore. Queries are what a person types: one or
two words, the last one a prefix of 3 to 6 letters, common and rare alike.

    python bench/search.py [--pages 100000] [--queries 300] [--database postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from mailhub import config  # noqa: E402
from mailhub.db import make_engine, migrate, unit_of_work  # noqa: E402
from mailhub.domain import directory, search  # noqa: E402
from mailhub.domain.search import session_factory  # noqa: E402
from mailhub.models import Attachment, Comment, Page, Revision, utcnow  # noqa: E402

SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "sa",
    "ti",
    "vo",
    "be",
    "da",
    "fe",
    "gi",
    "ho",
    "ju",
    "ma",
    "ni",
    "pe",
    "qu",
    "ro",
    "su",
    "te",
    "vi",
    "wa",
    "xe",
    "yo",
    "ze",
]


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def zipf_pick(rng: random.Random, words: list[str]) -> str:
    return words[min(int(rng.paretovariate(1.1)) - 1, len(words) - 1)]


def seed(factory, pages: int, words: list[str], rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    with unit_of_work(factory) as s:
        tenants = []
        for slug, share in (("acme", pages), ("globex", pages // 10)):
            t = directory.add_tenant(s, slug, f"{slug}.example", slug.title())
            u = directory.add_user(s, t, f"ann@{slug}.example", "Ann")
            sp = directory.add_space(s, t, "sales", "Sales")
            tenants.append((t.id, u.id, sp.id, share))
    next_id = 1
    for tenant_id, user_id, space_id, share in tenants:
        for start in range(0, share, 5000):
            batch = range(next_id, next_id + min(5000, share - start))
            next_id = batch.stop
            with unit_of_work(factory) as s:
                s.execute(
                    insert(Page),
                    [
                        {
                            "id": i,
                            "tenant_id": tenant_id,
                            "space_id": space_id,
                            "author_id": user_id,
                            "title": " ".join(zipf_pick(rng, words) for _ in range(4)),
                            "created_at": now,
                            "updated_at": now,
                        }
                        for i in batch
                    ],
                )
                s.execute(
                    insert(Revision),
                    [
                        {
                            "tenant_id": tenant_id,
                            "page_id": i,
                            "author_id": user_id,
                            "number": 1,
                            "body_html": "",
                            "created_at": now,
                            "body_text": " ".join(zipf_pick(rng, words) for _ in range(120)),
                        }
                        for i in batch
                    ],
                )
                s.execute(
                    insert(Comment),
                    [
                        {
                            "tenant_id": tenant_id,
                            "page_id": i,
                            "author_id": user_id,
                            "body_html": "",
                            "quoted_text": "",
                            "created_at": now,
                            "body_text": " ".join(zipf_pick(rng, words) for _ in range(30)),
                        }
                        for i in batch
                        if i % 10 == 0
                    ],
                )
                s.execute(
                    insert(Attachment),
                    [
                        {
                            "tenant_id": tenant_id,
                            "page_id": i,
                            "uploader_id": user_id,
                            "filename": f"report {zipf_pick(rng, words)} {i}.pdf",
                            "content_type": "application/pdf",
                            "size": 50_000,
                            "sha256": "0" * 64,
                            "path": f"{tenant_id}/report-{i}.pdf",
                            "thumbnails": {},
                            "created_at": now,
                            "extracted_text": " ".join(zipf_pick(rng, words) for _ in range(800)),
                        }
                        for i in batch
                        if i % 10 == 5
                    ],
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--database", default="", help="default: SQLite in a temp dir")
    args = parser.parse_args()
    rng = random.Random(7)
    words = vocabulary(rng)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"MAILHUB_DATA_DIR": tmp}
        if args.database:
            env["MAILHUB_DATABASE_URL"] = args.database
        settings = config.load(env)
        url = settings.effective_database_url
        migrate(url)
        engine = make_engine(url)
        factory = session_factory(engine)
        started = time.perf_counter()
        seed(factory, args.pages, words, rng)
        with unit_of_work(factory) as s:
            for slug in ("acme", "globex"):
                search.reindex_tenant(s, directory.get_tenant(s, slug).id)
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("ANALYZE search_entries"))
        filled = time.perf_counter() - started
        queries = []
        for _ in range(args.queries):
            word = rng.choice(words) if rng.random() < 0.5 else zipf_pick(rng, words)
            prefix = word[: rng.randint(3, max(3, min(6, len(word))))]
            queries.append(prefix if rng.random() < 0.6 else f"{zipf_pick(rng, words)} {prefix}")
        timings, found = [], 0
        with factory() as s:
            acme = directory.get_tenant(s, "acme")
            search.find(s, acme, "warm up")
            for q in queries:
                t0 = time.perf_counter()
                hits = search.find(s, acme, q)
                timings.append((time.perf_counter() - t0) * 1000)
                found += bool(hits)
        timings.sort()
        p = lambda q: timings[min(len(timings) - 1, int(q * len(timings)))]  # noqa: E731
        print(
            f"database: {engine.dialect.name}, {args.pages} pages (+{args.pages // 10} in a "
            f"second tenant, a comment and an 800-word file on every tenth), filled and "
            f"indexed in {filled:.0f} s"
        )
        print(
            f"{len(queries)} queries, {found} with hits: p50 {p(0.5):.1f} ms, "
            f"p95 {p(0.95):.1f} ms, p99 {p(0.99):.1f} ms, max {timings[-1]:.1f} ms, "
            f"mean {statistics.mean(timings):.1f} ms"
        )


if __name__ == "__main__":
    main()
