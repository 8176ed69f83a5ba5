"""The runtime that wires settings to parts, and the dramatiq actors, which only take ids.

Each actor loads by id and calls one use case. The queue is never the only copy of anything:
the sweeper re-enqueues work whose job was lost (broker restart, worker killed), and every use
case is safe to run twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import or_, select, update

from mailhub.config import Settings
from mailhub.db import make_engine, rowcount, unit_of_work
from mailhub.domain.search import session_factory
from mailhub.mailboxes import Stores, process_inbound
from mailhub.models import InboundMessage, InboundStatus, Notification, NotificationStatus, utcnow
from mailhub.outbound import prepare
from mailhub.outbound.deliver import BATCH, deliver_batch
from mailhub.outbound.digest import Schedule, collect_due
from mailhub.outbound.render import Renderer
from mailhub.outbound.signing import DkimSigner
from mailhub.outbound.transport import OutboxTransport, SmtpRelayTransport, Transport
from mailhub.privacy import mails as privacy_mails
from mailhub.privacy.erasure import Outcome
from mailhub.privacy.proof import Places
from mailhub.privacy.retention import Retained, run_all
from mailhub.stores.filecheck import remove_stray
from mailhub.stores.files import FileStore
from mailhub.stores.rawstore import RawStore

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = 3600.0  # seconds between one sweeper's walks over the stores

# An SMTP client has at most 10 minutes per DATA block (RFC 5321 §4.5.3.2.6); twice that.
STALE_SPOOL_SECONDS = 20 * 60


def make_broker(settings: Settings) -> dramatiq.Broker:
    url = settings.broker_url
    if not url:
        return StubBroker()
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url, namespace=settings.queue_prefix)  # type: ignore[no-untyped-call]
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    return RabbitmqBroker(url=url, confirm_delivery=True)


def make_transport(settings: Settings) -> Transport:
    relay = settings.relay_address
    if relay is None:
        return OutboxTransport(settings.outbox_dir)
    return SmtpRelayTransport(
        relay[0], relay[1], settings.smtp_relay_user, settings.smtp_relay_password
    )


def send_unstored(transport: Transport, msg: EmailMessage, name: str) -> None:
    """A mail that is not kept as a row (the last one to an erased person): one try."""
    try:
        sender = msg["From"].addresses[0].addr_spec
        transport.send(name, bytes(msg), str(sender), [str(msg["To"])])
    except Exception:
        log.warning("could not send %s", name, exc_info=True)


class Runtime:
    """Everything a mailhub process needs, built once from settings and passed explicitly."""

    def __init__(self, settings: Settings, transport: Transport | None = None) -> None:
        self.settings = settings
        prepare.register(privacy_mails.MAKERS)  # privacy's mail joins outbound's kind table
        self.engine = make_engine(settings.effective_database_url)
        self.sessions = session_factory(self.engine)
        self.raw_store = RawStore(settings.raw_dir)
        self.files = FileStore(settings.files_dir)
        self.places = Places.of(settings)
        self.stores = Stores(
            self.raw_store,
            self.files,
            settings.max_attachment_size,
            tuple(t for t in settings.trusted_authserv_ids.split(",") if t.strip()),
            image_hosts=frozenset(
                h.strip().lower() for h in settings.allowed_image_hosts.split(",") if h.strip()
            ),
        )
        self.renderer = Renderer()
        self.signer = (
            DkimSigner.from_dir(Path(settings.dkim_key_dir), settings.dkim_selector)
            if settings.dkim_key_dir
            else None
        )
        self.transport = transport or make_transport(settings)
        self.broker = make_broker(settings)
        self.lease = timedelta(seconds=settings.send_lease)
        self._housekeeping_ran = float("-inf")
        prefix = settings.queue_prefix
        self.inbound_queue = f"{prefix}.inbound"
        self.outbound_queue = f"{prefix}.outbound"
        self.process_actor: Any = dramatiq.actor(
            broker=self.broker,
            actor_name="process_inbound",
            queue_name=self.inbound_queue,
            max_retries=10,
            min_backoff=500,
            max_backoff=300_000,
        )(self._process)
        self.deliver_actor: Any = dramatiq.actor(
            broker=self.broker,
            actor_name="deliver_notification",
            queue_name=self.outbound_queue,
            max_retries=10,
            min_backoff=1000,
            max_backoff=600_000,
        )(self._deliver)

    # Actors -------------------------------------------------------------------------------

    def _process(self, inbound_id: int) -> None:
        outcome = process_inbound(self.sessions, self.stores, inbound_id)
        if outcome is not None:
            log.info("inbound %s %s: %s", inbound_id, outcome.status, outcome.reason)
            self.enqueue_notifications(outcome.notification_ids)

    def _deliver(self, ids: list[int] | int) -> None:
        batch = [ids] if isinstance(ids, int) else list(ids)
        results = deliver_batch(
            self.sessions,
            self.renderer,
            self.transport,
            self.settings.base_url,
            batch,
            lease=self.lease,
            signer=self.signer,
        )
        for notification_id, status in results.items():
            log.info("notification %s %s", notification_id, status)

    # Enqueueing: best effort, because the sweeper finds whatever is not enqueued ------------

    def enqueue_inbound(self, ids: Iterable[int]) -> None:
        self._send(self.process_actor, ids)

    def enqueue_notifications(self, ids: Iterable[int]) -> None:
        """In jobs of up to BATCH ids, so a fan-out commits once per batch, not per mail."""
        ordered = list(ids)
        self._send(
            self.deliver_actor, [ordered[i : i + BATCH] for i in range(0, len(ordered), BATCH)]
        )

    def _send(self, actor: Any, ids: Iterable[Any]) -> None:
        for id_ in ids:
            try:
                actor.send(id_)
            except Exception:  # broker down: the row is committed, the sweeper will retry
                log.warning(
                    "could not enqueue %s(%s); the sweeper will",
                    actor.actor_name,
                    id_,
                    exc_info=True,
                )

    # Sweeping -----------------------------------------------------------------------------

    def sweep(self, grace: float | None = None) -> tuple[int, int]:
        """Re-enqueue work that has waited longer than `grace` seconds; return (inbound, outbound)."""
        cutoff = utcnow() - timedelta(seconds=self.settings.sweep_grace if grace is None else grace)
        inbound = self._claim_stale(
            InboundMessage,
            InboundMessage.status.in_([InboundStatus.PENDING, InboundStatus.PROCESSING]),
            cutoff,
        )
        outbound = self._claim_stale(
            Notification,
            or_(
                Notification.status == NotificationStatus.QUEUED,
                (Notification.status == NotificationStatus.SENDING)
                & (Notification.claimed_at < utcnow() - self.lease),
            ),
            cutoff,
        )
        self.enqueue_inbound(inbound)
        self.enqueue_notifications(outbound)
        self.enqueue_notifications(self.collect_digests())
        self.enqueue_notifications(self.run_exports())
        self.run_erasures()
        if time.monotonic() - self._housekeeping_ran >= HOUSEKEEPING_EVERY:
            self.housekeeping()
        if inbound or outbound:
            log.info(
                "sweeper re-enqueued %d inbound, %d notifications", len(inbound), len(outbound)
            )
        return len(inbound), len(outbound)

    def collect_digests(self, now: datetime | None = None) -> list[int]:
        """Make the digests that are due (each sweep; cheap when none are)."""
        schedule = Schedule(self.settings.hourly_digest_minute, self.settings.daily_digest_hour)
        return collect_due(self.sessions, now or utcnow(), schedule)

    def housekeeping(self) -> None:
        """What walks whole stores: stale spools, stray files, retention. Hourly, not per sweep."""
        self._housekeeping_ran = time.monotonic()
        stale = self.raw_store.remove_stale_spools(older_than=STALE_SPOOL_SECONDS)
        if stale:
            log.info("sweeper removed %d spool files left by interrupted deliveries", stale)
        with self.sessions() as session:
            stray = remove_stray(session, self.files)
        if stray:
            log.info("sweeper removed %d files left by failed transactions", len(stray))
        self.run_retention()
        self.warn_due_requests()
        self.run_backups()

    def run_exports(self) -> list[int]:
        """Build the archives of confirmed export requests (and resume any a crash left)."""
        from mailhub.privacy import requests

        with self.sessions() as session:
            pending = requests.pending_exports(session)
        mails: list[int] = []
        for request_id in pending:
            try:
                mails += requests.run_export(
                    self.sessions, request_id, self.files, self.settings.exports_dir
                )
            except Exception:
                log.exception("export %s failed; the next sweep tries again", request_id)
        return mails

    def run_erasures(self) -> list[Outcome]:
        """Carry out confirmed erasures (and resume any a crash left running)."""
        from mailhub.privacy import erasure

        with self.sessions() as session:
            pending = erasure.pending(session)
        done: list[Outcome] = []
        for request_id in pending:
            try:
                outcome = erasure.run(self.sessions, self.places, request_id)
            except Exception:
                log.exception("erasure %s failed; the next sweep tries again", request_id)
                continue
            if outcome is None:
                continue
            done.append(outcome)
            if outcome.notice is not None:
                send_unstored(self.transport, outcome.notice, f"erased-{request_id}")
        return done

    def run_backups(self, now: float | None = None) -> int:
        """Back up each tenant whose newest backup is older than MAILHUB_BACKUP_EVERY_HOURS
        (the rotation then prunes the oldest); how many were made."""
        from mailhub.models import Tenant
        from mailhub.privacy import backups

        hours = self.settings.backup_every_hours
        if not hours:
            return 0
        with self.sessions() as session:
            tenant_ids = list(session.scalars(select(Tenant.id)))
        made = 0
        for tenant_id in tenant_ids:
            if not backups.due(self.places.backups, tenant_id, hours * 3600, now):
                continue
            try:
                backups.create(
                    self.sessions,
                    self.places.keys,
                    self.places.backups,
                    self.files.root,
                    tenant_id,
                    self.settings.backup_keep,
                )
                made += 1
            except Exception:
                log.exception("backup of tenant %s failed; the next sweep tries again", tenant_id)
        if made:
            log.info("backed up %d tenants", made)
        return made

    def expire_exports(self) -> int:
        from mailhub.privacy import requests

        with unit_of_work(self.sessions) as session:
            return requests.expire_archives(session, self.settings.exports_dir)

    def warn_due_requests(self) -> list[int]:
        """Tell administrators about privacy requests due within a week (once each)."""
        from mailhub.privacy.requests import warn_due

        with unit_of_work(self.sessions) as session:
            ids = warn_due(session)
        self.enqueue_notifications(ids)
        return ids

    def run_retention(self) -> Retained:
        done = run_all(self.sessions, self.places, self.settings)
        self.enqueue_notifications(done.warnings)
        for outcome in done.erased:
            if outcome.notice is not None:
                send_unstored(self.transport, outcome.notice, f"erased-{outcome.request_id}")
        if done.incinerated.count:
            log.info(
                "retention incinerated %d raw messages (%d bytes)",
                done.incinerated.count,
                done.incinerated.bytes,
            )
        if done.archives or done.secrets or done.logs:
            log.info(
                "retention deleted %d export archives, %d link tokens and sessions, %d log files",
                done.archives,
                done.secrets,
                done.logs,
            )
        if done.warnings or done.erased:
            log.info(
                "retention warned %d unused accounts, erased %d",
                len(done.warnings),
                len(done.erased),
            )
        return done

    def _claim_stale(self, model: Any, condition: Any, cutoff: Any) -> list[int]:
        """Ids whose enqueued_at this sweeper moved forward: concurrent sweepers split the work."""
        with unit_of_work(self.sessions) as session:
            stale = session.execute(
                select(model.id, model.enqueued_at)
                .where(condition, model.enqueued_at < cutoff)
                .limit(1000)
            ).all()
            claimed = []
            now = utcnow()
            for id_, seen in stale:
                result = session.execute(
                    update(model)
                    .where(model.id == id_, model.enqueued_at == seen)
                    .values(enqueued_at=now)
                )
                if rowcount(result) == 1:
                    claimed.append(id_)
        return claimed

    def start_sweeper(self, stop: threading.Event) -> threading.Thread:
        # The in-process broker forgets its queue when the process ends, so at start-up
        # everything unfinished is lost work; a real broker still holds it, so wait as usual.
        first_grace = 0.0 if isinstance(self.broker, StubBroker) else None

        def loop() -> None:
            self._sweep_safely(first_grace)
            while not stop.wait(self.settings.sweep_interval):
                self._sweep_safely()

        thread = threading.Thread(target=loop, name="mailhub-sweeper", daemon=True)
        thread.start()
        return thread

    def _sweep_safely(self, grace: float | None = None) -> None:
        try:
            self.sweep(grace)
        except Exception:
            log.exception("sweep failed; trying again next interval")

    def start_imap_pollers(self, stop: threading.Event) -> list[threading.Thread]:
        """One thread per configured IMAP account (none when there are none)."""
        from mailhub.ingress.imap import ImapPoller
        from mailhub.models import ImapAccount

        with self.sessions() as session:
            ids = list(session.scalars(select(ImapAccount.id).order_by(ImapAccount.id)))
        threads = []
        for account_id in ids:
            poller = ImapPoller(
                self.sessions,
                self.raw_store,
                self.enqueue_inbound,
                account_id,
                self.settings.secret_key,
                poll_interval=self.settings.imap_poll_interval,
                max_message_size=self.settings.max_message_size,
            )
            thread = threading.Thread(
                target=poller.run, args=(stop,), name=f"mailhub-imap-{account_id}", daemon=True
            )
            thread.start()
            threads.append(thread)
        return threads

    def worker(self, poll_ms: int = 1000) -> dramatiq.Worker:
        """A dramatiq worker on this runtime's queues; `poll_ms` bounds how long stop() takes."""
        return dramatiq.Worker(
            self.broker, worker_threads=self.settings.worker_threads, worker_timeout=poll_ms
        )

    def close(self) -> None:
        self.broker.close()
        self.engine.dispose()
