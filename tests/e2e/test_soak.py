"""Soak: 2,000 mixed messages over SMTP while the worker is killed (SIGKILL) and restarted.

Real processes: `mailhub smtp` and `mailhub worker` on PostgreSQL and Redis. Zero lost (every
message accepted ends in its expected final status), zero duplicated (one page per message,
one notification per page and follower).
"""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import threading
import time
import uuid
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select

from mailhub.db import migrate
from mailhub.models import Attachment, InboundMessage, Notification, Page
from mailhub.tasks import Runtime

from conftest import REDIS_URL, add_small_acme, free_port, make_settings, wait_until
from helpers import MAILHUB, listening

MESSAGES = 2000
SENDERS = 4


def _message(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann Author <ann@acme.example>"
    msg["To"] = "sales@acme.example"
    msg["Message-ID"] = f"<soak-{i}@mail.acme.example>"
    kind = i % 4
    if kind == 3:  # an out-of-office reply: stored, ignored, never answered
        msg["Subject"] = f"Out of office: update {i}"
        msg["Auto-Submitted"] = "auto-replied"
        msg.set_content("Back on Monday.")
        return msg.as_bytes()
    msg["Subject"] = f"Update {i}"
    msg.set_content(f"Plain update number {i}.\n")
    if kind == 1:
        msg.add_alternative(f"<p>HTML update <b>{i}</b></p>", subtype="html")
    elif kind == 2:
        msg.add_attachment(
            os.urandom(50_000),
            maintype="application",
            subtype="octet-stream",
            filename=f"data-{i}.bin",
        )
    return msg.as_bytes()


def _send_all(port: int, start: int, step: int, failures: list[str]) -> None:
    deadline = time.monotonic() + 300  # bounded: a stuck server fails the test, never hangs it
    for i in range(start, MESSAGES, step):
        if time.monotonic() > deadline:
            failures.append(f"gave up at message {i}: out of time")
            return
        for attempt in range(20):  # a real MTA retries on 4xx and on connection errors
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
                    s.sendmail("ann@acme.example", ["sales@acme.example"], _message(i))
                break
            except (smtplib.SMTPException, OSError) as exc:
                if attempt == 19:
                    failures.append(f"{i}: {exc}")
                time.sleep(0.2)


def test_soak_2000_messages_with_the_worker_killed(tmp_path: Path, pg_database: str) -> None:
    smtp_port = free_port()
    env_extra = {
        "MAILHUB_DATABASE_URL": pg_database,
        "MAILHUB_BROKER_URL": REDIS_URL,
        "MAILHUB_QUEUE_PREFIX": f"soak{uuid.uuid4().hex[:8]}",
        "MAILHUB_SMTP_PORT": str(smtp_port),
        "MAILHUB_SWEEP_INTERVAL": "0.5",
        "MAILHUB_SWEEP_GRACE": "3",
        "MAILHUB_SEND_LEASE": "3",
        "MAILHUB_WORKER_THREADS": "4",
        "MAILHUB_LOG_LEVEL": "WARNING",
        "MAILHUB_SENDER_RATE_LIMIT": "0",  # one sender sends all 2,000 here
    }
    settings = make_settings(tmp_path, **env_extra)
    settings.data_dir.mkdir(parents=True)
    migrate(settings.effective_database_url)
    rt = Runtime(settings)
    add_small_acme(rt, hourly_cap=0)  # every page mailed at once: no folding into digests
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
    env.update({"MAILHUB_DATA_DIR": str(settings.data_dir), **env_extra})

    def spawn(command: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [MAILHUB, command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    smtp = spawn("smtp")
    wait_until(lambda: listening(smtp_port))
    failures: list[str] = []
    senders = [
        threading.Thread(target=_send_all, args=(smtp_port, k, SENDERS, failures))
        for k in range(SENDERS)
    ]
    for th in senders:
        th.start()
    worker = spawn("worker")
    kills = 0
    try:
        while any(th.is_alive() for th in senders):  # kill the busy worker every 2 s
            time.sleep(2)
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
            kills += 1
            worker = spawn("worker")
        for th in senders:
            th.join()
        assert failures == []
        expected_pages = sum(1 for i in range(MESSAGES) if i % 4 != 3)

        def done() -> bool:
            with rt.sessions() as s:
                final = s.scalar(
                    select(func.count())
                    .select_from(InboundMessage)
                    .where(InboundMessage.status.in_(["processed", "ignored"]))
                )
                sent = s.scalar(
                    select(func.count())
                    .select_from(Notification)
                    .where(Notification.status == "sent")
                )
            return final == MESSAGES and sent == expected_pages

        wait_until(done, timeout=300, interval=0.5)
    finally:
        worker.send_signal(signal.SIGTERM)
        smtp.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        smtp.wait(timeout=30)

    with rt.sessions() as s:
        statuses = Counter(s.scalars(select(InboundMessage.status)))
        per_message = Counter(s.scalars(select(Page.source_inbound_id)))
        attachments = s.scalar(select(func.count()).select_from(Attachment))
        notifications = Counter(s.scalars(select(Notification.page_id)))
    assert kills >= 2
    assert statuses == {"processed": expected_pages, "ignored": MESSAGES - expected_pages}
    assert len(per_message) == expected_pages and set(per_message.values()) == {1}
    assert attachments == MESSAGES // 4
    assert len(notifications) == expected_pages and set(notifications.values()) == {1}
    assert len(list(settings.outbox_dir.glob("*.eml"))) == expected_pages
    rt.close()
