"""Mail about a page: created, edited, or commented on; in the author's name, threaded, reply-able
(the reply becomes a comment), with View and Unfollow buttons and Gmail actions. An edit's mail
shows what changed (the removed and added lines), not the whole text again. Its images
travel inside it or by a link of the recipient's own, and its attachments are listed
(outbound.files).
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub import i18n
from mailhub.content.changes import changed_lines
from mailhub.db import once_per_transaction
from mailhub.models import (
    Comment,
    Notification,
    NotificationKind,
    Page,
    Revision,
    Space,
    SubjectKind,
    Tenant,
    User,
)
from mailhub.outbound import actions
from mailhub.outbound.contexts import Subscribed, context_of
from mailhub.outbound.events import thread_id
from mailhub.outbound.files import mail_files
from mailhub.outbound.keys import mint_token
from mailhub.outbound.mails.parts import (
    Links,
    Prepared,
    from_member,
    latest_revision,
    new_reply_address,
    reason_for,
    unsubscribe_links,
)


def page_event(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    assert n.page_id is not None
    _ = i18n.translator(locale)
    page = session.get_one(Page, n.page_id)
    space = session.get_one(Space, page.space_id)
    if page.tenant_id != tenant.id or space.tenant_id != tenant.id:
        raise ValueError(f"notification {n.id} crosses tenants")
    reply_to = new_reply_address(session, n, tenant, user, page)
    url = links.page(page.id)
    if n.kind == NotificationKind.COMMENT_ADDED:
        assert n.comment_id is not None
        comment = session.get_one(Comment, n.comment_id)
        actor = session.get_one(User, comment.author_id)
        body_html, body_text = comment.body_html, comment.body_text
        url += f"#comment-{comment.id}"
        subject, template = f"Re: [{space.name}] {page.title}", "comment_added"
        view = _("View comment")
    else:
        rev = (
            session.get(Revision, n.revision_id)
            if n.revision_id
            else latest_revision(session, page.id)
        )
        actor = session.get_one(User, rev.author_id if rev else page.author_id)
        body_html, body_text = (rev.body_html, rev.body_text) if rev else ("", "")
        if n.kind == NotificationKind.PAGE_EDITED:
            subject, template = f"Re: [{space.name}] {page.title}", "page_edited"
            url += f"?revision={rev.number}" if rev else ""
            changes, more = (
                once_per_transaction(session, "changes", rev.id, lambda: _changes(session, rev))
                if rev
                else ([], 0)
            )
        else:
            subject, template = f"[{space.name}] {page.title}", "page_created"
        view = _("View page")
    files = mail_files(
        session,
        tenant,
        user,
        links.base,
        links.file_key,
        body_html,
        page.id,
        n.comment_id if n.kind == NotificationKind.COMMENT_ADDED else None,
    )
    if n.kind != NotificationKind.PAGE_EDITED:
        changes, more = [], 0
    ctx = context_of(n, Subscribed)
    setting_kind, setting_id = ctx.get("setting") or (SubjectKind.PAGE, page.id)
    reason = reason_for(_, n)
    unsubscribe = unsubscribe_links(session, n, tenant, user, links, (setting_kind, setting_id))
    unfollow = links.action(
        mint_token(session, tenant.id, user.id, "unfollow", SubjectKind.PAGE, page.id)
    )
    unfollow_name = _("Unfollow this page")
    description = f"{actor.name} in {space.name}: {page.title}"
    markup = [actions.view_action(url, view, description, tenant.name, links.base)]
    if links.secure:  # Gmail calls action handlers over https only
        markup.append(actions.confirm_action(f"{unfollow}/gmail", unfollow_name, description))
    context = {
        "subject": subject,
        "json_ld": actions.to_script(markup),
        "author_name": actor.name,
        "space_name": space.name,
        "page_title": page.title,
        "body_html": files.body_html,
        "files": [(f.filename, f.size, f.url) for f in files.listed],
        "changes": changes,  # an edit: the lines it removed and added
        "more": more,
        "body_text": body_text,
        "page_url": url,
        "buttons": [(view, url, True), (unfollow_name, unfollow, False)],
        "reason": reason,
        "mandatory": bool(ctx.get("mandatory")),
        "tenant_name": tenant.name,
    } | unsubscribe.context
    draft = from_member(
        n,
        tenant,
        actor.name,
        user,
        space,
        subject,
        reply_to,
        thread_id(tenant, page.id),
        unsubscribe,
    )
    return Prepared(template, context, replace(draft, related=files.related), locale)


def _changes(session: Session, rev: Revision) -> tuple[list[tuple[str, str]], int]:
    """What this revision changed against the one before: the same for every recipient."""
    before = session.scalar(
        select(Revision.body_text).where(
            Revision.page_id == rev.page_id, Revision.number == rev.number - 1
        )
    )
    return changed_lines(before or "", rev.body_text)
