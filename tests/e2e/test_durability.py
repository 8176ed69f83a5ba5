"""Killing the worker with SIGKILL mid-processing loses nothing and creates nothing twice.

PostgreSQL + Redis, `mailhub worker` as a real process, a real SMTP relay (sink). The worker is
killed twice while it is busy; a fresh one (with its sweeper) finishes the work.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from mailhub.db import migrate, unit_of_work
from mailhub.domain import directory, preferences
from mailhub.ingress.accept import Envelope, store_inbound
from mailhub.models import InboundMessage, Notification, Page
from mailhub.tasks import Runtime

from conftest import REDIS_URL, free_port, make_settings, wait_until
from helpers import MAILHUB, fixture
from smtp_sink import SmtpSink

MESSAGES = 150


def _count(rt: Runtime, query) -> int:  # type: ignore[no-untyped-def]
    with rt.sessions() as s:
        return int(s.scalar(query) or 0)


def test_sigkill_mid_processing_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, pg_database: str
) -> None:
    sink_port = free_port()
    env_extra = {
        "MAILHUB_DATABASE_URL": pg_database,
        "MAILHUB_BROKER_URL": REDIS_URL,
        "MAILHUB_QUEUE_PREFIX": f"t{uuid.uuid4().hex[:10]}",
        "MAILHUB_SMTP_RELAY": f"127.0.0.1:{sink_port}",
        "MAILHUB_SWEEP_INTERVAL": "0.5",
        "MAILHUB_SWEEP_GRACE": "2",
        "MAILHUB_SEND_LEASE": "3",
        "MAILHUB_WORKER_THREADS": "4",
    }
    settings = make_settings(tmp_path, **env_extra)
    settings.data_dir.mkdir(parents=True)
    migrate(settings.effective_database_url)
    rt = Runtime(settings)  # the producer side, as `mailhub smtp` would be
    with unit_of_work(rt.sessions) as s:
        t = directory.add_tenant(s, "acme", "acme.example", "Acme")
        t.hourly_cap = 0  # every page mailed at once: no folding into digests
        t.publish_receipts = False  # three readers, three mails per page
        directory.add_user(s, t, "ann@acme.example", "Ann")
        sales = directory.add_space(s, t, "sales")
        for i in range(3):
            u = directory.add_user(s, t, f"reader{i}@acme.example", f"Reader {i}")
            preferences.follow(s, t, u, sales)
    base = fixture("page_plain.eml")
    for i in range(MESSAGES):
        raw = base.replace(b"<CAF8k2xQ-q3review-1@", f"<durability-{i}@".encode())
        accepted = store_inbound(
            rt.sessions, rt.raw_store, raw, Envelope("ann@acme.example", ("sales@acme.example",))
        )
        rt.enqueue_inbound([a.inbound_id for a in accepted])

    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
    env.update(
        {"MAILHUB_DATA_DIR": str(settings.data_dir), "MAILHUB_LOG_LEVEL": "WARNING", **env_extra}
    )
    interrupted: set[int] = set()
    with SmtpSink(sink_port) as sink:
        for threshold in (20, 70):
            worker = subprocess.Popen(
                [MAILHUB, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            wait_until(
                lambda t=threshold: _count(rt, select(func.count()).select_from(Page)) >= t,
                timeout=60,
            )
            os.kill(worker.pid, signal.SIGKILL)  # Given the worker dies while busy
            worker.wait(timeout=10)
            with rt.sessions() as s:
                interrupted |= set(
                    s.scalars(
                        select(InboundMessage.id).where(InboundMessage.status == "processing")
                    )
                )
                interrupted |= set(
                    s.scalars(select(Notification.id).where(Notification.status == "sending"))
                )

        # When a fresh worker starts, its sweeper finds what the dead ones left
        worker = subprocess.Popen(
            [MAILHUB, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_until(
                lambda: (
                    _count(
                        rt,
                        select(func.count())
                        .select_from(InboundMessage)
                        .where(InboundMessage.status == "processed"),
                    )
                    == MESSAGES
                ),
                timeout=120,
            )
            wait_until(
                lambda: (
                    _count(
                        rt,
                        select(func.count())
                        .select_from(Notification)
                        .where(Notification.status == "sent"),
                    )
                    == 3 * MESSAGES
                ),
                timeout=120,
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        received = sink.received

    # Then every message made exactly one page
    with rt.sessions() as s:
        per_message = Counter(s.scalars(select(Page.source_inbound_id)))
        assert len(per_message) == MESSAGES and set(per_message.values()) == {1}
        statuses = Counter(s.scalars(select(InboundMessage.status)))
        assert statuses == {"processed": MESSAGES}
        sending_attempts = {n.id: n.attempts for n in s.scalars(select(Notification))}

    # And every notification reached the relay; one sent twice must be one whose worker died
    # between the relay's "250" and the commit after it (same Message-ID, so clients collapse it)
    delivered = Counter((r.rcpt_tos[0], str(r.message["Message-ID"])) for r in received)
    assert len(delivered) == 3 * MESSAGES
    repeats = sum(n - 1 for n in delivered.values())
    # At most one per send in flight when a worker died: two kills, four sending threads each.
    assert repeats <= 2 * 4, f"{repeats} repeats for two kills"
    repeated = [key for key, n in delivered.items() if n > 1]
    assert sum(1 for a in sending_attempts.values() if a > 1) >= len(repeated)
    rt.close()
    assert interrupted, "the kills should have caught work in flight"
