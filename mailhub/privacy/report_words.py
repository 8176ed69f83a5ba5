"""The access report in words: for each kind of data the data map names a person for, what it
is, who sees it and where it came from, and each item as the person would recognise it — their
pages by title, their comments by a line of what they said, their settings in plain words. No
table or column names, no internal ids, no HTML: the machine-readable copy is the export.

A table the data map gains must be given words here; a test fails until it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mailhub.models import Form, Page, Space
from mailhub.routing import shown

Row = dict[str, Any]
Item = Callable[[Session, Row], str]


@dataclass(frozen=True)
class Words:
    title: str
    what: str
    who: str
    source: str
    columns: tuple[str, ...]  # what an item is read from
    item: Item | None  # None: counted, not listed (nothing a person would recognise)


def day(value: Any) -> str:
    return value.strftime("%d %B %Y") if isinstance(value, datetime) else ""


def line(text: Any, limit: int = 120) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _named(session: Session, kind: str, subject_id: Any) -> str:
    """A subscription's subject by its name: "the Sales space", "the page “Q3”"."""
    if kind == "space":
        space = session.get(Space, subject_id)
        return f"the {space.name} space" if space else "a space since deleted"
    if kind == "page":
        page = session.get(Page, subject_id)
        return f"the page “{page.title}”" if page else "a page since deleted"
    if kind == "form":
        form = session.get(Form, subject_id)
        return f"answers to your form “{form.title}”" if form else "a form since deleted"
    return "all of the intranet"


def _listed(value: Any) -> str:
    # (a list of recipients: reply+…@, no key)
    return ", ".join(shown(str(v)) for v in value) if isinstance(value, list) else str(value or "")


