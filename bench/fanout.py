"""Fan-out: one new page in a space with N watchers, resolved, queued and rendered.

Stage 1 is what the inbound worker does in the page's own transaction: resolve every
recipient's preference, write one notification row each (in batches), commit, and put the ids
on the queue. Stage 2 is what the outbound workers then do, a batch of BATCH at a time: claim,
mint its reply key and tokens, render, build the MIME message, DKIM-sign it, and mark it sent
(to a transport that drops the bytes). Peak Python memory is measured for stage 1 at two sizes,
to show it does not grow with the number of recipients.

    python bench/fanout.py [--watchers 10000] [--database postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from mailhub import config  # noqa: E402
from mailhub.db import migrate, unit_of_work  # noqa: E402
from mailhub.domain import directory  # noqa: E402
from mailhub.models import (  # noqa: E402
    Page,
    Revision,
    Space,
    SubjectKind,
    Subscription,
    Tenant,
    User,
    utcnow,
)
from mailhub.outbound import events  # noqa: E402
from mailhub.outbound.deliver import BATCH, deliver_batch  # noqa: E402
from mailhub.outbound.signing import DkimSigner  # noqa: E402
from mailhub.tasks import Runtime  # noqa: E402


class Dropped:
    """A transport that accepts everything and keeps nothing (the relay is not measured)."""

    def send(self, ref: str, data: bytes, mail_from: str, rcpt_to: list[str]) -> None:
        pass


def seed(rt: Runtime, watchers: int) -> tuple[int, int]:
    with unit_of_work(rt.sessions) as s:
        t = directory.add_tenant(s, "acme", "acme.example", "Acme")
        t.hourly_cap = 0
        t.publish_receipts = False
        ann = directory.add_user(s, t, "ann@acme.example", "Ann Author")
        sales = directory.add_space(s, t, "sales", "Sales")
        now = utcnow()
        s.execute(
            insert(User),
            [
                {
                    "tenant_id": t.id,
                    "email": f"user{i}@acme.example",
                    "name": f"User {i}",
                    "is_admin": False,
                    "active": True,
                    "guest": False,
                    "created_at": now,
                }
                for i in range(watchers)
            ],
        )
        ids = s.scalars(User.__table__.select().with_only_columns(User.id).where(User.id != ann.id))
        s.execute(
            insert(Subscription),
            [
                {
                    "tenant_id": t.id,
                    "user_id": uid,
                    "subject_kind": SubjectKind.SPACE,
                    "subject_id": sales.id,
                    "level": "watching",
                    "updated_at": now,
                }
                for uid in ids
            ],
        )
        return t.id, sales.id


def new_page(rt: Runtime, tenant_id: int, space_id: int, n: int) -> tuple[float, list[int], int]:
    """Stage 1 for one page: (seconds, notifications, peak bytes of Python memory)."""
    tracemalloc.start()
    start = time.perf_counter()
    with unit_of_work(rt.sessions) as s:
        tenant = s.get_one(Tenant, tenant_id)
        space = s.get_one(Space, space_id)
        ann = directory.get_user(s, tenant, "ann@acme.example")
        page = Page(
            tenant_id=tenant_id, space_id=space_id, author_id=ann.id, title=f"Q3 review {n}"
        )
        s.add(page)
        s.flush()
        text = "The Q3 pipeline review is on Thursday in room Ölberg. Bring your numbers."
        s.add(
            Revision(
                tenant_id=tenant_id,
                page_id=page.id,
                author_id=ann.id,
                number=1,
                body_html=f"<p>{text}</p>",
                body_text=text,
            )
        )
        ids = events.page_created(s, tenant, page, space, ann, text).ids
    rt.enqueue_notifications(ids)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rt.broker.flush_all()  # the in-process queue is not what is measured
    return elapsed, ids, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=10_000)
    parser.add_argument("--database", default="", help="default: SQLite in a temp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "MAILHUB_DATA_DIR": tmp,
            "MAILHUB_BASE_URL": "https://intranet.acme.example",
            "MAILHUB_SECRET_KEY": "bench-secret-0123456789",
        }
        if args.database:
            env["MAILHUB_DATABASE_URL"] = args.database
        settings = config.load(env)
        migrate(settings.effective_database_url)
        rt = Runtime(settings, transport=Dropped())  # type: ignore[arg-type]
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        signer = DkimSigner({"acme.example": key}, "mailhub")
        tenant_id, space_id = seed(rt, args.watchers)
        small = max(args.watchers // 10, 1)
        print(
            f"database: {settings.effective_database_url.split(':')[0]}, {args.watchers} watchers"
        )
        # Stage 1 at N/10 watchers (the others muted for that page) and at N, for the memory
        with unit_of_work(rt.sessions) as s:
            s.execute(
                Subscription.__table__.update()
                .where(Subscription.user_id > small + 1)
                .values(level="muted")
            )
        secs, few, peak_small = new_page(rt, tenant_id, space_id, 0)
        print(f"stage 1, {len(few):>6} recipients: {secs:6.2f} s, peak {peak_small / 1e6:6.1f} MB")
        with unit_of_work(rt.sessions) as s:
            s.execute(Subscription.__table__.update().values(level="watching"))
        secs, ids, peak = new_page(rt, tenant_id, space_id, 1)
        print(f"stage 1, {len(ids):>6} recipients: {secs:6.2f} s, peak {peak / 1e6:6.1f} MB")
        # Stage 2: every notification of the big page, one after another on one core
        start = time.perf_counter()
        for i in range(0, len(ids), BATCH):
            deliver_batch(
                rt.sessions,
                rt.renderer,
                rt.transport,
                settings.base_url,
                ids[i : i + BATCH],
                signer=signer,
            )
        render = time.perf_counter() - start
        print(
            f"stage 2, {len(ids):>6} mails rendered, signed, marked sent: {render:6.2f} s "
            f"({len(ids) / render:,.0f}/s on one core)"
        )
        rt.close()


if __name__ == "__main__":
    main()
