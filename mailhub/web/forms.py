"""Forms on the web: answering, results with CSV and JSON export, closing.

Two ways in: a signed-in member (the session, with CSRF on every POST), or a person's own
link from their invitation or from the owner's mail (the link is the credential, bound to one
person and one form, as the unsubscribe pages are). Answers are checked on the server by the
same rules as answers by mail (content/answers.py); a page with problems comes back with every
value kept and each problem beside its question.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from mailhub.content.answers import check
from mailhub.db import SessionFactory, unit_of_work
from mailhub.domain import forms
from mailhub.domain.directory import can_see, get_tenant
from mailhub.errors import NotFound
from mailhub.models import Form, Space, Tenant, User
from mailhub.web.auth import Forbidden, check_csrf, require
from mailhub.web.notify import Notify

Html = Callable[..., HTMLResponse]


def visible_form(session: Session, t: Tenant, form_id: int, user: User) -> Form:
    """A form in a space the member may see; to anyone else it does not exist."""
    form = forms.get_form(session, t, form_id)
    if not can_see(session, user, session.get_one(Space, form.space_id)):
        raise NotFound(f"no form {form_id} for {user.email}")
    return form


def _number(value: str) -> int:
    if not value.isdigit():
        raise NotFound(value)
    return int(value)


def register(app: FastAPI, sessions: SessionFactory, html: Html, notify: Notify) -> None:
    def answer_page(
        session: Session,
        form: Form,
        user: User,
        csrf: str = "",
        owner: str = "",
        **context: Any,
    ) -> HTMLResponse:
        version = forms.version(session, form)
        earlier = forms.response_of(session, form, user)
        values: dict[int, object] = {}
        if earlier is not None and earlier.version_id == version.id:
            values = {int(i): v for i, v in earlier.answers.items()}
        page: dict[str, Any] = {
            "form": form,
            "user": user,
            "questions": version.definition["questions"],
            "description": version.definition.get("description", ""),
            "values": values,
            "problems": {},
            "general": [],
            "answered": earlier is not None,
            "csrf": csrf,
            "owner": owner,
        } | context
        return html("form_answer.html", page.pop("code", 200), **page)

    def record(
        session: Session,
        t: Tenant,
        form: Form,
        user: User,
        data: Any,
        csrf: str = "",
        **context: Any,
    ) -> tuple[HTMLResponse, list[int]]:
        """The page after an answer, and the notifications it made (to send after commit)."""
        version = forms.version(session, form)
        questions = version.definition["questions"]
        raw: dict[int, str | list[str]] = {}
        for i, q in enumerate(questions):
            if q["kind"] == "multiple":
                raw[i] = [str(v) for v in data.getlist(f"q{i}")]
            else:
                raw[i] = str(data.get(f"q{i}") or "")
        reading = check(questions, raw)
        if not reading.ok:
            return answer_page(
                session,
                form,
                user,
                csrf,
                code=422,
                values=raw,
                problems={p.index: p.message for p in reading.problems if p.index is not None},
                general=[p.message for p in reading.problems if p.index is None],
                answered=False,
                **context,
            ), []
        done = forms.answer(session, t, form, version, user, reading.values, "web")
        recorded = [
            (q["text"], forms.shown(reading.values[i]))
            for i, q in enumerate(questions)
            if i in reading.values
        ]
        return html("form_answered.html", form=form, recorded=recorded, **context), (
            done.notification_ids
        )

    def results_page(
        session: Session, t: Tenant, form: Form, export: str, **context: Any
    ) -> HTMLResponse:
        res = forms.results(session, t, form)
        return html(
            "form_results.html",
            form=form,
            results=res,
            summaries=res.summaries(),
            shown=forms.shown,
            export=export,
            **context,
        )

    def export(session: Session, t: Tenant, form: Form, fmt: str) -> Response:
        if fmt not in ("csv", "json"):
            raise NotFound(fmt)
        res = forms.results(session, t, form)
        name = f"form-{form.id}-answers.{fmt}"
        disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
        if fmt == "csv":
            return Response(
                forms.to_csv(res), media_type="text/csv; charset=utf-8", headers=disposition
            )
        body = json.dumps(forms.to_json(session, res), ensure_ascii=False, indent=2)
        return Response(body, media_type="application/json", headers=disposition)

    def owns(form: Form, user: User) -> bool:
        return form.creator_id == user.id or user.is_admin

    # Signed in --------------------------------------------------------------------------

    @app.get("/t/{tenant}/forms/{form_id}", response_class=HTMLResponse)
    def form_page(request: Request, tenant: str, form_id: str) -> HTMLResponse:
        with sessions() as session:
            t, seen = require(request, session, tenant)
            form = visible_form(session, t, _number(form_id), seen.user)
            owner = f"/t/{t.slug}/forms/{form.id}" if owns(form, seen.user) else ""
            return answer_page(session, form, seen.user, seen.csrf, owner, viewer=seen)

    @app.post("/t/{tenant}/forms/{form_id}", response_class=HTMLResponse)
    async def answer_signed_in(request: Request, tenant: str, form_id: str) -> HTMLResponse:
        data = await request.form()
        with unit_of_work(sessions) as session:
            t, seen = require(request, session, tenant)
            check_csrf(seen, data)
            form = visible_form(session, t, _number(form_id), seen.user)
            page, made = record(session, t, form, seen.user, data, seen.csrf, viewer=seen)
        notify(made)
        return page

    @app.get("/t/{tenant}/forms/{form_id}/results", response_class=HTMLResponse)
    def results_signed_in(request: Request, tenant: str, form_id: str) -> HTMLResponse:
        with sessions() as session:
            t, seen = require(request, session, tenant)
            form = visible_form(session, t, _number(form_id), seen.user)
            if not owns(form, seen.user):
                raise NotFound("not the form's owner")
            base = f"/t/{t.slug}/forms/{form.id}"
            return results_page(
                session, t, form, f"{base}/export", viewer=seen, close=f"{base}/close"
            )

    @app.get("/t/{tenant}/forms/{form_id}/export.{fmt}")
    def export_signed_in(request: Request, tenant: str, form_id: str, fmt: str) -> Response:
        with sessions() as session:
            t, seen = require(request, session, tenant)
            form = visible_form(session, t, _number(form_id), seen.user)
            if not owns(form, seen.user):
                raise NotFound("not the form's owner")
            return export(session, t, form, fmt)

    @app.post("/t/{tenant}/forms/{form_id}/close")
    async def close(request: Request, tenant: str, form_id: str) -> Response:
        data = await request.form()
        with unit_of_work(sessions) as session:
            t, seen = require(request, session, tenant)
            check_csrf(seen, data)
            form = visible_form(session, t, _number(form_id), seen.user)
            if not owns(form, seen.user):
                raise Forbidden("Only the person who made this form can close it.")
            forms.close(session, t, form)
        return RedirectResponse(f"/t/{tenant}/forms/{form.id}/results", status_code=303)

    # A person's own link ----------------------------------------------------------------

    @app.get("/t/{tenant}/forms/{form_id}/answer/{token}", response_class=HTMLResponse)
    def answer_by_link(tenant: str, form_id: str, token: str) -> HTMLResponse:
        with sessions() as session:
            t = get_tenant(session, tenant)
            form, user = forms.by_link(session, t, _number(form_id), token, "answer_web")
            return answer_page(session, form, user)

    @app.post("/t/{tenant}/forms/{form_id}/answer/{token}", response_class=HTMLResponse)
    async def answer(request: Request, tenant: str, form_id: str, token: str) -> HTMLResponse:
        data = await request.form()
        with unit_of_work(sessions) as session:
            t = get_tenant(session, tenant)
            form, user = forms.by_link(session, t, _number(form_id), token, "answer_web")
            page, made = record(session, t, form, user, data)
        notify(made)
        return page

    @app.get("/t/{tenant}/forms/{form_id}/results/{token}", response_class=HTMLResponse)
    def results_by_link(tenant: str, form_id: str, token: str) -> HTMLResponse:
        with sessions() as session:
            t = get_tenant(session, tenant)
            form, _ = forms.by_link(session, t, _number(form_id), token, "results")
            return results_page(
                session, t, form, f"/t/{tenant}/forms/{form.id}/results/{token}/export"
            )

    @app.get("/t/{tenant}/forms/{form_id}/results/{token}/export.{fmt}")
    def export_by_link(tenant: str, form_id: str, token: str, fmt: str) -> Response:
        with sessions() as session:
            t = get_tenant(session, tenant)
            form, _ = forms.by_link(session, t, _number(form_id), token, "results")
            return export(session, t, form, fmt)
