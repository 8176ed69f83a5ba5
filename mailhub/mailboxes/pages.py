"""SPACE@domain: a mail becomes a new page in that space, with its first revision and files."""

from __future__ import annotations

import html
import re

from mailhub.content.forward import forwarded_of, strip_prefix
from mailhub.content.parse import ParsedMail
from mailhub.content.sanitize import clean_html, html_to_text, text_to_html
from mailhub.domain.editing import TITLE_MAX, write_page
from mailhub.mailboxes.mail import Mail
from mailhub.mailboxes.rejections import Rejected, may_write, space_named
from mailhub.models import Page, User
from mailhub.outbound import events

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
