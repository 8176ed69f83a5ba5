"""Delivering one notification exactly once: claim, render, hand over, mark sent.

The claim is a committed status change (queued → sending) with a time stamp. A second job for
the same notification finds it sent, or claimed within the lease, and does nothing; so retries
and sweeper re-enqueues never send it twice. Only a worker killed between the relay's "250"
and the commit after it can cause a repeat, and that repeat carries the same Message-ID.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from mailhub import i18n
from mailhub.db import SessionFactory, unit_of_work
from mailhub.directory import user_by_email
from mailhub.models import (
    Comment,
    InboundMessage,
    Notification,
    NotificationKind,
    NotificationStatus,
    Page,
    ReplyKey,
    Revision,
    Space,
    Tenant,
    User,
    utcnow,
)
from mailhub.outbound import actions, rejection_texts
from mailhub.outbound.compose import Draft, compose
from mailhub.outbound.events import thread_id
from mailhub.outbound.keys import hash_key, new_key
from mailhub.outbound.render import Renderer
from mailhub.outbound.signing import DkimSigner, wire_bytes
from mailhub.outbound.transport import Transport, TransportError
from mailhub.privacy.objections import has_objected

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Prepared:
    template: str
    context: dict[str, Any]
    draft: Draft
    locale: str = i18n.DEFAULT


def page_url(base_url: str, tenant: Tenant, page_id: int) -> str:
    return f"{base_url.rstrip('/')}/t/{tenant.slug}/pages/{page_id}"


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
        now = utcnow()
        if n.status == NotificationStatus.SENDING and n.claimed_at and now - n.claimed_at < lease:
            return "busy"
        n.status, n.claimed_at, n.attempts = NotificationStatus.SENDING, now, n.attempts + 1
        prepared = _prepare(session, n, base_url)
        attempts = n.attempts
    msg, envelope = compose(
        prepared.draft, renderer.render(prepared.template, prepared.context, prepared.locale)
    )
    data = wire_bytes(msg, signer)
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


def _prepare(session: Session, n: Notification, base_url: str) -> Prepared:
    tenant = session.get_one(Tenant, n.tenant_id)
    sender = f"notifications@{tenant.domain}"
    if n.kind == NotificationKind.REJECTION:
        return _prepare_rejection(session, n, tenant, sender)
    assert n.user_id is not None and n.page_id is not None
    user = session.get_one(User, n.user_id)
    page = session.get_one(Page, n.page_id)
    space = session.get_one(Space, page.space_id)
    if user.tenant_id != tenant.id or page.tenant_id != tenant.id:
        raise ValueError(
            f"notification {n.id} crosses tenants"
        )  # never render another tenant's data
    key = new_key()
    reply_key = ReplyKey(
        tenant_id=tenant.id, user_id=user.id, page_id=page.id, key_hash=hash_key(key)
    )
    session.add(reply_key)
    session.flush()
    n.reply_key_id = reply_key.id
    url = page_url(base_url, tenant, page.id)
    if n.kind == NotificationKind.COMMENT_ADDED:
        assert n.comment_id is not None
        comment = session.get_one(Comment, n.comment_id)
        author = session.get_one(User, comment.author_id)
        body_html, body_text = comment.body_html, comment.body_text
        url += f"#comment-{comment.id}"
        subject, template, action = (
            f"Re: [{space.name}] {page.title}",
            "comment_added",
            "View comment",
        )
    else:
        author = session.get_one(User, page.author_id)
        rev = (
            session.query(Revision)
            .filter_by(page_id=page.id)
            .order_by(Revision.number.desc())
            .first()
        )
        body_html, body_text = (rev.body_html, rev.body_text) if rev else ("", "")
        subject, template, action = f"[{space.name}] {page.title}", "page_created", "View page"
    markup = actions.view_action(
        url, action, f"{author.name} in {space.name}: {page.title}", tenant.name, base_url
    )
    context = {
        "subject": subject,
        "json_ld": actions.to_script(markup),
        "author_name": author.name,
        "space_name": space.name,
        "page_title": page.title,
        "body_html": body_html,
        "body_text": body_text,
        "page_url": url,
        "reason": n.reason,
        "tenant_name": tenant.name,
    }
    draft = Draft(
        from_name=f"{author.name} ({tenant.name})",
        from_addr=sender,
        to_name=user.name,
        to_addr=user.email,
        subject=subject,
        message_id=n.message_id,
        reason=n.reason,
        reply_to=f"reply+{key}@{tenant.domain}",
        thread_root=thread_id(tenant, page.id),
        list_id=f'"{space.name}" <{space.slug}.{tenant.domain}>',
    )
    return Prepared(template, context, draft)


def _prepare_rejection(session: Session, n: Notification, tenant: Tenant, sender: str) -> Prepared:
    assert n.inbound_id is not None
    inbound = session.get_one(InboundMessage, n.inbound_id)
    # A member's own language if they chose one, else the tenant's: strangers get the latter.
    known = user_by_email(session, tenant.id, n.to_addr)
    locale = i18n.negotiate(known.locale if known else None, tenant.locale)
    _ = i18n.translator(locale)
    code = n.context["code"]
    what, todo = rejection_texts.explain(_, code, n.context.get("params", {}), tenant.name)
    original_to = ", ".join(inbound.rcpt_to)
    published = code in rejection_texts.PUBLISHED_ANYWAY
    subject = _(
        "Your message was published without some files"
        if published
        else "Your message could not be used"
    )
    context = {
        "subject": subject,
        "json_ld": "",
        "original_subject": n.context.get("subject", ""),
        "published": published,
        "original_to": original_to,
        "what": what,
        "todo": todo,
        "tenant_name": tenant.name,
    }
    draft = Draft(
        from_name=_("{tenant} intranet", tenant=tenant.name),
        from_addr=sender,
        to_name="",
        to_addr=n.to_addr,
        subject=subject,
        message_id=n.message_id,
        reason=n.reason,
        auto_submitted="auto-replied",
        thread_root=inbound.message_id,
    )
    return Prepared("rejection", context, draft, locale)
