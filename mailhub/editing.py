"""Editing a page: every edit is a new revision, so no edit can destroy what was there.

Used by the web editor and anything else that changes a page; the edit's notifications are
written in the same transaction, exactly as for a page that arrived by mail.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailhub.content.sanitize import clean_html, html_to_text
from mailhub.errors import InvalidInput, NotFound
from mailhub.models import Page, Revision, Space, Tenant, User, utcnow
from mailhub.outbound import events


def revise(
    session: Session, tenant: Tenant, page_id: int, editor: User, body_html: str, title: str = ""
) -> tuple[Revision, list[int]]:
    """A new revision of the page by `editor`; return it and the notifications to send now."""
    page = session.get(Page, page_id, with_for_update=True)
    if page is None or page.tenant_id != tenant.id:
        raise NotFound(f"no page {page_id} in {tenant.slug}")
    if editor.tenant_id != tenant.id or not editor.active or editor.guest:
        raise NotFound("only members of the tenant can edit its pages")
    clean = clean_html(body_html)
    text = html_to_text(clean)
    if not text.strip() and not title.strip():
        raise InvalidInput("an edit needs a title or some text")
    number = (
        session.scalar(select(func.max(Revision.number)).where(Revision.page_id == page.id)) or 0
    ) + 1
    revision = Revision(
        tenant_id=tenant.id,
        page_id=page.id,
        author_id=editor.id,
        number=number,
        body_html=clean,
        body_text=text,
    )
    session.add(revision)
    if title.strip():
        page.title = title.strip()[:300]
    page.updated_at = utcnow()
    session.flush()
    space = session.get_one(Space, page.space_id)
    return revision, events.page_edited(session, tenant, page, space, revision, editor).ids
