"""Each person's mail settings on the web: every space with its level and frequency and why,
the pages and forms they set apart, mute everything that is not mandatory, and objecting to
processing (GDPR Art. 21) with what it stops, said plainly.

Reachable signed in, or signed out from the manage link in any mail (/preferences/TOKEN: the
mail's unsubscribe token, bound to one person, is the credential, as on the unsubscribe page).
Signed in, every POST carries the session's CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.db import SessionFactory, unit_of_work
from mailhub.domain import objections, preferences
from mailhub.domain.directory import can_see, get_tenant, space_by_slug, visible_space_ids
from mailhub.domain.preferences import PreferenceRefused
from mailhub.domain.signin import Viewer
from mailhub.errors import NotFound
from mailhub.i18n import N_
from mailhub.models import Form, Page, Space, SubjectKind, Subscription, Tenant, User
from mailhub.outbound.keys import TokenRefused, token_for
from mailhub.privacy import requests
from mailhub.privacy.report import access_report
from mailhub.web.auth import check_csrf, require
from mailhub.web.notify import Notify

Html = Callable[..., HTMLResponse]

LEVELS = ("watching", "normal", "muted")
FREQUENCIES = ("immediately", "hourly", "daily", "weekly", "never")


@dataclass(frozen=True)
class SpaceRow:
    slug: str
    name: str
    own_level: str  # "" when inherited
    own_frequency: str
    level: str
    frequency: str
    source: str  # page, space, space-default, tenant-default, system: said in words on the page
    mandatory: bool


@dataclass(frozen=True)
class SubjectRow:
    kind: str
    id: int
    name: str
    url: str
    level: str
    frequency: str


@dataclass(frozen=True)
class Who:
    tenant: Tenant
    user: User
    base: str  # where this page's forms post
    viewer: Viewer | None


def settings_of(
    session: Session, tenant: Tenant, user: User
) -> tuple[list[SpaceRow], list[SubjectRow]]:
    own = {
        (s.subject_kind, s.subject_id): s
        for s in session.scalars(select(Subscription).where(Subscription.user_id == user.id))
    }
    spaces = []
    visible = visible_space_ids(session, tenant, user)  # a restricted space: members only
    for space in session.scalars(
        select(Space)
        .where(Space.tenant_id == tenant.id, Space.id.in_(visible))
        .order_by(Space.name)
    ):
        eff = preferences.effective_for(session, user, space)
        mine = own.get((SubjectKind.SPACE.value, space.id))
        spaces.append(
            SpaceRow(
                space.slug,
                space.name,
                (mine.level or "") if mine else "",
                (mine.frequency or "") if mine else "",
                eff.level.value,
                eff.frequency.value,
                eff.source,
                eff.mandatory,
            )
        )
    subjects = []
    for (kind, subject_id), sub in sorted(own.items()):
        if kind == SubjectKind.PAGE:
            page = session.get(Page, subject_id)
            if page is not None and page.tenant_id == tenant.id:
                subjects.append(
                    SubjectRow(
                        kind,
                        page.id,
                        page.title,
                        f"/t/{tenant.slug}/pages/{page.id}",
                        sub.level or "inherited",
                        sub.frequency or "inherited",
                    )
                )
        elif kind == SubjectKind.FORM:
            form = session.get(Form, subject_id)
            if form is not None and form.tenant_id == tenant.id:
                subjects.append(
                    SubjectRow(
                        kind,
                        form.id,
                        f"answers to “{form.title}”",
                        f"/t/{tenant.slug}/forms/{form.id}",
                        sub.level or "inherited",
                        sub.frequency or "inherited",
                    )
                )
    return spaces, subjects


def register(app: FastAPI, sessions: SessionFactory, html: Html, notify: Notify) -> None:
    def who(request: Request, session: Session, tenant: str, token: str) -> Who:
        if not token:
            t, seen = require(request, session, tenant)
            return Who(t, seen.user, f"/t/{t.slug}/preferences", seen)
        t = get_tenant(session, tenant)
        row = token_for(session, t.id, token)
        user = session.get(User, row.user_id)
        if row.action != "unsubscribe" or user is None or user.tenant_id != t.id:
            raise TokenRefused(N_("This link is not valid. It may have been mistyped or cut off."))
        return Who(t, user, f"/t/{t.slug}/preferences/{token}", None)

    def page(
        session: Session, w: Who, message: str = "", code: int = 200, at: str = ""
    ) -> HTMLResponse:
        spaces, subjects = settings_of(session, w.tenant, w.user)
        return html(
            "preferences.html",
            code,
            viewer=w.viewer,
            who=w,
            spaces=spaces,
            subjects=subjects,
            levels=LEVELS,
            frequencies=FREQUENCIES,
            objection=objections.in_force(session, w.user.id),
            message=message,
            at=at,  # the space row the message is about: shown there too
        )

    async def change(request: Request, tenant: str, token: str) -> Response:
        form: Mapping[str, object] = await request.form()
        what, arg = str(form.get("do") or ""), str(form.get("arg") or "")
        with unit_of_work(sessions) as session:
            w = who(request, session, tenant, token)
            if w.viewer is not None:
                check_csrf(w.viewer, form)
            try:
                message, made = act(session, w, what, arg, form)
            except PreferenceRefused as exc:
                return page(session, w, f"Not changed: {exc}.", 409)
        notify(made)
        back = str(form.get("back") or "")
        if what == "space" and back == f"/t/{w.tenant.slug}/s/{arg}":  # the space's own home
            return RedirectResponse(f"{back}?done={message}#follow", status_code=303)
        anchor = f"&at={quote(arg)}#space-{quote(arg)}" if what == "space" else ""
        return RedirectResponse(f"{w.base}?done={message}{anchor}", status_code=303)

    def act(
        session: Session, w: Who, what: str, arg: str, form: Mapping[str, object]
    ) -> tuple[str, list[int]]:
        """What changed, in a word for the page, and the mail it owes (sent after commit)."""
        t, user = w.tenant, w.user
        if what == "space":
            space = space_by_slug(session, t.id, arg)
            if space is None or not can_see(session, user, space):
                raise NotFound(arg)
            preferences.subscribe(
                session,
                t,
                user,
                SubjectKind.SPACE,
                space.id,
                preferences.parse_level(str(form.get("level") or "")),
                preferences.parse_frequency(str(form.get("frequency") or "")),
            )
            return "saved", []
        if what == "forget":  # a page or form back to what its space says
            kind, _, subject_id = arg.partition("-")
            if kind not in (SubjectKind.PAGE, SubjectKind.FORM) or not subject_id.isdigit():
                raise NotFound(arg)
            sub = session.scalar(
                select(Subscription).where(
                    Subscription.user_id == user.id,
                    Subscription.subject_kind == kind,
                    Subscription.subject_id == int(subject_id),
                )
            )
            if sub is not None:
                session.delete(sub)
            return "saved", []
        if what in ("report", "export", "erase"):  # Art. 15, 20 and 17, confirmed by mail
            kind = {"report": "access", "export": "export", "erase": "erase"}[what]
            _, mail = requests.request(session, t, user.email, kind, via="web")
            return what, [mail] if mail else []
        if what == "mute-all":
            preferences.mute_all(session, t, user)
            return "muted", []
        if what == "object":
            objections.object_to_processing(session, t, user)
            return "objected", []
        if what == "withdraw":
            objections.withdraw(session, t, user)
            return "withdrawn", []
        if what == "restrict":  # Art. 18: kept, but not used, while something is settled
            objections.object_to_processing(session, t, user, "restriction")
            return "restricted", []
        if what == "unrestrict":
            objections.withdraw(session, t, user, "restriction")
            return "unrestricted", []
        raise NotFound(what)

    @app.get("/t/{tenant}/preferences", response_class=HTMLResponse)
    def mine(request: Request, tenant: str, done: str = "", at: str = "") -> HTMLResponse:
        with unit_of_work(sessions) as session:
            return page(session, who(request, session, tenant, ""), done, at=at)

    @app.get("/t/{tenant}/my-data", response_class=HTMLResponse)
    def my_data(request: Request, tenant: str) -> HTMLResponse:
        """The access report (Art. 15) for the signed-in member, at once, in words."""
        with sessions() as session:
            t, seen = require(request, session, tenant)
            report = access_report(session, t, seen.user)
            return html("my_data.html", viewer=seen, tenant=t, report=report)

    @app.get("/t/{tenant}/preferences/{token}", response_class=HTMLResponse)
    def by_link(
        request: Request, tenant: str, token: str, done: str = "", at: str = ""
    ) -> HTMLResponse:
        with unit_of_work(sessions) as session:
            return page(session, who(request, session, tenant, token), done, at=at)

    @app.post("/t/{tenant}/preferences")
    async def change_mine(request: Request, tenant: str) -> Response:
        return await change(request, tenant, "")

    @app.post("/t/{tenant}/preferences/{token}")
    async def change_by_link(request: Request, tenant: str, token: str) -> Response:
        return await change(request, tenant, token)
