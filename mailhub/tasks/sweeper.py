"""The sweeper: re-enqueues work whose job was lost (broker restart, worker killed), makes the
digests that are due, runs confirmed exports and erasures, reads the words inside new
attachments for search; hourly, walks the stores
(stale spools, stray files), applies retention, warns of due privacy requests and backs up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from mailhub.config import Settings
from mailhub.db import SessionFactory, rowcount, unit_of_work
from mailhub.domain import attachment_text
from mailhub.metrics import SWEEPER_RUNS
from mailhub.models import (
    DUE_NOW,
    InboundMessage,
    InboundStatus,
    Notification,
    NotificationStatus,
    Tenant,
    utcnow,
)
from mailhub.outbound.deliver import send_unstored
from mailhub.outbound.digest import Schedule, collect_due
from mailhub.outbound.transport import Transport
from mailhub.privacy import backups, erasure, requests
from mailhub.privacy.erasure import Outcome
from mailhub.privacy.proof import Places
from mailhub.privacy.requests import warn_due
from mailhub.privacy.retention import Retained, run_all
from mailhub.stores.filecheck import remove_stray, remove_stray_raw
from mailhub.stores.files import FileStore
from mailhub.stores.rawstore import RawStore
from mailhub.tasks.actors import Actors
from mailhub.tasks.leader import Leases

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = 3600.0  # seconds between one sweeper's look at its host's spool files

# An SMTP client has at most 10 minutes per DATA block (RFC 5321 §4.5.3.2.6); twice that.
STALE_SPOOL_SECONDS = 20 * 60
CACHE_UNUSED = 600.0  # seconds a host keeps a blob it read (raw mail, a file) it is not using


class Sweeper:
    def __init__(
        self,
        settings: Settings,
        sessions: SessionFactory,
        raw_store: RawStore,
        files: FileStore,
        places: Places,
        transport: Transport,
        actors: Actors,
        *,
        replays_lost_work: bool,
    ) -> None:
        """`replays_lost_work`: the in-process broker forgets its queue when the process
        ends, so at start-up everything unfinished is lost work and the first sweep takes it
        at once; a real broker still holds it, so the first sweep waits as usual."""
        self.settings, self.sessions = settings, sessions
        self.raw_store, self.files, self.places = raw_store, files, places
        self.transport = transport
        self.renderer, self.signer = actors.renderer, actors.signer
        self.enqueue_inbound = actors.enqueue_inbound
        self.enqueue_notifications = actors.enqueue_notifications
        self.lease = actors.lease
        self.replays_lost_work = replays_lost_work
        self.leases = Leases(sessions, settings.leader_lease)
        self._spools_checked = float("-inf")

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
        # Digests and housekeeping: one sweeper of the cluster at a time, once per period.
        SWEEPER_RUNS.labels("sweep").inc()
        if self.leases.run_once(
            "digests",
            self.settings.sweep_interval / 2,
            lambda: self.enqueue_notifications(self.collect_digests()),
        ):
            SWEEPER_RUNS.labels("digests").inc()
        self.enqueue_notifications(self.run_exports())
        self.run_erasures()
        attachment_text.read_pending(self.sessions, self.files)  # for search, a batch a pass
        if self.leases.run_once(
            "housekeeping", self.settings.housekeeping_every, self.housekeeping
        ):
            SWEEPER_RUNS.labels("housekeeping").inc()
        if time.monotonic() - self._spools_checked >= HOUSEKEEPING_EVERY:
            self.remove_stale_spools()  # this host's own spool directory
        # This host's copies of blobs (raw mail, files, outbox mail in the database): those
        # unused for CACHE_UNUSED seconds, and at once those whose blob is gone (erased,
        # incinerated). (Backups are read in place, never copied but by the proof, which
        # removes each copy once read.)
        for blobs in (
            self.raw_store.blobs,
            self.files.blobs,
            self.places.export_blobs,
            self.places.outbox.blobs,
        ):
            if blobs is not None:
                blobs.prune_cache(CACHE_UNUSED)
        if inbound or outbound:
            log.info(
                "sweeper re-enqueued %d inbound, %d notifications", len(inbound), len(outbound)
            )
        return len(inbound), len(outbound)

    def collect_digests(self, now: datetime | None = None) -> list[int]:
        """Make the digests that are due (each sweep; cheap when none are)."""
        schedule = Schedule(self.settings.hourly_digest_minute, self.settings.daily_digest_hour)
        return collect_due(self.sessions, now or utcnow(), schedule)

    def remove_stale_spools(self) -> None:
        """This host's spools of interrupted deliveries."""
        self._spools_checked = time.monotonic()
        stale = self.raw_store.remove_stale_spools(older_than=STALE_SPOOL_SECONDS)
        if stale:
            log.info("sweeper removed %d spool files left by interrupted deliveries", stale)

    def housekeeping(self) -> None:
        """What walks whole stores: stray files, retention, due-date warnings, backups. Hourly
        (MAILHUB_HOUSEKEEPING_EVERY), by one sweeper of the cluster (tasks/leader.py)."""
        log.info("housekeeping by %s", self.leases.holder)
        with self.sessions() as session:
            stray = remove_stray(session, self.files)
            stray_raw = remove_stray_raw(session, self.raw_store)
        if stray or stray_raw:
            log.info(
                "sweeper removed %d files and %d raw messages left by failed transactions",
                len(stray),
                stray_raw,
            )
        self.run_retention()
        self.warn_due_requests()
        self.run_backups()

    def run_exports(self) -> list[int]:
        """Build the archives of confirmed export requests (and resume any a crash left)."""
        with self.sessions() as session:
            pending = requests.pending_exports(session)
        mails: list[int] = []
        for request_id in pending:
            try:
                mails += requests.run_export(
                    self.sessions,
                    request_id,
                    self.files,
                    self.settings.exports_dir,
                    self.places.export_blobs,
                )
            except Exception:
                log.exception("export %s failed; the next sweep tries again", request_id)
        return mails

    def run_erasures(self) -> list[Outcome]:
        """Carry out confirmed erasures (and resume any a crash left running)."""
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
        self.send_last_mails(done)
        return done

    def run_backups(self, now: float | None = None) -> int:
        """Back up each tenant whose newest backup is older than MAILHUB_BACKUP_EVERY_HOURS
        (the rotation then prunes the oldest); how many were made."""
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
                    self.files,
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
        with unit_of_work(self.sessions) as session:
            return requests.expire_archives(
                session, self.settings.exports_dir, blobs=self.places.export_blobs
            )

    def warn_due_requests(self) -> list[int]:
        """Tell administrators about privacy requests due within a week (once each)."""
        with unit_of_work(self.sessions) as session:
            ids = warn_due(session)
        self.enqueue_notifications(ids)
        return ids

    def run_retention(self) -> Retained:
        done = run_all(self.sessions, self.places, self.settings)
        self.enqueue_notifications(done.warnings)
        self.send_last_mails(done.erased)
        if done.incinerated.count:
            log.info(
                "retention incinerated %d raw messages (%d bytes)",
                done.incinerated.count,
                done.incinerated.bytes,
            )
        if done.archives or done.secrets or done.logs or done.outbox:
            log.info(
                "retention deleted %d export archives, %d link tokens and sessions, %d log files, "
                "%d outbox mails",
                done.archives,
                done.secrets,
                done.logs,
                done.outbox,
            )
        if done.warnings or done.erased:
            log.info(
                "retention warned %d unused accounts, erased %d",
                len(done.warnings),
                len(done.erased),
            )
        return done

    def send_last_mails(self, erased: list[Outcome]) -> None:
        """The mail that tells each erased person it is done: sent once, never stored."""
        for outcome in erased:
            if outcome.notice is not None:
                send_unstored(
                    self.renderer,
                    self.transport,
                    self.signer,
                    outcome.notice,
                    f"erased-{outcome.request_id}",
                )

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

    def start(self, stop: threading.Event, interval: float | None = None) -> threading.Thread:
        first_grace = 0.0 if self.replays_lost_work else None
        every = self.settings.sweep_interval if interval is None else interval

        def loop() -> None:
            self._sweep_safely(first_grace)
            while not stop.wait(every):
                self._sweep_safely()

        thread = threading.Thread(target=loop, name="mailhub-sweeper", daemon=True)
        thread.start()
        return thread

    def _sweep_safely(self, grace: float | None = None) -> None:
        try:
            self.sweep(grace)
        except Exception:
            log.exception("sweep failed; trying again next interval")


def due_now(sessions: SessionFactory, model: Any) -> Callable[[Iterable[int]], None]:
    """For a process with no broker to its worker (`mailhub web` alone, `mailhub serve`'s SMTP
    and web): mark the rows due, so the worker's next sweep takes them without waiting out its
    grace period."""

    def mark(ids: Iterable[int]) -> None:
        wanted = list(ids)
        if not wanted:
            return
        with unit_of_work(sessions) as session:
            session.execute(update(model).where(model.id.in_(wanted)).values(enqueued_at=DUE_NOW))

    return mark
