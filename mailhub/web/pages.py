"""A tenant's content on the web, for its signed-in members: pages with their history, diffs
and restores, comments, attachments, writing and editing (with who will be notified, before
saving), and forms.

Every route starts from `require`, which answers 404 to a member of another tenant exactly as
for a page that does not exist; every POST checks the session's CSRF token.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.content.sanitize import text_to_html
from mailhub.db import SessionFactory, unit_of_work
from mailhub.domain import editing
from mailhub.domain.directory import get_tenant, space_by_slug, visible_space_ids
from mailhub.domain.queries import (
    SORTS,
    ancestors,
    attachment_file,
    children,
    count_pages,
    linking_pages,
    list_pages,
    page_view,
)
from mailhub.errors import InvalidInput, NotFound
from mailhub.models import Attachment, Page, Revision, Space, Tenant, User
from mailhub.outbound import recipients
from mailhub.outbound.files import recipient_of
from mailhub.stores.files import FileStore
from mailhub.web.auth import check_csrf, require
from mailhub.web.notify import Notify

Html = Callable[..., HTMLResponse]

# Raster images are shown inline; everything else (SVG and HTML included, which could carry
# script) is only ever a download, sandboxed by CSP either way.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


PER_PAGE = 50  # pages in one screen of a list


def writable(session: Session, tenant: Tenant, user: User) -> list[Space]:
    """The spaces a member may read and write in, by name."""
    visible = visible_space_ids(session, tenant, user)
    return list(
        session.scalars(
            select(Space)
            .where(Space.tenant_id == tenant.id, Space.id.in_(visible))
            .order_by(Space.name)
        )
    )


def _file(
    files: FileStore, a: Attachment, rel: str, headers: dict[str, str] | None = None
) -> FileResponse:
    """An attachment's file: a raster image shown, anything else downloaded, sandboxed."""
    shown_inline = a.content_type in INLINE_TYPES
    return FileResponse(
        _local(files, rel),
        media_type=a.content_type if shown_inline else "application/octet-stream",
        filename=a.filename,
        content_disposition_type="inline" if shown_inline else "attachment",
        headers={"Content-Security-Policy": "default-src 'none'; sandbox"} | (headers or {}),
    )


def _local(files: FileStore, rel: str) -> Path:
    """The file to send; one gone meanwhile (erased, or a file of a failed transaction) is a
    404, not an error."""
    try:
        path = files.path(rel)
    except FileNotFoundError:
        raise NotFound("file") from None
    if not path.is_file():
        raise NotFound("file")
    return path


def number(value: str) -> int:
    if not value.isdigit():
        raise NotFound(value)
    return int(value)


