"""Reading content back, always within one tenant: what the web pages and the CLI show."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from mailhub.domain.directory import can_see, get_tenant, visible_space_ids
from mailhub.errors import NotFound
from mailhub.models import (
    Attachment,
    Comment,
    DigestItem,
    Notification,
    NotificationKind,
    Page,
    Revision,
    Space,
    Tenant,
    User,
)


@dataclass(frozen=True)
class CommentView:
    id: int
    author: str
    body_html: str
    body_text: str
    quoted_text: str
    created_at: datetime


@dataclass(frozen=True)
class AttachmentView:
    id: int
    filename: str
    content_type: str
    size: int
    thumbnail: bool
    inline: bool
    comment_id: int | None


@dataclass(frozen=True)
class PageView:
    id: int
    tenant: str
    space: str
    space_name: str
    title: str
    author: str
    author_email: str
    body_html: str
    body_text: str
    revision: int
    created_at: datetime
    comments: list[CommentView]
    attachments: list[AttachmentView]
    # Who heard of the page when it was published: mailed at once, and waiting per digest.
    notified_now: int = 0
    in_digests: dict[str, int] = field(default_factory=dict)
    # Attachments an erasure removed because they named the erased person.
    attachments_removed: int = 0

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat() + "Z"
        for c in data["comments"]:
            c["created_at"] = c["created_at"].isoformat() + "Z"
        return data


@dataclass(frozen=True)
class PageSummary:
    id: int
    space: str
    title: str
    author: str
    created_at: datetime
    comments: int
    space_name: str = ""
    updated_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat() + "Z"
        data["updated_at"] = self.updated_at.isoformat() + "Z" if self.updated_at else None
        return data


# How a list of pages may be ordered: newest first, last activity first, or by title.
SORTS = ("new", "activity", "title")


def _pages_query(
    session: Session, tenant: Tenant, viewer: User | None, space_id: int | None
) -> Select[Page]:
    query = select(Page).where(Page.tenant_id == tenant.id)
    if viewer is not None:
        query = query.where(Page.space_id.in_(visible_space_ids(session, tenant, viewer)))
    if space_id is not None:
        query = query.where(Page.space_id == space_id)
    return query


def list_pages(
    session: Session,
    tenant_slug: str,
    limit: int = 200,
    viewer: User | None = None,
    *,
    offset: int = 0,
    sort: str = "new",
    space_id: int | None = None,
) -> list[PageSummary]:
    """A tenant's pages, `limit` from `offset` in the order `sort` names; with a viewer, only
    those in spaces they may see (the CLI, an administrator's tool, passes none)."""
    tenant = get_tenant(session, tenant_slug)
    order = {
        "activity": (Page.updated_at.desc(), Page.id.desc()),
        "title": (func.lower(Page.title), Page.id),
    }.get(sort, (Page.id.desc(),))
    query = (
        _pages_query(session, tenant, viewer, space_id)
        .add_columns(Space.slug, Space.name, User.name)
        .join(Space, Space.id == Page.space_id)
        .join(User, User.id == Page.author_id)
    )
    rows = session.execute(query.order_by(*order).offset(offset).limit(limit)).all()
    ids = [p.id for p, *_ in rows]
    tally: dict[int, int] = {
        page_id: count
        for page_id, count in session.execute(
            select(Comment.page_id, func.count())
            .where(Comment.tenant_id == tenant.id, Comment.page_id.in_(ids))
            .group_by(Comment.page_id)
        ).all()
    }
    return [
        PageSummary(
            p.id, slug, p.title, author, p.created_at, tally.get(p.id, 0), name, p.updated_at
        )
        for p, slug, name, author in rows
    ]


def count_pages(
    session: Session, tenant: Tenant, viewer: User | None = None, space_id: int | None = None
) -> int:
    query = _pages_query(session, tenant, viewer, space_id)
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def page_view(
    session: Session, tenant_slug: str, page_id: int, viewer: User | None = None
) -> PageView:
    tenant = get_tenant(session, tenant_slug)
    page = session.scalar(select(Page).where(Page.id == page_id, Page.tenant_id == tenant.id))
    if page is None:
        raise NotFound(f"no page {page_id} in {tenant.slug}")
    space = session.get_one(Space, page.space_id)
    if viewer is not None and not can_see(session, viewer, space):
        raise NotFound(f"no page {page_id} in {tenant.slug} for {viewer.email}")
    author = session.get_one(User, page.author_id)
    rev = session.scalar(
        select(Revision)
        .where(Revision.page_id == page.id)
        .order_by(Revision.number.desc())
        .limit(1)
    )
    comment_rows = session.execute(
        select(Comment, User.name)
        .join(User, User.id == Comment.author_id)
        .where(Comment.page_id == page.id, Comment.tenant_id == tenant.id)
        .order_by(Comment.id)
    ).all()
    return PageView(
        id=page.id,
        tenant=tenant.slug,
        space=space.slug,
        space_name=space.name,
        title=page.title,
        author=author.name,
        author_email=author.email,
        body_html=rev.body_html if rev else "",
        body_text=rev.body_text if rev else "",
        revision=rev.number if rev else 0,
        created_at=page.created_at,
        attachments_removed=page.attachments_removed,
        comments=[
            CommentView(c.id, name, c.body_html, c.body_text, c.quoted_text, c.created_at)
            for c, name in comment_rows
        ],
        attachments=[
            AttachmentView(
                a.id, a.filename, a.content_type, a.size, bool(a.thumbnails), a.inline, a.comment_id
            )
            for a in session.scalars(
                select(Attachment)
                .where(Attachment.page_id == page.id, Attachment.tenant_id == tenant.id)
                .order_by(Attachment.id)
            )
        ],
        **_audience(session, tenant.id, page.id),
    )


def _audience(session: Session, tenant_id: int, page_id: int) -> dict[str, Any]:
    """How many people the page's publication reached, now and per digest (counts only)."""
    now = session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(
            Notification.tenant_id == tenant_id,
            Notification.page_id == page_id,
            Notification.kind == NotificationKind.PAGE_CREATED,
        )
    )
    later = session.execute(
        select(DigestItem.frequency, func.count())
        .where(
            DigestItem.tenant_id == tenant_id,
            DigestItem.page_id == page_id,
            DigestItem.kind == NotificationKind.PAGE_CREATED,
        )
        .group_by(DigestItem.frequency)
    )
    return {"notified_now": int(now or 0), "in_digests": {f: int(c) for f, c in later}}


