"""Signing in on the web: the magic-link pages, the session cookie, and CSRF.

Every page of a tenant's content needs a signed-in member of that tenant (`require`); a
member of another tenant is told the page does not exist, the same as for a page that does
not. Links in mail that carry their own token (unsubscribe, actions, a person's form link)
need no session: the token is the credential.

Every form a signed-in person posts carries the session's CSRF token, compared in constant
time; the sign-in forms (asking for a link, and the button the link opens), which have no
session yet, use a double-submit cookie, and every POST from a browser must come from
mailhub's own pages (`same_origin`, checked for the whole app). Cookies are HttpOnly and
SameSite=Lax, Secure when mailhub is served over https, and scoped to one tenant's path, so
signing in to one tenant never replaces or reuses another's session.

Asking for a link answers at once, the same for members and strangers; the link is made and
queued after the response, so how long the answer takes tells nobody who has an account.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Mapping
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from mailhub.db import SessionFactory, unit_of_work
from mailhub.domain import signin
from mailhub.domain.directory import get_tenant
from mailhub.domain.signin import Viewer
from mailhub.errors import MailhubError, NotFound
from mailhub.i18n import N_
from mailhub.ingress.ratelimit import SenderRateLimiter
from mailhub.models import Tenant, User
from mailhub.outbound.keys import TokenRefused
from mailhub.web.notify import Notify

COOKIE = "mailhub_session"
HOME_COOKIE = "mailhub_home"  # the tenant this browser last signed in to, for "/"
CSRF_COOKIE = "mailhub_csrf"  # the sign-in form's double-submit token, before any session
Html = Callable[..., HTMLResponse]


class SignInRequired(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The page needs a signed-in member: GET goes to the sign-in page, and comes back."""

    def __init__(self, tenant: str, next_path: str) -> None:
        super().__init__(tenant)
        self.tenant = tenant
        self.next_path = next_path


class Forbidden(MailhubError):
    """A form without its CSRF token, or an action this person may not take."""


def require(request: Request, session: Session, tenant_slug: str) -> tuple[Tenant, Viewer]:
    """The tenant and the signed-in member looking at it, or SignInRequired."""
    tenant = get_tenant(session, tenant_slug)
    seen = signin.viewer(session, tenant, request.cookies.get(COOKIE))
    if seen is not None and session.dirty and not session.info.get("unit_of_work"):
        session.commit()  # a read-only page still keeps the session alive (last use)
    if seen is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(tenant.slug, path)
    return tenant, seen


def require_admin(request: Request, session: Session, tenant_slug: str) -> tuple[Tenant, Viewer]:
    tenant, seen = require(request, session, tenant_slug)
    if not seen.user.is_admin:
        raise NotFound("not an administrator")  # as if the page did not exist
    return tenant, seen


def check_csrf(seen: Viewer, form: Mapping[str, object]) -> None:
    _same_token(str(form.get("csrf") or ""), seen.csrf)


def _same_token(sent: str, kept: str) -> None:
    if not sent or not kept or not hmac.compare_digest(sent, kept):
        raise Forbidden("This form has expired. Go back, reload the page and try again.")


def tenant_path(slug: str) -> str:
    """Where a tenant's cookies are sent: its pages only."""
    return f"/t/{slug}/"


def same_origin(request: Request, base_url: str) -> bool:
    """A POST a browser sent from mailhub's own pages: its Origin (or, without one, its
    Referer) is this server's, as the Host header or the configured base URL names it. A
    request with neither header comes from no web page (a mail provider's one-click POST, a
    script), and its own token decides."""
    claimed = request.headers.get("origin")
    if claimed is None:
        referer = request.headers.get("referer")
        if referer is None:
            return True
        parts = urlsplit(referer)
        claimed = f"{parts.scheme}://{parts.netloc}"
    ours = {f"{request.url.scheme}://{request.headers.get('host', '')}".lower()}
    if base_url:
        base = urlsplit(base_url)
        ours.add(f"{base.scheme}://{base.netloc}".lower())
    return claimed.lower() in ours


