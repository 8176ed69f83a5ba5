"""SPACE@domain: a mail becomes a new page in that space, with its first revision and files; a
reply-all to a page's thread that also went to the space's address becomes a comment there."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from mailhub.content.forward import forwarded_of, strip_prefix
from mailhub.content.parse import ParsedMail
from mailhub.content.reply import reply_content
from mailhub.content.sanitize import clean_html, html_to_text, text_to_html
from mailhub.domain.editing import TITLE_MAX, write_comment, write_page
from mailhub.mailboxes.mail import Mail
from mailhub.mailboxes.rejections import Rejected, may_write, space_named
from mailhub.models import Comment, InboundMessage, Notification, Page, Space, User
from mailhub.outbound import events

_REFERENCES = 20  # the newest references looked up: a thread's root and its last replies
_THREAD_ROOT = re.compile(r"^<?([a-z0-9-]{1,64})/pages/(\d{1,18})@([^<>@\s]{1,253})>?$")
_CID_PLACEHOLDER = re.compile(r"^[ \t]*\[cid:[^\]\s]+\][ \t]*\n?", re.MULTILINE)


def body_of(parsed: ParsedMail, image_hosts: frozenset[str] = frozenset()) -> tuple[str, str]:
    """(sanitized HTML, plain text) of a mail: its HTML part if it has one, else its text;
    a calendar invitation's summary goes first, so the page says what and when at a glance."""
    plain = parsed.text.replace("\r\n", "\n").strip()
    if parsed.html.strip():
        body_html = clean_html(parsed.html, image_hosts)
        # Outlook's text alternative names each inline image "[cid:image001.png@…]"; the
        # image is on the page, the placeholder means nothing to a reader.
        plain = re.sub(r"\n{3,}", "\n\n", _CID_PLACEHOLDER.sub("", plain)).strip()
        text = plain or html_to_text(body_html)
    else:
        text = plain
        body_html = text_to_html(text)
    if parsed.calendar:
        body_html = f'<div class="calendar">{text_to_html(parsed.calendar)}</div>\n{body_html}'
        text = f"{parsed.calendar}\n\n{text}".strip()
    return body_html, text


def title_of(parsed: ParsedMail, text: str) -> str:
    """The subject; for a mail without one, its first line, so the page still has a name."""
    title = parsed.subject.strip()
    if not title:
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        title = first[:80] + ("…" if len(first) > 80 else "")
    return title[:TITLE_MAX]


def thread_page(mail: Mail, space: Space) -> Page | None:
    """The page of this space whose thread the mail answers (In-Reply-To/References name the
    mail that made the page or one of its comments, or a notification about it): a reply-all
    that also went to the space's address belongs there, not on a page of its own."""
    session, tenant, parsed = mail.session, mail.tenant, mail.parsed
    refs = [r for r in [parsed.in_reply_to, *parsed.references[-_REFERENCES:]] if r][-_REFERENCES:]
    if not refs:
        return None
    ids = set(refs) | {r.strip("<>") for r in refs} | {f"<{r.strip('<>')}>" for r in refs}
    candidates: set[int] = set()
    for r in refs:  # mailhub's own thread root: <slug/pages/ID@domain>
        m = _THREAD_ROOT.match(r)
        if m and m.group(1) == tenant.slug and m.group(3).lower() == tenant.domain.lower():
            candidates.add(int(m.group(2)))
    inbound = select(InboundMessage.id).where(
        InboundMessage.tenant_id == tenant.id, InboundMessage.message_id.in_(ids)
    )
    candidates |= set(session.scalars(select(Page.id).where(Page.source_inbound_id.in_(inbound))))
    candidates |= set(
        session.scalars(select(Comment.page_id).where(Comment.source_inbound_id.in_(inbound)))
    )
    candidates |= {
        p
        for p in session.scalars(
            select(Notification.page_id).where(
                Notification.tenant_id == tenant.id, Notification.message_id.in_(ids)
            )
        )
        if p is not None
    }
    if not candidates:
        return None
    return session.scalar(
        select(Page)
        .where(Page.id.in_(candidates), Page.tenant_id == tenant.id, Page.space_id == space.id)
        .order_by(Page.id)
        .limit(1)
    )


def from_mail(mail: Mail, author: User, space_slug: str) -> tuple[Page | Comment, list[int]]:
    """A page, or, for a reply-all to the thread of a page in this space, a comment on it."""
    space = space_named(mail, space_slug)
    may_write(mail, author, space)
    page = thread_page(mail, space)
    if page is None:
        return create_from_mail(mail, author, space_slug)
    already = mail.session.scalar(
        select(Comment).where(
            Comment.source_inbound_id == mail.inbound.id, Comment.page_id == page.id
        )
    )
    if already is not None:  # the same mail, by its reply address: one comment
        return already, []
    reply = reply_content(mail.parsed, mail.image_hosts)
    if not reply.body_text.strip() and not mail.parsed.files:
        raise Rejected("empty_reply", "the reply has no text")
    comment, fanout, refused = write_comment(
        mail.session,
        mail.tenant,
        page,
        author,
        reply.body_html,
        reply.body_text,
        reply.trimmed,
        mail.upload(),
    )
    mail.refused += refused
    return comment, fanout.ids


def create_from_mail(mail: Mail, author: User, space_slug: str) -> tuple[Page, list[int]]:
    session, tenant, parsed = mail.session, mail.tenant, mail.parsed
    space = space_named(mail, space_slug)
    may_write(mail, author, space)
    body_html, text = body_of(parsed, mail.image_hosts)
    title = title_of(parsed, text)
    forwarded = forwarded_of(parsed)
    if forwarded is not None:
        title = strip_prefix(title)
        note = f"Forwarded by {author.name}; originally from {forwarded.original_from}" + (
            f", {forwarded.original_date}" if forwarded.original_date else ""
        )
        body_html = f'<p class="forwarded">{html.escape(note)}</p>\n{body_html}'
        text = f"{note}\n\n{text}"
    if not title and not text and not parsed.files:
        raise Rejected("empty", "the message has neither a subject nor any text")
    page, fanout, refused = write_page(
        session,
        tenant,
        space,
        author,
        title or parsed.files[0].filename,
        body_html,
        text,
        mail.upload(),
    )
    mail.refused += refused
    receipt = events.receipt(session, tenant, page, author, fanout)
    return page, fanout.ids + ([receipt] if receipt is not None else [])
