"""The inbound log: every message that came in, with its status and the reason for it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.domain.directory import get_tenant
from mailhub.errors import InvalidInput, NotFound
from mailhub.models import DUE_NOW, InboundMessage, InboundStatus, utcnow
from mailhub.routing import shown


@dataclass(frozen=True)
class InboundEntry:
    id: int
    status: str
    reason: str
    mail_from: str
    rcpt_to: list[str]
    message_id: str
    size: int
    attempts: int
    received_at: datetime
    processed_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "received_at": self.received_at.isoformat() + "Z",
            "processed_at": self.processed_at.isoformat() + "Z" if self.processed_at else None,
        }


def _entry(m: InboundMessage) -> InboundEntry:
    return InboundEntry(
        m.id,
        m.status,
        m.reason,
        m.mail_from,
        [shown(r) for r in m.rcpt_to],  # reply+…@: no key on screen
        m.message_id,
        m.size,
        m.attempts,
        m.received_at,
        m.processed_at,
    )


def list_inbound(
    session: Session, tenant_slug: str, status: str | None = None, limit: int = 200, offset: int = 0
) -> list[InboundEntry]:
    tenant = get_tenant(session, tenant_slug)
    query = select(InboundMessage).where(InboundMessage.tenant_id == tenant.id)
    if status:
        query = query.where(InboundMessage.status == status)
    return [
        _entry(m)
        for m in session.scalars(
            query.order_by(InboundMessage.id.desc()).offset(offset).limit(limit)
        )
    ]


def _get(session: Session, tenant_slug: str, inbound_id: int) -> InboundMessage:
    tenant = get_tenant(session, tenant_slug)
    m = session.scalar(
        select(InboundMessage).where(
            InboundMessage.id == inbound_id, InboundMessage.tenant_id == tenant.id
        )
    )
    if m is None:
        raise NotFound(f"no inbound message {inbound_id} in {tenant.slug}")
    return m


def show_inbound(session: Session, tenant_slug: str, inbound_id: int) -> InboundEntry:
    m = _get(session, tenant_slug, inbound_id)
    return _entry(m)


def retry_inbound(session: Session, tenant_slug: str, inbound_id: int) -> InboundEntry:
    """Put a failed (or rejected) message back in line; the next sweep hands it to a worker.

    Processed, bounced and ignored messages are final in a way a retry cannot change, and a
    message still in line needs no retry.
    """
    m = _get(session, tenant_slug, inbound_id)
    if m.status not in (InboundStatus.FAILED, InboundStatus.REJECTED):
        raise InvalidInput(
            f"inbound message {inbound_id} is {m.status}; only failed or rejected ones can be retried"
        )
    m.status = InboundStatus.PENDING
    m.attempts = 0
    m.reason = f"retry requested (was: {m.reason})"[:2000]
    m.processed_at = None
    m.enqueued_at = DUE_NOW  # due for the very next sweep
    session.flush()
    return _entry(m)


def _held(session: Session, tenant_slug: str, inbound_id: int) -> InboundMessage:
    m = _get(session, tenant_slug, inbound_id)
    if m.status != InboundStatus.HELD:
        raise InvalidInput(f"inbound message {inbound_id} is {m.status}, not held for moderation")
    return m


def approve(session: Session, tenant_slug: str, inbound_id: int) -> InboundEntry:
    """A moderator vouches for the sender: the message is processed, without the check."""
    m = _held(session, tenant_slug, inbound_id)
    m.moderation = "approved"
    m.status = InboundStatus.PENDING
    m.reason = f"approved by a moderator (was: {m.reason})"[:2000]
    m.enqueued_at = DUE_NOW  # due for the very next sweep
    session.flush()
    return _entry(m)


def reject_held(session: Session, tenant_slug: str, inbound_id: int) -> InboundEntry:
    """Not answered: the From of mail that failed authentication may well be forged."""
    m = _held(session, tenant_slug, inbound_id)
    m.status = InboundStatus.REJECTED
    m.reason = f"rejected by a moderator (was: {m.reason})"[:2000]
    m.processed_at = utcnow()
    session.flush()
    return _entry(m)


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