def register(
    app: FastAPI,
    sessions: SessionFactory,
    files: FileStore,
    html: Html,
    notify: Notify,
    file_key: bytes = b"",
) -> None:
    @app.get("/t/{tenant}/pages", response_class=HTMLResponse)
    def pages(request: Request, tenant: str, page: str = "1", sort: str = "new") -> HTMLResponse:
        with sessions() as session:
            t, seen = require(request, session, tenant)
            spaces = writable(session, t, seen.user)
            sort = sort if sort in SORTS else "new"
            total = count_pages(session, t, seen.user)
            last = max(1, -(-total // PER_PAGE))
            shown = min(max(1, int(page) if page.isdigit() else 1), last)
            return html(
                "pages.html",
                tenant=t.slug,
                viewer=seen,
                pages=list_pages(
                    session,
                    t.slug,
                    PER_PAGE,
                    seen.user,
                    offset=(shown - 1) * PER_PAGE,
                    sort=sort,
                ),
                spaces=spaces,
                sort=sort,
                page=shown,
                last=last,
                total=total,
            )

    @app.get("/t/{tenant}/pages/new", response_class=HTMLResponse)
    def new_page(request: Request, tenant: str, space: str = "") -> HTMLResponse:
        with sessions() as session:
            t, seen = require(request, session, tenant)
            spaces = writable(session, t, seen.user)
            if not spaces:
                raise NotFound("no spaces")
            chosen = next((s for s in spaces if s.slug == space), spaces[0])
            counts = recipients.preview(session, t, chosen, seen.user)
            return html(
                "page_edit.html",
                tenant=t.slug,
                viewer=seen,
                spaces=spaces,
                chosen=chosen,
                page=None,
                title="",
                text="",
                body_html="",
                audience=counts,
                error="",
            )

    @app.post("/t/{tenant}/pages/new")
    async def create_page(request: Request, tenant: str) -> Response:
        form = await request.form(max_part_size=3 * editing.MAX_HTML)
        with unit_of_work(sessions) as session:
            t, seen = require(request, session, tenant)
            check_csrf(seen, form)
            space = space_by_slug(session, t.id, str(form.get("space") or ""))
            if space is None:
                raise NotFound("no such space")
            title, text = str(form.get("title") or ""), str(form.get("text") or "")
            rich = str(form.get("body_html") or "") if form.get("mode") == "rich" else None
            try:
                page, ids = editing.create(session, t, space, seen.user, title, text, rich)
            except InvalidInput as exc:
                spaces = writable(session, t, seen.user)
                return html(
                    "page_edit.html",
                    422,
                    tenant=t.slug,
                    viewer=seen,
                    spaces=spaces,
                    chosen=space,
                    page=None,
                    title=title,
                    text=text,
                    body_html=rich or "",
                    audience=recipients.preview(session, t, space, seen.user),
                    error=str(exc),
                )
            target = f"/t/{t.slug}/pages/{page.id}"
        notify(ids)
        return RedirectResponse(target, status_code=303)

    @app.get("/t/{tenant}/pages/{page_id}", response_class=HTMLResponse)
    def page(request: Request, tenant: str, page_id: str) -> HTMLResponse:
        with sessions() as session:
            t, seen = require(request, session, tenant)
            view = page_view(session, t.slug, number(page_id), seen.user)
            related = linking_pages(session, t, view.id, seen.user)
            row = session.get_one(Page, view.id)
            return html(
                "page.html",
                viewer=seen,
                page=view,
                related=related,
                trail=ancestors(session, row),
                below=children(session, row),
            )

    @app.post("/t/{tenant}/pages/{page_id}/comments")
    async def add_comment(request: Request, tenant: str, page_id: str) -> Response:
        form = await request.form()
        with unit_of_work(sessions) as session:
            t, seen = require(request, session, tenant)
            check_csrf(seen, form)
            made, ids = editing.comment(
                session, t, number(page_id), seen.user, str(form.get("text") or "")
            )
            target = f"/t/{t.slug}/pages/{made.page_id}#comment-{made.id}"
        notify(ids)
        return RedirectResponse(target, status_code=303)

    @app.get("/t/{tenant}/pages/{page_id}/edit", response_class=HTMLResponse)
    def edit_page(request: Request, tenant: str, page_id: str) -> HTMLResponse:
        with sessions() as session:
            t, seen = require(request, session, tenant)
            view = page_view(session, t.slug, number(page_id), seen.user)
            p = session.get_one(Page, view.id)
            space = session.get_one(Space, p.space_id)
            counts = recipients.preview_edit(session, t, space, p, seen.user)
            parents = session.execute(
                select(Page.id, Page.title)
                .where(Page.space_id == space.id, Page.tenant_id == t.id, Page.id != p.id)
                .order_by(Page.title)
                .limit(500)
            ).all()
            return html(
                "page_edit.html",
                tenant=t.slug,
                viewer=seen,
                spaces=[space],
                chosen=space,
                page=view,
                title=view.title,
                text=view.body_text,
                body_html=view.body_html,
                parents=parents,
                parent_id=p.parent_id,
                audience=counts,
                error="",
            )

    @app.post("/t/{tenant}/pages/{page_id}/edit")
    async def save_page(request: Request, tenant: str, page_id: str) -> Response:
        form = await request.form(max_part_size=3 * editing.MAX_HTML)
        with unit_of_work(sessions) as session:
            t, seen = require(request, session, tenant)
            check_csrf(seen, form)
            # From the rich-text editor, the page's HTML (sanitised by revise, as mail is);
            # without JavaScript, the plain text.
            body = (
                str(form.get("body_html") or "")
                if form.get("mode") == "rich"
                else text_to_html(str(form.get("text") or "").replace("\r\n", "\n"))
            )
            if "parent" in form:  # where the page sits in its space's tree
                chosen = str(form.get("parent") or "")
                editing.move(
                    session, t, number(page_id), seen.user, number(chosen) if chosen else None
                )
            _, ids = editing.revise(
                session, t, number(page_id), seen.user, body, str(form.get("title") or "")
            )
        notify(ids)
        return RedirectResponse(f"/t/{tenant}/pages/{number(page_id)}", status_code=303)

    @app.get("/t/{tenant}/pages/{page_id}/history", response_class=HTMLResponse)
    def history(request: Request, tenant: str, page_id: str) -> HTMLResponse:
        with sessions() as session:
            t, seen = require(request, session, tenant)
            view = page_view(session, t.slug, number(page_id), seen.user)
            rows = session.execute(
                select(Revision, User.name)
                .join(User, User.id == Revision.author_id)
                .where(Revision.page_id == view.id, Revision.tenant_id == t.id)
                .order_by(Revision.number.desc())
            ).all()
            return html("history.html", viewer=seen, page=view, revisions=rows)

    @app.get("/t/{tenant}/pages/{page_id}/diff", response_class=HTMLResponse)
    def diff(request: Request, tenant: str, page_id: str, a: int = 0, b: int = 0) -> HTMLResponse:
        with sessions() as session:
            t, seen = require(request, session, tenant)
            view = page_view(session, t.slug, number(page_id), seen.user)
            texts = {
                r.number: r.body_text
                for r in session.scalars(
                    select(Revision).where(
                        Revision.page_id == view.id,
                        Revision.tenant_id == t.id,
                        Revision.number.in_([a, b]),
                    )
                )
            }
            if a not in texts or b not in texts:
                raise NotFound("no such revisions")
            lines = [
                (line[:1], line[1:])
                for line in difflib.unified_diff(
                    texts[a].splitlines(), texts[b].splitlines(), lineterm="", n=3
                )
                if not line.startswith(("---", "+++"))
            ]
            return html("diff.html", viewer=seen, page=view, a=a, b=b, lines=lines)

    @app.post("/t/{tenant}/pages/{page_id}/restore/{revision}")
    async def restore(request: Request, tenant: str, page_id: str, revision: str) -> Response:
        form = await request.form()
        with unit_of_work(sessions) as session:
            t, seen = require(request, session, tenant)
            check_csrf(seen, form)
            _, ids = editing.restore(session, t, number(page_id), seen.user, number(revision))
        notify(ids)
        return RedirectResponse(f"/t/{tenant}/pages/{number(page_id)}", status_code=303)

    @app.get("/t/{tenant}/attachments/{attachment_id}")
    @app.get("/t/{tenant}/attachments/{attachment_id}/thumb/{width}")
    def attachment(request: Request, tenant: str, attachment_id: str, width: str = "") -> Response:
        with sessions() as session:
            t, seen = require(request, session, tenant)
            a, rel = attachment_file(session, t.slug, number(attachment_id), width, seen.user)
        if width:
            media = "image/png" if rel.endswith(".png") else "image/jpeg"
            return FileResponse(_local(files, rel), media_type=media)
        return _file(files, a, rel)

    @app.get("/t/{tenant}/files/{attachment_id}/{credential}/{filename}")
    def file_by_link(tenant: str, attachment_id: str, credential: str, filename: str) -> Response:
        """A file link from a notification: no sign-in, that one file, for as long as the
        link is unexpired and the file, the person and their access to the space remain."""
        with sessions() as session:
            t = get_tenant(session, tenant)
            user_id = (
                recipient_of(file_key, t.id, number(attachment_id), credential, time.time())
                if file_key
                else None
            )
            user = session.get(User, user_id) if user_id is not None else None
            if user is None or user.tenant_id != t.id:
                raise NotFound("file link")
            a, rel = attachment_file(session, t.slug, number(attachment_id), "", user)
        return _file(
            files,
            a,
            rel,
            {"Cache-Control": "private, max-age=3600", "Referrer-Policy": "no-referrer"},
        )
