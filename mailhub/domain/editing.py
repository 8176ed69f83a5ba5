"""Writing content: the one writer of pages, revisions and comments, for mail and web alike
(`write_page`, `write_comment`), and the web's own use cases around it: new pages, edits,
restores and comments, each checked for who may write.

Every edit is a new revision, so no edit can destroy what was there: restoring an old
revision is one more revision with its content. Saving without a change makes none. Notifications are written in the same
transaction, for a page or comment from the browser exactly as for one that came by mail.
"""

from __future__ import annotations

import re

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mailhub.content.attachments import link_inline_images, refusal_note
from mailhub.content.sanitize import clean_html, html_to_text, text_to_html
from mailhub.content.wikilinks import link_titles
from mailhub.domain.attachments import Upload, store_files, urls_by_cid
from mailhub.domain.directory import can_see
from mailhub.errors import InvalidInput, NotFound
from mailhub.models import Comment, Page, Revision, Space, Tenant, User, utcnow
from mailhub.outbound import events
from mailhub.outbound.events import Fanout

TITLE_MAX = 300
MAX_HTML = 4_000_000  # characters of HTML an edit may send
_REMOTE_IMG = re.compile(r'<img\b[^<>]{0,4000}?\bsrc="https://([^/"\s:]{1,253})[/"]')


def _image_hosts(html: str) -> frozenset[str]:
    return frozenset(m.group(1).lower() for m in _REMOTE_IMG.finditer(html))


def _linked(session: Session, tenant: Tenant, space: Space, markup: str) -> str:
    """[[Title]] made a link to the page of that title: in this space first, else in a space
    open to every member (a members-only page is never revealed by a link to it)."""

    def url_of(title: str) -> str | None:
        page_id = session.scalar(
            select(Page.id)
            .join(Space, Space.id == Page.space_id)
            .where(
                Page.tenant_id == tenant.id,
                or_(Page.title == title, func.lower(Page.title) == title.lower()),
                (Page.space_id == space.id) | (Space.restricted.is_(False)),
            )
            .order_by((Page.space_id != space.id), Page.id)
            .limit(1)
        )
        return f"/t/{tenant.slug}/pages/{page_id}" if page_id is not None else None

    return link_titles(markup, url_of) if "[[" in markup else markup


def _member(tenant: Tenant, user: User, session: Session | None = None, space_id: int = 0) -> None:
    """Only active members write, and in a restricted space only its members: to anyone
    else the page does not exist."""
    if user.tenant_id != tenant.id or not user.active or user.guest:
        raise NotFound("only members of the tenant can write here")
    if session is not None:
        space = session.get(Space, space_id)
        if space is None or not can_see(session, user, space):
            raise NotFound("not a member of this space")


def write_page(
    session: Session,
    tenant: Tenant,
    space: Space,
    author: User,
    title: str,
    body_html: str,
    body_text: str,
    upload: Upload | None = None,
) -> tuple[Page, Fanout, list[tuple[str, str]]]:
    """A page with its first revision (and the files that came with it): the page, who was
    told, and the files refused (the page says which)."""
    page = Page(
        tenant_id=tenant.id,
        space_id=space.id,
        author_id=author.id,
        title=title,
        source_inbound_id=upload.inbound_id if upload else None,
    )
    session.add(page)
    session.flush()
    html, text, refused = _with_files(session, tenant, page, author, body_html, body_text, upload)
    html = _linked(session, tenant, space, html)
    session.add(
        Revision(
            tenant_id=tenant.id,
            page_id=page.id,
            author_id=author.id,
            number=1,
            body_html=html,
            body_text=text,
        )
    )
    return page, events.page_created(session, tenant, page, space, author, body_text), refused


def write_comment(
    session: Session,
    tenant: Tenant,
    page: Page,
    author: User,
    body_html: str,
    body_text: str,
    quoted_text: str = "",
    upload: Upload | None = None,
) -> tuple[Comment, Fanout, list[tuple[str, str]]]:
    """A comment on a page (and the files that came with it): the comment, who was told, and
    the files refused."""
    row = Comment(
        tenant_id=tenant.id,
        page_id=page.id,
        author_id=author.id,
        body_html=_linked(session, tenant, session.get_one(Space, page.space_id), body_html),
        body_text=body_text,
        quoted_text=quoted_text,
        source_inbound_id=upload.inbound_id if upload else None,
    )
    session.add(row)
    session.flush()
    if upload is not None:
        row.body_html, row.body_text, refused = _with_files(
            session, tenant, page, author, body_html, body_text, upload, row.id
        )
    else:
        refused = []
    space = session.get_one(Space, page.space_id)
    return row, events.comment_added(session, tenant, page, space, row, author), refused


def _with_files(
    session: Session,
    tenant: Tenant,
    page: Page,
    author: User,
    body_html: str,
    body_text: str,
    upload: Upload | None,
    comment_id: int | None = None,
) -> tuple[str, str, list[tuple[str, str]]]:
    """Store the files; the body with its cid: images linked and a note of refused files."""
    if upload is None:
        return body_html, body_text, []
    stored = store_files(session, upload, tenant, page, author, comment_id)
    note_html, note_text = refusal_note(stored.refused)
    html = link_inline_images(body_html, urls_by_cid(tenant, stored.attachments)) + note_html
    text = "\n\n".join(t for t in (body_text, note_text) if t)
    return html, text, stored.refused


