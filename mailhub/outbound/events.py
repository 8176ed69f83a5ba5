"""Turning something that happened into notification rows, one per recipient.

Rows are written in the same transaction as the content, so an event is never lost between
the two, and their unique event keys make handling an event twice harmless.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from mailhub.models import Comment, Notification, NotificationKind, Page, Space, Tenant
from mailhub.outbound import recipients


def thread_id(tenant: Tenant, page_id: int) -> str:
    """The Message-ID every mail about a page refers to, so clients thread them (as GitHub does)."""
    return f"<{tenant.slug}/pages/{page_id}@{tenant.domain}>"


def page_created(session: Session, tenant: Tenant, page: Page, space: Space) -> list[Notification]:
    rows = [
        Notification(
            tenant_id=tenant.id,
            kind=NotificationKind.PAGE_CREATED,
            event_key=f"page:{page.id}:created:user:{r.user.id}",
            to_addr=r.user.email,
            user_id=r.user.id,
            page_id=page.id,
            reason=r.reason,
            message_id=thread_id(tenant, page.id),
        )
        for r in recipients.for_new_page(session, page, space)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def comment_added(
    session: Session, tenant: Tenant, page: Page, space: Space, comment: Comment
) -> list[Notification]:
    rows = [
        Notification(
            tenant_id=tenant.id,
            kind=NotificationKind.COMMENT_ADDED,
            event_key=f"comment:{comment.id}:added:user:{r.user.id}",
            to_addr=r.user.email,
            user_id=r.user.id,
            page_id=page.id,
            comment_id=comment.id,
            reason=r.reason,
            message_id=f"<{tenant.slug}/pages/{page.id}/comments/{comment.id}@{tenant.domain}>",
        )
        for r in recipients.for_new_comment(session, page, space, comment.author_id)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def rejection_reason(code: str) -> str:
    return f"you sent a message that could not be used ({code})"


def rejection(
    session: Session,
    tenant: Tenant,
    inbound_id: int,
    to_addr: str,
    code: str,
    detail: str,
    subject: str,
    params: dict[str, str],
) -> Notification:
    row = Notification(
        tenant_id=tenant.id,
        kind=NotificationKind.REJECTION,
        event_key=f"inbound:{inbound_id}:rejected",
        to_addr=to_addr,
        inbound_id=inbound_id,
        reason=rejection_reason(code),
        context={"code": code, "detail": detail, "subject": subject, "params": params},
        message_id=f"<{tenant.slug}/rejections/{inbound_id}@{tenant.domain}>",
    )
    session.add(row)
    session.flush()
    return row
