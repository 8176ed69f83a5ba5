"""The runtime: settings wired to parts once, in one place, and passed explicitly from here.

A process (`mailhub serve`, `smtp`, `web`, `worker`, `imap`) builds one Runtime. It owns the
database engine and session factory, the stores, the renderer and DKIM signer, the transport,
the broker with its actors (actors.py), and the sweeper (sweeper.py). This is also where
privacy's mail joins outbound's kind table.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import dramatiq
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from mailhub.config import Settings
from mailhub.db import forget_deleted, make_engine
from mailhub.dns import txt_lookup
from mailhub.domain.search import session_factory
from mailhub.ingress.imap import ImapPoller
from mailhub.mailboxes import Stores
from mailhub.models import ImapAccount
from mailhub.outbound import prepare
from mailhub.outbound.render import Renderer
from mailhub.outbound.signing import DkimSigner
from mailhub.outbound.transport import SmtpRelayTransport, Transport
from mailhub.privacy import mails as privacy_mails
from mailhub.privacy.proof import Places
from mailhub.stores import file_store, raw_store
from mailhub.tasks.actors import Actors
from mailhub.tasks.leader import serve_duty
from mailhub.tasks.sweeper import Sweeper


def make_broker(settings: Settings) -> dramatiq.Broker:
    url = settings.broker_url
    if not url:
        return StubBroker()
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url, namespace=settings.queue_prefix)  # type: ignore[no-untyped-call]
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    return RabbitmqBroker(url=url, confirm_delivery=True)


def make_transport(settings: Settings, outbox: Transport) -> Transport:
    """The relay, or (none set) the outbox."""
    relay = settings.relay_address
    if relay is None:
        return outbox
    return SmtpRelayTransport(
        relay[0], relay[1], settings.smtp_relay_user, settings.smtp_relay_password
    )


class Runtime:
    """Everything a mailhub process needs, built once from settings and passed explicitly."""

    def __init__(self, settings: Settings, transport: Transport | None = None) -> None:
        self.settings = settings
        prepare.register(privacy_mails.MAKERS)  # privacy's mail joins outbound's kind table
        self.engine = make_engine(settings.effective_database_url)
        self.sessions = session_factory(self.engine)
        self.raw_store = raw_store(settings, self.engine)
        self.files = file_store(settings, self.engine)
        self.places = Places.of(settings, self.engine)
        stores = Stores(
            self.raw_store,
            self.files,
            settings.max_attachment_size,
            tuple(t for t in settings.trusted_authserv_ids.split(",") if t.strip()),
            dnsfunc=txt_lookup(settings.dns_server) if settings.dns_server else None,
            author_hourly_limit=settings.sender_rate_limit,
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
        self.transport = transport or make_transport(settings, self.places.outbox)
        self.broker = make_broker(settings)
        self.actors = Actors(
            self.broker,
            settings,
            self.sessions,
            stores,
            self.renderer,
            self.transport,
            self.signer,
        )
        self.sweeper = Sweeper(
            settings,
            self.sessions,
            self.raw_store,
            self.files,
            self.places,
            self.transport,
            self.actors,
            replays_lost_work=isinstance(self.broker, StubBroker),
        )
        # What the edges and the tests call by its plain name.
        self.inbound_queue, self.outbound_queue = (
            self.actors.inbound_queue,
            self.actors.outbound_queue,
        )
        self.enqueue_inbound = self.actors.enqueue_inbound
        self.enqueue_notifications = self.actors.enqueue_notifications
        self.sweep = self.sweeper.sweep
        self.start_sweeper = self.sweeper.start
        self.collect_digests = self.sweeper.collect_digests
        self.housekeeping = self.sweeper.housekeeping
        self.run_exports = self.sweeper.run_exports
        self.run_erasures = self.sweeper.run_erasures
        self.run_backups = self.sweeper.run_backups
        self.expire_exports = self.sweeper.expire_exports
        self.warn_due_requests = self.sweeper.warn_due_requests
        self.run_retention = self.sweeper.run_retention
        self.send_last_mails = self.sweeper.send_last_mails

    @property
    def stores(self) -> Stores:
        """What processing reads and writes; replacing it changes what the actors use."""
        return self.actors.stores

    @stores.setter
    def stores(self, stores: Stores) -> None:
        self.actors.stores = stores

    def start_imap_pollers(
        self, stop: threading.Event, enqueue: Callable[[list[int]], None] | None = None
    ) -> list[threading.Thread]:
        """One thread per configured IMAP account (none when there are none); what they store
        goes to `enqueue` (by default this runtime's actors)."""
        with self.sessions() as session:
            ids = list(session.scalars(select(ImapAccount.id).order_by(ImapAccount.id)))
        threads = []
        for account_id in ids:
            poller = ImapPoller(
                self.sessions,
                self.raw_store,
                enqueue or self.enqueue_inbound,
                account_id,
                self.settings.secret_key,
                poll_interval=self.settings.imap_poll_interval,
                max_message_size=self.settings.max_message_size,
            )
            # One process of the cluster reads each mailbox (tasks/leader.py).
            thread = threading.Thread(
                target=serve_duty,
                args=(self.sweeper.leases, f"imap:{account_id}", stop, poller.run),
                name=f"mailhub-imap-{account_id}",
                daemon=True,
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
        """A clean shutdown: the SQLite WAL is written into the database and emptied (and
        removed with the last connection of the last process)."""
        self.broker.close()
        try:
            forget_deleted(self.sessions, rewrite=False)
        except SQLAlchemyError as exc:  # the database went first: nothing to tidy
            logging.getLogger(__name__).warning("no checkpoint at shutdown: %s", exc)
        self.engine.dispose()
