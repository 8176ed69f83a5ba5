"""Retention: raw mail is incinerated once it has served its purpose.

A message's raw file is destroyed a set number of days after it reached a final status
(MAILHUB_RAW_RETENTION_DAYS, 30) — sooner for mail that was never used (rejected, bounced,
ignored: MAILHUB_REJECTED_RETENTION_DAYS, 7). Files before rows: the file goes first, then the
row is stripped of everything personal and stays as the record of the incineration (tenant,
status, reason code, size, dates), as Rails Action Mailbox's incineration does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, select

from mailhub.db import SessionFactory, unit_of_work
from mailhub.ingress.rawstore import RawStore
from mailhub.models import InboundMessage, InboundStatus, utcnow

UNUSED = (InboundStatus.REJECTED, InboundStatus.BOUNCED, InboundStatus.IGNORED)
BATCH = 500


@dataclass(frozen=True)
class Incinerated:
    count: int
    bytes: int


def incinerate_due(
    factory: SessionFactory, raw: RawStore, keep_days: int, keep_unused_days: int
) -> Incinerated:
    now = utcnow()
    used_before = now - timedelta(days=keep_days)
    unused_before = now - timedelta(days=keep_unused_days)
    count = size = 0
    while True:
        with unit_of_work(factory) as session:
            due = list(
                session.scalars(
                    select(InboundMessage)
                    .where(
                        InboundMessage.incinerated_at.is_(None),
                        or_(
                            and_(
                                InboundMessage.status.in_([s.value for s in UNUSED]),
                                InboundMessage.processed_at < unused_before,
                            ),
                            and_(
                                InboundMessage.status.in_(
                                    [InboundStatus.PROCESSED.value, InboundStatus.FAILED.value]
                                ),
                                InboundMessage.processed_at < used_before,
                            ),
                        ),
                    )
                    .order_by(InboundMessage.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            for msg in due:
                raw.delete(msg.raw_path)  # files before rows
                strip_inbound(msg)
                msg.incinerated_at = now
                count += 1
                size += msg.size
        if len(due) < BATCH:
            return Incinerated(count, size)


def strip_inbound(msg: InboundMessage) -> None:
    """Keep what says what happened; drop everything that says who or what was written."""
    msg.mail_from = ""
    msg.rcpt_to = []
    msg.peer = ""
    # A hash still lets a late duplicate be recognised without keeping the identifier.
    msg.message_id = (
        "<" + hashlib.sha256(msg.message_id.encode()).hexdigest() + "@incinerated.invalid>"
    )
    msg.reason = msg.reason.split(":", 1)[0].split(";", 1)[0][:100]  # the code, not the detail
    msg.raw_path = ""


def forget_expired_secrets(factory: SessionFactory, keep_days: int = 30) -> int:
    """Delete action tokens that expired more than `keep_days` ago (until then a late click is
    told "expired" rather than "not valid") and web sessions past their expiry."""
    from sqlalchemy import delete

    from mailhub.db import rowcount
    from mailhub.models import ActionToken
    from mailhub.signin import purge_expired

    with unit_of_work(factory) as session:
        tokens = rowcount(
            session.execute(
                delete(ActionToken).where(
                    ActionToken.expires_at < utcnow() - timedelta(days=keep_days)
                )
            )
        )
        return tokens + purge_expired(session)
