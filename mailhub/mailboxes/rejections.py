"""The backstop: answering mail that cannot be used, politely, and never answering machines.

RFC 3834 §2: automatic responses go to the envelope sender, and never to mail that is itself
automatic (content/noise.py sorts that out before any mailbox runs).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.content.parse import ParsedMail
from mailhub.domain.directory import can_see, space_by_slug
from mailhub.errors import MailhubError
from mailhub.mailboxes.mail import Mail
from mailhub.models import (
    InboundMessage,
    Notification,
    NotificationKind,
    Space,
    Tenant,
    User,
    utcnow,
)
from mailhub.outbound import events
from mailhub.routing import NOTIFICATIONS


class Rejected(MailhubError):
    """The message cannot be used. `code` names the rejection text (outbound/rejection_texts),
    `params` fill its placeholders in the sender's language, `detail` is the log's English line.
    """

    def __init__(self, code: str, detail: str, **params: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.params = params


def answer(
    session: Session,
    tenant: Tenant,
    msg: InboundMessage,
    parsed: ParsedMail,
    code: str,
    detail: str,
    params: dict[str, str] | None = None,
) -> int | None:
    """Queue a rejection notice to the sender; None when this sender was told the same today.

    Automatic mail never gets here (the noise check comes first); the daily limit keeps a
    misconfigured script or a forged sender from being answered again and again.
    """
    reason = events.rejection_reason(code)
    since = utcnow() - timedelta(days=1)
    told = session.scalar(
        select(Notification.id)
        .where(
            Notification.tenant_id == tenant.id,
            Notification.kind == NotificationKind.REJECTION,
            Notification.to_addr == msg.mail_from,
            Notification.reason == reason,
            Notification.created_at >= since,
        )
        .limit(1)
    )
    if told is not None:
        return None
    return events.rejection(
        session,
        tenant,
        msg.id,
        msg.mail_from,
        code,
        detail,
        parsed.subject or "(no subject)",
        params or {},
    ).id


def may_write(mail: Mail, user: User, space: Space) -> None:
    """A restricted space takes mail from its members (and the administrators) only."""
    if user.guest or can_see(mail.session, user, space):
        return
    raise Rejected(
        "restricted_space",
        f"{user.email} is not a member of the restricted space {space.slug}",
        space=space.name,
        sender=user.email,
    )


def space_named(mail: Mail, slug: str) -> Space:
    """The space a mail is addressed to, or the unknown_space rejection (pages and forms);
    mail to the address notifications come from is told where to send instead."""
    if slug == NOTIFICATIONS:
        example = mail.session.scalar(
            select(Space.slug)
            .where(Space.tenant_id == mail.tenant.id, ~Space.restricted)
            .order_by(Space.slug)
            .limit(1)
        )
        raise Rejected(
            "notifications_address",
            f"mail to {NOTIFICATIONS}@, which only sends notifications",
            address=f"{NOTIFICATIONS}@{mail.tenant.domain}",
            example=f"{example or 'SPACE'}@{mail.tenant.domain}",
        )
    space = space_by_slug(mail.session, mail.tenant.id, slug)
    if space is None:
        raise Rejected(
            "unknown_space",
            f"there is no space {slug!r} in {mail.tenant.name}",
            space=f"{slug}@{mail.tenant.domain}",
        )
    return space