def register(
    app: FastAPI,
    sessions: SessionFactory,
    html: Html,
    notify: Notify,
    secure: bool,
    limiter: SenderRateLimiter,
) -> None:
    def cookie(response: Response, slug: str, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            httponly=True,
            samesite="lax",
            secure=secure,
            path=tenant_path(slug),
        )

    def with_form_token(slug: str, page: HTMLResponse, token: str) -> HTMLResponse:
        cookie(page, slug, CSRF_COOKIE, token, 3600)
        return page

    def too_many(request: Request, tenant_id: int) -> bool:
        """Count one sign-in request from this client; True when it is over the limit."""
        return not limiter.allow(tenant_id, request.client.host if request.client else "?")

    def too_many_page() -> HTMLResponse:
        return html(
            "error.html",
            429,
            status=429,
            heading=N_("Too many requests"),
            message=N_(
                "Too many sign-in links were asked for from here. "
                "Wait a few minutes, then try again."
            ),
        )

    def form_token(request: Request) -> str:
        return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)

    @app.get("/t/{tenant}/signin", response_class=HTMLResponse)
    def signin_page(request: Request, tenant: str, next: str = "") -> HTMLResponse:
        with sessions() as session:
            t = get_tenant(session, tenant)
        token = form_token(request)
        page = html("signin.html", tenant=t, next=next, csrf=token, sent=False)
        return with_form_token(t.slug, page, token)

    @app.post("/t/{tenant}/signin", response_class=HTMLResponse)
    async def ask_for_link(request: Request, tenant: str) -> HTMLResponse:
        form = await request.form()
        sent = str(form.get("csrf") or "")
        _same_token(sent, request.cookies.get(CSRF_COOKIE) or "")
        email, next_path = str(form.get("email") or "").strip(), str(form.get("next") or "")
        with sessions() as session:
            t = get_tenant(session, tenant)
        if too_many(request, t.id):
            return too_many_page()

        def mail_the_link() -> None:  # after the response: it takes as long for anyone
            with unit_of_work(sessions) as session:
                tenant_row = session.get_one(Tenant, t.id)
                made = (
                    signin.request_link(session, tenant_row, email, next_path)
                    if "@" in email
                    else None
                )
            notify([made] if made is not None else [])

        # The same answer for members and strangers: nobody learns who has an account.
        page = html("signin.html", tenant=t, next=next_path, csrf=sent, sent=True, email=email)
        page.background = BackgroundTask(mail_the_link)
        return page

    def ask_again(request: Request, t: Tenant, problem: str, next_path: str) -> HTMLResponse:
        """A used, expired or broken link: say so, and offer to mail a new one."""
        csrf = form_token(request)
        page = html(
            "signin.html", 400, tenant=t, next=next_path, csrf=csrf, sent=False, problem=problem
        )
        return with_form_token(t.slug, page, csrf)

    @app.get("/t/{tenant}/signin/{token}", response_class=HTMLResponse)
    def signin_confirm(request: Request, tenant: str, token: str, next: str = "") -> HTMLResponse:
        with sessions() as session:
            t = get_tenant(session, tenant)
            try:
                email = signin.holder(session, t, token).email
            except TokenRefused as exc:
                return ask_again(request, t, str(exc), next)
        query = f"?{urlencode({'next': next})}" if next else ""
        csrf = form_token(request)
        page = html(
            "signin_confirm.html",
            tenant=t,
            email=email,
            action=f"/t/{t.slug}/signin/{token}{query}",
            csrf=csrf,
        )
        return with_form_token(t.slug, page, csrf)

    @app.post("/t/{tenant}/signin/{token}")
    async def signin_post(request: Request, tenant: str, token: str, next: str = "") -> Response:
        # Login CSRF: only the button on the page the link opened signs in, in this browser.
        form = await request.form()
        _same_token(str(form.get("csrf") or ""), request.cookies.get(CSRF_COOKIE) or "")
        try:
            with unit_of_work(sessions) as session:
                t = get_tenant(session, tenant)
                opened = signin.sign_in(session, t, token, next)
        except TokenRefused as exc:
            with sessions() as session:
                return ask_again(request, get_tenant(session, tenant), str(exc), next)
        response = RedirectResponse(opened.next_path, status_code=303)
        cookie(response, t.slug, COOKIE, opened.cookie, signin.SESSION_DAYS * 86400)
        # Not a secret: which intranet "/" opens for this browser next time.
        response.set_cookie(
            HOME_COOKIE, t.slug, max_age=365 * 86400, httponly=True, samesite="lax", secure=secure
        )
        return response

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        """The way in: the intranet this browser signed in to last, the only one there is,
        or a form that mails a sign-in link for each intranet the address belongs to."""
        with sessions() as session:
            last = request.cookies.get(HOME_COOKIE, "")
            known = session.scalar(select(Tenant.slug).where(Tenant.slug == last)) if last else None
            if known:
                return RedirectResponse(f"/t/{known}/pages", status_code=303)
            slugs = list(session.scalars(select(Tenant.slug).limit(2)))
        if len(slugs) == 1:
            return RedirectResponse(f"/t/{slugs[0]}/signin", status_code=303)
        return html("index.html", sent=False, email="")

    @app.post("/signin", response_class=HTMLResponse)
    async def find_my_intranet(request: Request) -> HTMLResponse:
        form = await request.form()
        email = str(form.get("email") or "").strip()[:320]
        if too_many(request, 0):  # 0: the front door, before any tenant is known
            return too_many_page()

        def mail_the_links() -> None:  # after the response: it takes as long for anyone
            made: list[int] = []
            if "@" in email:
                with unit_of_work(sessions) as session:
                    tenants = session.scalars(
                        select(Tenant)
                        .join(User, User.tenant_id == Tenant.id)
                        .where(func.lower(User.email) == email.lower(), User.active)
                        .limit(20)
                    )
                    for t in list(tenants):
                        n = signin.request_link(session, t, email)
                        if n is not None:
                            made.append(n)
            notify(made)

        # The same answer for members and strangers: nobody learns who has an account where.
        page = html("index.html", sent=True, email=email)
        page.background = BackgroundTask(mail_the_links)
        return page

    @app.post("/t/{tenant}/signout")
    async def signout(request: Request, tenant: str) -> Response:
        form = await request.form()
        with unit_of_work(sessions) as session:
            _, seen = require(request, session, tenant)
            check_csrf(seen, form)
            signin.sign_out(session, request.cookies.get(COOKIE))
        response = RedirectResponse(f"/t/{tenant}/signin", status_code=303)
        response.delete_cookie(COOKIE, path=tenant_path(tenant))
        response.delete_cookie(COOKIE, path="/")  # as sessions before per-tenant cookies had it
        return response


def to_signin(exc: SignInRequired, method: str) -> Response:
    if method in ("GET", "HEAD"):
        query = urlencode({"next": exc.next_path})
        return RedirectResponse(f"/t/{exc.tenant}/signin?{query}", status_code=303)
    return HTMLResponse("Sign in first.", status_code=403)
