"""Delivering one notification exactly once: claim, render, hand over, mark sent.

The claim is a committed status change (queued → sending) with a time stamp. A second job for
the same notification finds it sent, or claimed within the lease, and does nothing; so retries
and sweeper re-enqueues never send it twice. Only a worker killed between the relay's "250"
and the commit after it can cause a repeat, and that repeat carries the same Message-ID.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from mailhub.db import SessionFactory, unit_of_work
from mailhub.models import Notification, NotificationStatus, Suppression, utcnow
from mailhub.outbound.compose import compose
from mailhub.outbound.prepare import prepare
from mailhub.outbound.render import Renderer
from mailhub.outbound.signing import DkimSigner
from mailhub.outbound.transport import Transport, TransportError
from mailhub.privacy.objections import has_objected

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


def deliver_notification(
    factory: SessionFactory,
    renderer: Renderer,
    transport: Transport,
    base_url: str,
    notification_id: int,
    lease: timedelta = timedelta(minutes=5),
    signer: DkimSigner | None = None,
) -> str:
    """Send one notification if it is still owed; return the status it ends in."""
    with unit_of_work(factory) as session:
        n = session.get(Notification, notification_id, with_for_update=True)
        if n is None:
            return "missing"
        if n.status in (
            NotificationStatus.SENT,
            NotificationStatus.FAILED,
            NotificationStatus.SUPPRESSED,
        ):
            return n.status
        if n.user_id is not None and has_objected(session, n.user_id):
            # Objected after this was queued: the objection wins, right up to the send.
            n.status, n.last_error = NotificationStatus.SUPPRESSED, "recipient objected"
            return n.status
        if session.scalar(
            select(Suppression.id).where(
                Suppression.tenant_id == n.tenant_id,
                Suppression.address == n.to_addr.lower(),
                Suppression.suppressed,
            )
        ):
            n.status, n.last_error = NotificationStatus.SUPPRESSED, "the address bounces"
            return n.status
        now = utcnow()
        if n.status == NotificationStatus.SENDING and n.claimed_at and now - n.claimed_at < lease:
            return "busy"
        n.status, n.claimed_at, n.attempts = NotificationStatus.SENDING, now, n.attempts + 1
        prepared = prepare(session, n, base_url)
        attempts = n.attempts
    data, envelope = compose(
        prepared.draft, renderer.render(prepared.template, prepared.context, prepared.locale)
    )
    if signer is not None:
        data = signer.sign(data, prepared.draft.from_addr.rpartition("@")[2])
    try:
        transport.send(
            f"notification-{notification_id}", data, envelope.mail_from, envelope.rcpt_to
        )
    except TransportError as exc:
        final = exc.permanent or attempts >= MAX_ATTEMPTS
        with unit_of_work(factory) as session:
            session.execute(
                update(Notification)
                .where(Notification.id == notification_id)
                .values(
                    status=NotificationStatus.FAILED if final else NotificationStatus.QUEUED,
                    last_error=str(exc)[:2000],
                    claimed_at=None,
                )
            )
        if final:
            log.warning("notification %s failed for good: %s", notification_id, exc)
            return NotificationStatus.FAILED
        raise
    with unit_of_work(factory) as session:
        session.execute(
            update(Notification)
            .where(Notification.id == notification_id)
            .values(status=NotificationStatus.SENT, sent_at=utcnow(), last_error="")
        )
    return NotificationStatus.SENT
