"""Routes behind the links in mail that change something: unsubscribe and page actions.

No GET changes state: a GET shows what the link would do and a button; only a POST acts, so a
mail scanner that fetches every link acts on nothing. RFC 8058's one-click unsubscribe is a
POST with the body "List-Unsubscribe=One-Click" and no cookies: the token in the URL is the
only credential, so these pages work logged out.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from mailhub.db import SessionFactory, unit_of_work
from mailhub.domain import actions
from mailhub.domain.directory import get_tenant
from mailhub.web.gmail import BearerRefused, GoogleBearer
from mailhub.web.notify import Notify

Html = Callable[..., HTMLResponse]


def register(
    app: FastAPI, sessions: SessionFactory, html: Html, gmail: GoogleBearer | None, notify: Notify
) -> None:
    @app.get("/t/{tenant}/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe_page(tenant: str, token: str) -> HTMLResponse:
        with sessions() as session:
            offer = actions.offer(session, get_tenant(session, tenant), token)
            return html(
                "unsubscribe.html",
                offer=offer,
                action_url=f"/t/{tenant}/unsubscribe/{token}",
                token=token,
            )

    @app.post("/t/{tenant}/unsubscribe/{token}", response_class=HTMLResponse)
    async def unsubscribe(request: Request, tenant: str, token: str) -> HTMLResponse:
        form = await request.form()
        # The one-click POST of RFC 8058 carries only List-Unsubscribe=One-Click: exactly
        # this subject. The page's own form names a choice.
        choice = str(form.get("choice") or "this")
        with unit_of_work(sessions) as session:
            done = actions.perform(session, get_tenant(session, tenant), token, choice)
        notify(done.notification_ids)
        return html("done.html", message=done.template, params=done.params)

    @app.get("/t/{tenant}/actions/{token}", response_class=HTMLResponse)
    def action_page(tenant: str, token: str) -> HTMLResponse:
        with sessions() as session:
            offer = actions.offer(session, get_tenant(session, tenant), token)
            return html("confirm.html", offer=offer, action_url=f"/t/{tenant}/actions/{token}")

    @app.post("/t/{tenant}/actions/{token}", response_class=HTMLResponse)
    def act(tenant: str, token: str) -> HTMLResponse:
        with unit_of_work(sessions) as session:
            done = actions.perform(session, get_tenant(session, tenant), token)
        notify(done.notification_ids)
        return html("done.html", message=done.template, params=done.params)

    @app.post("/t/{tenant}/actions/{token}/gmail")
    def gmail_action(request: Request, tenant: str, token: str) -> Response:
        """Gmail's HttpActionHandler for a ConfirmAction: Google POSTs once, with a bearer."""
        with unit_of_work(sessions) as session:
            t = get_tenant(session, tenant)
            if gmail is not None:
                try:
                    gmail.verify(request.headers.get("authorization"), t.domain)
                except BearerRefused as exc:
                    return PlainTextResponse(f"unauthorized: {exc}", status_code=401)
            done = actions.perform(session, t, token)
        notify(done.notification_ids)
        return PlainTextResponse(done.message)

    @app.get("/t/{tenant}/actions/{token}/gmail", response_class=HTMLResponse)
    def gmail_action_get(tenant: str, token: str) -> HTMLResponse:
        return action_page(tenant, token)