def _answers(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    shown = [", ".join(map(str, v)) if isinstance(v, list) else str(v) for v in value.values()]
    return line("; ".join(s for s in shown if s), 160)


_LEVELS = {
    "watching": "every page and comment",
    "normal": "what you wrote, took part in or were mentioned in",
    "muted": "nothing",
}
_FREQUENCIES = {
    "immediately": "as it happens",
    "hourly": "in an hourly digest",
    "daily": "in a daily digest",
    "weekly": "in a weekly digest",
    "never": "never by mail",
}
_REQUESTS = {
    "access": "a report of your data",
    "export": "a copy of your data",
    "erasure": "erasing your account",
    "objection": "objecting to processing",
    "restriction": "restricting processing",
}

WORDS: dict[str, Words] = {
    "users": Words(
        "Your account",
        "your name, address, role and language, and when you were last active",
        "the intranet's administrators; members see your name on what you write",
        "an administrator added you, or your first approved mail did",
        ("name", "email", "is_admin", "locale", "created_at", "last_active_at"),
        lambda s, r: (
            f"{r['name']} <{r['email']}>, {'administrator' if r['is_admin'] else 'member'}"
            f"{', mail in ' + r['locale'] if r['locale'] else ''}, since {day(r['created_at'])}, "
            f"last active {day(r['last_active_at'])}"
        ),
    ),
    "pages": Words(
        "Pages you wrote",
        "the pages you published, by mail or on the web",
        "the members who can see their space",
        "your mail or the page editor",
        ("title", "created_at"),
        lambda s, r: f"“{line(r['title'])}”, {day(r['created_at'])}",
    ),
    "revisions": Words(
        "Versions of pages you wrote or edited",
        "each version of a page's text that you made",
        "the members who can see the page's space, in its history",
        "your mail or the page editor",
        ("body_text", "created_at"),
        lambda s, r: f"{day(r['created_at'])}: {line(r['body_text'])}",
    ),
    "comments": Words(
        "Your comments",
        "what you replied to pages, by mail or on the web",
        "the members who can see the page",
        "your replies to notifications, or the comment box",
        ("body_text", "created_at"),
        lambda s, r: f"{day(r['created_at'])}: {line(r['body_text'])}",
    ),
    "attachments": Words(
        "Files you sent",
        "files that came with your pages and comments",
        "the members who can see the page",
        "attachments of your mail",
        ("filename", "created_at"),
        lambda s, r: f"{r['filename']}, {day(r['created_at'])}",
    ),
    "forms": Words(
        "Forms you made",
        "the forms you made by mailing a list of questions",
        "the members who can see their space; the answers, you",
        "your mail to a space's +form address",
        ("title", "created_at", "status"),
        lambda s, r: f"“{line(r['title'])}”, {day(r['created_at'])}, {r['status']}",
    ),
    "form_responses": Words(
        "Your answers to forms",
        "what you answered, by mail, on the web or with a button",
        "the person who made the form",
        "your replies and the answer pages",
        ("answers", "via", "updated_at"),
        lambda s, r: f"{day(r['updated_at'])} ({r['via']}): {_answers(r['answers'])}",
    ),
    "subscriptions": Words(
        "What you chose to hear of",
        "the settings you chose for spaces, pages and forms",
        "you, and the intranet's administrators",
        "your mail settings and the links in mails",
        ("subject_kind", "subject_id", "level", "frequency"),
        lambda s, r: (
            f"{_named(s, r['subject_kind'], r['subject_id'])}: "
            f"{_LEVELS.get(r['level'] or '', 'as the default says')}, "
            f"{_FREQUENCIES.get(r['frequency'] or '', 'as often as the default says')}"
        ),
    ),
    "space_members": Words(
        "Members-only spaces you belong to",
        "the restricted spaces you may read and write in",
        "the intranet's administrators",
        "an administrator",
        ("space_id", "created_at"),
        lambda s, r: f"{_named(s, 'space', r['space_id'])}, since {day(r['created_at'])}",
    ),
    "web_sessions": Words(
        "Browsers signed in as you",
        "each browser you signed in with",
        "nobody; it only keeps you signed in",
        "your sign-ins",
        ("created_at", "last_seen_at"),
        lambda s, r: f"signed in {day(r['created_at'])}, last used {day(r['last_seen_at'])}",
    ),
    "digest_items": Words(
        "News waiting for your digest",
        "what your next digest will tell you about",
        "you, in the digest",
        "what happened in the spaces you follow",
        ("reason", "frequency", "created_at"),
        lambda s, r: f"{day(r['created_at'])}: {line(r['reason'])} ({r['frequency']} digest)",
    ),
    "action_tokens": Words(
        "Links in mail sent to you",
        "the one-click links in your mail (unsubscribe, follow, answer, sign in), kept secret",
        "nobody; only the link in your mail opens it",
        "the mails sent to you",
        ("action", "created_at", "used_at"),
        lambda s, r: (
            f"a {r['action'].replace('_', ' ')} link from {day(r['created_at'])}"
            + (f", used {day(r['used_at'])}" if r["used_at"] else "")
        ),
    ),
    "suppressions": Words(
        "Delivery problems of your address",
        "whether mail to your address bounces, so that mailhub stops sending it",
        "the intranet's administrators",
        "the answers of your mail server",
        ("suppressed", "last_status", "updated_at"),
        lambda s, r: (
            f"{day(r['updated_at'])}: "
            + ("mail to your address is stopped" if r["suppressed"] else "some mail bounced")
            + (f" ({line(r['last_status'], 60)})" if r["last_status"] else "")
        ),
    ),
    "privacy_requests": Words(
        "Your requests about your data",
        "the requests you made about your data, kept as proof they were answered",
        "the intranet's administrators",
        "your settings page",
        ("kind", "received_at"),
        lambda s, r: f"{_REQUESTS.get(r['kind'], r['kind'])}, {day(r['received_at'])}",
    ),
    "objections": Words(
        "Your objections and restrictions",
        "when you objected to or restricted processing, and withdrew it",
        "the intranet's administrators",
        "your settings page",
        ("kind", "created_at", "withdrawn_at"),
        lambda s, r: (
            f"{_REQUESTS.get(r['kind'], r['kind'])} since {day(r['created_at'])}"
            + (f", withdrawn {day(r['withdrawn_at'])}" if r["withdrawn_at"] else "")
        ),
    ),
    "inbound_messages": Words(
        "Mail you sent to the intranet",
        "the log of each mail you sent: when, to which address and what became of it",
        "the intranet's administrators",
        "your mail",
        ("received_at", "rcpt_to", "reason"),
        lambda s, r: (
            f"{day(r['received_at'])}, to {_listed(r['rcpt_to'])}: {line(r['reason'], 100)}"
        ),
    ),
    "notifications": Words(
        "Mail sent to you",
        "the log of each mail sent to you and why",
        "the intranet's administrators",
        "what happened in what you follow, and what you asked for",
        ("reason", "status", "created_at"),
        lambda s, r: f"{day(r['created_at'])}: {line(r['reason'], 100)} ({r['status']})",
    ),
    "reply_keys": Words(
        "Reply addresses made for you",
        "the secret reply addresses in your notifications, so a reply comes back as yours",
        "nobody; only the address in your mail uses it",
        "the notifications sent to you",
        (),
        None,
    ),
}
