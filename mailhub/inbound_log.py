"""The inbound log: every message that came in, with its status and the reason for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.directory import get_tenant
from mailhub.errors import NotFound
from mailhub.models import InboundMessage


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
        list(m.rcpt_to),
        m.message_id,
        m.size,
        m.attempts,
        m.received_at,
        m.processed_at,
    )


def list_inbound(
    session: Session, tenant_slug: str, status: str | None = None, limit: int = 200
) -> list[InboundEntry]:
    tenant = get_tenant(session, tenant_slug)
    query = select(InboundMessage).where(InboundMessage.tenant_id == tenant.id)
    if status:
        query = query.where(InboundMessage.status == status)
    return [
        _entry(m) for m in session.scalars(query.order_by(InboundMessage.id.desc()).limit(limit))
    ]


def show_inbound(session: Session, tenant_slug: str, inbound_id: int) -> InboundEntry:
    tenant = get_tenant(session, tenant_slug)
    m = session.scalar(
        select(InboundMessage).where(
            InboundMessage.id == inbound_id, InboundMessage.tenant_id == tenant.id
        )
    )
    if m is None:
        raise NotFound(f"no inbound message {inbound_id} in {tenant.slug}")
    return _entry(m)