def create(
    session: Session,
    tenant: Tenant,
    space: Space,
    author: User,
    title: str,
    text: str,
    body_html: str | None = None,
) -> tuple[Page, list[int]]:
    """A new page written in the browser: as a page made by mail, without the mail. From the
    rich-text editor it comes as HTML, sanitised as mail is; else as plain text."""
    if space.tenant_id != tenant.id:
        raise NotFound(f"no space {space.slug} in {tenant.slug}")
    _member(tenant, author, session, space.id)
    title, text = title.strip()[:TITLE_MAX], text.replace("\r\n", "\n").strip()
    if not title:
        raise InvalidInput("A page needs a title.")
    if body_html is not None:
        _bounded(body_html)
        html = clean_html(body_html)
        text = html_to_text(html)
    else:
        html = text_to_html(text)
    page, fanout, _ = write_page(session, tenant, space, author, title, html, text)
    return page, fanout.ids


def _bounded(body_html: str) -> None:
    if len(body_html) > MAX_HTML:
        raise InvalidInput(f"The text is too long to save (over {MAX_HTML // 1_000_000} MB).")


def comment(
    session: Session, tenant: Tenant, page_id: int, author: User, text: str
) -> tuple[Comment, list[int]]:
    """A comment written in the browser, notified as a reply by mail would be."""
    page = session.get(Page, page_id)
    if page is None or page.tenant_id != tenant.id:
        raise NotFound(f"no page {page_id} in {tenant.slug}")
    _member(tenant, author, session, page.space_id)
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise InvalidInput("A comment needs some text.")
    row, fanout, _ = write_comment(session, tenant, page, author, text_to_html(text), text)
    return row, fanout.ids


def restore(
    session: Session, tenant: Tenant, page_id: int, editor: User, number: int
) -> tuple[Revision, list[int]]:
    """Bring back revision `number` as the newest one; the revisions between stay."""
    old = session.scalar(
        select(Revision).where(
            Revision.page_id == page_id, Revision.tenant_id == tenant.id, Revision.number == number
        )
    )
    if old is None:
        raise NotFound(f"no revision {number} of page {page_id}")
    return revise(session, tenant, page_id, editor, old.body_html)


def revise(
    session: Session, tenant: Tenant, page_id: int, editor: User, body_html: str, title: str = ""
) -> tuple[Revision, list[int]]:
    """A new revision of the page by `editor`; return it and the notifications to send now."""
    page = session.get(Page, page_id, with_for_update=True)
    if page is None or page.tenant_id != tenant.id:
        raise NotFound(f"no page {page_id} in {tenant.slug}")
    _member(tenant, editor, session, page.space_id)
    _bounded(body_html)
    latest = session.scalar(
        select(Revision)
        .where(Revision.page_id == page.id)
        .order_by(Revision.number.desc())
        .limit(1)
    )
    # Remote images that came in by mail were allowed then (MAILHUB_ALLOWED_IMAGE_HOSTS): an
    # edit keeps them, and can bring in no others.
    clean = _linked(
        session,
        tenant,
        session.get_one(Space, page.space_id),
        clean_html(body_html, _image_hosts(latest.body_html if latest else "")),
    )
    text = html_to_text(clean)
    if not text.strip() and not title.strip():
        raise InvalidInput("An edit needs a title or some text.")
    title = title.strip()[:TITLE_MAX]
    if latest is not None and latest.body_html == clean and title in ("", page.title):
        return latest, []  # saved without a change: no revision, nobody told
    number = (latest.number if latest else 0) + 1
    revision = Revision(
        tenant_id=tenant.id,
        page_id=page.id,
        author_id=editor.id,
        number=number,
        body_html=clean,
        body_text=text,
    )
    session.add(revision)
    if title:
        page.title = title
    page.updated_at = utcnow()
    session.flush()
    space = session.get_one(Space, page.space_id)
    return revision, events.page_edited(session, tenant, page, space, revision, editor).ids


MAX_DEPTH = 50  # levels of a page tree; deeper is refused


def move(
    session: Session, tenant: Tenant, page_id: int, editor: User, parent_id: int | None
) -> Page:
    """Put a page under another page of its space (or at the top, with None). A page cannot
    sit under itself or under one of its own descendants."""
    page = session.get(Page, page_id, with_for_update=True)
    if page is None or page.tenant_id != tenant.id:
        raise NotFound(f"no page {page_id} in {tenant.slug}")
    _member(tenant, editor, session, page.space_id)
    if parent_id is not None:
        parent = session.get(Page, parent_id)
        if parent is None or parent.tenant_id != tenant.id or parent.space_id != page.space_id:
            raise InvalidInput("A page can only sit under a page of its own space.")
        above: int | None = parent.id
        for _ in range(MAX_DEPTH):
            if above is None:
                break
            if above == page.id:
                raise InvalidInput("A page cannot sit under itself or under a page below it.")
            above = session.scalar(select(Page.parent_id).where(Page.id == above))
        else:
            raise InvalidInput(f"Pages nest at most {MAX_DEPTH} levels deep.")
    page.parent_id = parent_id
    session.flush()
    return page