def attachment_file(
    session: Session,
    tenant_slug: str,
    attachment_id: int,
    thumbnail: str = "",
    viewer: User | None = None,
) -> tuple[Attachment, str]:
    """The attachment and the store path of its file (or of one of its thumbnails)."""
    tenant = get_tenant(session, tenant_slug)
    a = session.scalar(
        select(Attachment).where(Attachment.id == attachment_id, Attachment.tenant_id == tenant.id)
    )
    if a is None:
        raise NotFound(f"no attachment {attachment_id} in {tenant.slug}")
    if viewer is not None:
        page = session.get_one(Page, a.page_id)
        if not can_see(session, viewer, session.get_one(Space, page.space_id)):
            raise NotFound(f"no attachment {attachment_id} in {tenant.slug} for {viewer.email}")
    if thumbnail:
        path = a.thumbnails.get(thumbnail)
        if path is None:
            raise NotFound(f"no {thumbnail} px thumbnail of attachment {attachment_id}")
        return a, path
    return a, a.path


def linking_pages(
    session: Session, tenant: Tenant, page_id: int, viewer: User | None = None
) -> list[tuple[int, str]]:
    """(id, title) of the pages whose newest text links to this one by title ([[Title]]): its
    related pages, only those the viewer may see."""
    newest = (
        select(Revision.page_id, func.max(Revision.number).label("number"))
        .where(Revision.tenant_id == tenant.id)
        .group_by(Revision.page_id)
        .subquery()
    )
    query = (
        select(Page.id, Page.title)
        .join(Revision, Revision.page_id == Page.id)
        .join(newest, (newest.c.page_id == Revision.page_id) & (newest.c.number == Revision.number))
        .where(
            Page.tenant_id == tenant.id,
            Page.id != page_id,
            Revision.body_html.contains(f'/t/{tenant.slug}/pages/{page_id}" class="page-link"'),
        )
        .order_by(Page.title)
        .limit(50)
    )
    if viewer is not None:
        query = query.where(Page.space_id.in_(visible_space_ids(session, tenant, viewer)))
    return [(int(i), str(title)) for i, title in session.execute(query)]


def ancestors(session: Session, page: Page) -> list[tuple[int, str]]:
    """(id, title) of the pages above this one, from the top (at most 50 levels)."""
    trail: list[tuple[int, str]] = []
    above, seen = page.parent_id, {page.id}
    while above is not None and above not in seen and len(trail) < 50:
        seen.add(above)
        row = session.execute(
            select(Page.id, Page.title, Page.parent_id).where(
                Page.id == above, Page.tenant_id == page.tenant_id
            )
        ).first()
        if row is None:
            break
        trail.append((int(row[0]), str(row[1])))
        above = row[2]
    return list(reversed(trail))


def children(session: Session, page: Page) -> list[tuple[int, str]]:
    return [
        (int(i), str(t))
        for i, t in session.execute(
            select(Page.id, Page.title)
            .where(Page.parent_id == page.id, Page.tenant_id == page.tenant_id)
            .order_by(func.lower(Page.title))
            .limit(200)
        )
    ]


@dataclass
class Node:
    id: int
    title: str
    children: list[Node] = field(default_factory=list)


def page_tree(session: Session, tenant: Tenant, space_id: int, limit: int = 500) -> list[Node]:
    """The space's pages as a tree (a table of contents), titles in order at each level; a page
    whose parent is missing, or that is part of a loop, stands at the top."""
    rows = list(
        session.execute(
            select(Page.id, Page.title, Page.parent_id)
            .where(Page.tenant_id == tenant.id, Page.space_id == space_id)
            .order_by(func.lower(Page.title), Page.id)
            .limit(limit)
        )
    )
    nodes = {int(i): Node(int(i), str(t)) for i, t, _ in rows}
    parent_of = {int(i): p for i, _, p in rows}
    top: list[Node] = []
    for i, _, parent in rows:
        node = nodes[int(i)]
        if parent in nodes and not _loops(int(i), parent_of):
            nodes[parent].children.append(node)
        else:
            top.append(node)
    return top


def _loops(start: int, parent_of: dict[int, int | None]) -> bool:
    seen, at = {start}, parent_of.get(start)
    while at is not None:
        if at in seen:
            return True
        seen.add(at)
        at = parent_of.get(at)
    return False
