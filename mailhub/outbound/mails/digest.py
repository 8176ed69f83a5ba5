"""One mail for everything a person's digest collected, grouped by space, then by page: each page
with a one-line excerpt of its text and the names of its files, each comment with a line of
what it says and its files. Counts and frequencies are worded with each language's plural
forms and articles ("1 comment", "an hourly digest")."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub import i18n
from mailhub.i18n import N_, Nn_
from mailhub.models import (
    Attachment,
    Comment,
    DigestItem,
    Form,
    Notification,
    NotificationKind,
    Page,
    Space,
    SubjectKind,
    Tenant,
    User,
)
from mailhub.outbound import actions
from mailhub.outbound.contexts import Digest, context_of
from mailhub.outbound.mails.parts import (
    Links,
    Prepared,
    from_intranet,
    latest_revision,
    unsubscribe_links,
)

# Whole sentences per frequency: the adjective and its article agree differently in each
# language ("an hourly digest", "eine stündliche Zusammenfassung").
SUBJECTS = {
    "hourly": Nn_(
        "Your hourly digest from {tenant}: {count} update",
        "Your hourly digest from {tenant}: {count} updates",
    ),
    "daily": Nn_(
        "Your daily digest from {tenant}: {count} update",
        "Your daily digest from {tenant}: {count} updates",
    ),
    "weekly": Nn_(
        "Your weekly digest from {tenant}: {count} update",
        "Your weekly digest from {tenant}: {count} updates",
    ),
}
REASONS = {
    "hourly": N_("you chose an hourly digest"),
    "daily": N_("you chose a daily digest"),
    "weekly": N_("you chose a weekly digest"),
}
EXCERPT = 140  # characters of a page's or comment's text in its one line


def one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= EXCERPT else line[: EXCERPT - 1] + "…"


def _file_names(session: Session, page_id: int, comment_id: int | None) -> list[str]:
    """The names of a comment's files, or of the page's own (comment_id None)."""
    whose = (
        (Attachment.page_id == page_id) & Attachment.comment_id.is_(None)
        if comment_id is None
        else Attachment.comment_id == comment_id
    )
    return list(session.scalars(select(Attachment.filename).where(whose).order_by(Attachment.id)))


def digest(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """One mail for everything a person's digest collected, grouped by space, then by page."""
    _ = i18n.translator(locale)
    rows = session.execute(
        select(DigestItem, Space)
        .join(Space, Space.id == DigestItem.space_id)
        .where(DigestItem.digest_id == n.id, DigestItem.tenant_id == tenant.id)
        .order_by(Space.name, DigestItem.page_id, DigestItem.form_id, DigestItem.id)
    ).all()
    spaces: dict[str, dict[tuple[str, int], dict[str, Any]]] = defaultdict(dict)
    for item, space in rows:
        if item.form_id is not None:  # an invitation to a form, or answers to the reader's own
            form = session.get(Form, item.form_id)
            if form is None or form.tenant_id != tenant.id:
                continue
            entry = spaces[space.name].setdefault(
                ("form", form.id),
                {"title": form.title, "url": links.form(form.id), "new": False, "edits": 0}
                | {"comments": [], "form": True, "answers": 0, "excerpt": "", "files": []},
            )
            if item.kind == NotificationKind.FORM_ANSWERED:
                entry["answers"] += 1
            else:
                entry["new"] = True
            continue
        page = session.get(Page, item.page_id)
        if page is None or page.tenant_id != tenant.id:
            continue
        entry = spaces[space.name].setdefault(
            ("page", page.id),
            {
                "title": page.title,
                "url": links.page(page.id),
                "new": False,
                "edits": 0,
                "comments": [],
                "form": False,
                "answers": 0,
                "excerpt": "",
                "files": [],
            },
        )
        if not entry["excerpt"]:
            latest = latest_revision(session, page.id)
            entry["excerpt"] = one_line(latest.body_text) if latest else ""
            entry["files"] = _file_names(session, page.id, None)
        if item.kind == NotificationKind.PAGE_CREATED:
            entry["new"] = True
        elif item.kind == NotificationKind.PAGE_EDITED:
            entry["edits"] += 1
        elif item.comment_id is not None:
            comment = session.get(Comment, item.comment_id)
            if comment is not None:
                author = session.get_one(User, comment.author_id)
                entry["comments"].append(
                    {
                        "author": author.name,
                        "excerpt": one_line(comment.body_text),
                        "files": _file_names(session, page.id, comment.id),
                    }
                )
    frequency = context_of(n, Digest).get("frequency", "daily")
    frequency = frequency if frequency in SUBJECTS else "daily"
    subject = _.n(*SUBJECTS[frequency], len(rows), tenant=tenant.name)
    unsubscribe = unsubscribe_links(
        session, n, tenant, user, links, (SubjectKind.TENANT, tenant.id)
    )
    view = _("Open the intranet")
    home = f"{links.base}/t/{tenant.slug}/pages"
    markup = [actions.view_action(home, view, subject, tenant.name, links.base)]
    context = {
        "subject": subject,
        "json_ld": actions.to_script(markup),
        "spaces": [(name, list(pages.values())) for name, pages in spaces.items()],
        "buttons": [(view, home, True)],
        "reason": _(REASONS[frequency]),
        "mandatory": False,
        "tenant_name": tenant.name,
    } | unsubscribe.context
    draft = from_intranet(
        _, n, tenant, user.name, user.email, subject, extra_headers=unsubscribe.headers
    )
    return Prepared("digest", context, draft, locale)
