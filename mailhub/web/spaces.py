"""The ways into the intranet's content: the tenant's home (the spaces a member may see, with
what is new in each), each space's home (its addresses to mail, who hears of it and how, its
recent pages and its forms, and the member's own setting) and the list of forms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from mailhub.db import SessionFactory, unit_of_work
from mailhub.domain.directory import can_see, space_by_slug, visible_space_ids
from mailhub.domain.preferences import defaults_for, effective_for
from mailhub.domain.queries import count_pages, list_pages, page_tree
from mailhub.errors import NotFound
from mailhub.models import Form, FormResponse, Page, Space, utcnow
from mailhub.outbound import recipients
from mailhub.web.auth import require

Html = Callable[..., HTMLResponse]
RECENT = 10  # pages a space's home lists
NEW_DAYS = 7  # what a home counts as new


def register(app: FastAPI, sessions: SessionFactory, html: Html) -> None:
    @app.get("/t/{tenant}", response_class=HTMLResponse)
    def tenant_home(request: Request, tenant: str) -> HTMLResponse:
        with unit_of_work(sessions) as session:  # a new visit is remembered
            t, seen = require(request, session, tenant)
            visible = visible_space_ids(session, t, seen.user)
            since = seen.user.previous_visit_at or utcnow() - timedelta(days=NEW_DAYS)
            in_spaces = select(Page.space_id, func.count()).where(Page.tenant_id == t.id)
            totals = dict(session.execute(in_spaces.group_by(Page.space_id)).all())
            fresh = dict(
                session.execute(
                    in_spaces.where(Page.updated_at >= since).group_by(Page.space_id)
                ).all()
            )
            spaces = [
                (s, totals.get(s.id, 0), fresh.get(s.id, 0))
                for s in session.scalars(
                    select(Space)
                    .where(Space.tenant_id == t.id, Space.id.in_(visible))
                    .order_by(Space.name)
                )
            ]
            return html(
                "home.html",
                viewer=seen,
                tenant=t,
                spaces=spaces,
                recent=list_pages(session, t.slug, RECENT, seen.user, sort="activity"),
                days=NEW_DAYS,
                since_visit=seen.user.previous_visit_at is not None,
            )

    @app.get("/t/{tenant}/s/{space}", response_class=HTMLResponse)
    def space_home(request: Request, tenant: str, space: str, done: str = "") -> HTMLResponse:
        with sessions() as session:
            t, seen = require(request, session, tenant)
            s = space_by_slug(session, t.id, space)
            if s is None or not can_see(session, seen.user, s):
                raise NotFound(f"no space {space} in {t.slug}")
            space_default, tenant_default = defaults_for(session, t.id, s.id)
            forms = list(
                session.execute(
                    select(Form, func.count(FormResponse.id))
                    .outerjoin(FormResponse, FormResponse.form_id == Form.id)
                    .where(Form.tenant_id == t.id, Form.space_id == s.id)
                    .group_by(Form.id)
                    .order_by(Form.status.desc(), Form.id.desc())
                ).all()
            )
            return html(
                "space.html",
                viewer=seen,
                tenant=t,
                space=s,
                address=f"{s.slug}@{t.domain}",
                form_address=f"{s.slug}+form@{t.domain}",
                audience=recipients.preview(session, t, s, seen.user),
                mandatory=any(
                    d is not None and d.mandatory for d in (space_default, tenant_default)
                ),
                mine=effective_for(session, seen.user, s),
                pages=list_pages(
                    session, t.slug, RECENT, seen.user, sort="activity", space_id=s.id
                ),
                total=count_pages(session, t, seen.user, s.id),
                forms=forms,
                tree=page_tree(session, t, s.id),
                done=done,
            )

    @app.get("/t/{tenant}/forms", response_class=HTMLResponse)
    def forms_list(request: Request, tenant: str) -> HTMLResponse:
        with sessions() as session:
            t, seen = require(request, session, tenant)
            visible = visible_space_ids(session, t, seen.user)
            rows = list(
                session.execute(
                    select(Form, Space, func.count(FormResponse.id))
                    .join(Space, Space.id == Form.space_id)
                    .outerjoin(FormResponse, FormResponse.form_id == Form.id)
                    .where(Form.tenant_id == t.id, Form.space_id.in_(visible))
                    .group_by(Form.id, Space.id)
                    .order_by(Form.status.desc(), Form.id.desc())
                    .limit(500)
                ).all()
            )
            return html("forms_list.html", viewer=seen, tenant=t, rows=rows)
