"""Forms on the web: answering through a person's own link from their invitation, and the
owner's results with CSV and JSON export.

The link is the credential (as in the unsubscribe pages) until sign-in exists; it is bound to
one person and one form. Answers are checked on the server by the same rules as answers by
mail (content/answers.py); a page with problems comes back with every value kept and each
problem beside its question.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from mailhub import forms
from mailhub.content.answers import check
from mailhub.db import SessionFactory, unit_of_work
from mailhub.directory import get_tenant
from mailhub.errors import NotFound
from mailhub.web.notify import Notify, made_by

Html = Callable[..., HTMLResponse]


def register(app: FastAPI, sessions: SessionFactory, html: Html, notify: Notify) -> None:
    def form_id_of(value: str) -> int:
        if not value.isdigit():
            raise NotFound(value)
        return int(value)

    @app.get("/t/{tenant}/forms/{form_id}/answer/{token}", response_class=HTMLResponse)
    def answer_page(tenant: str, form_id: str, token: str) -> HTMLResponse:
        with sessions() as session:
            t = get_tenant(session, tenant)
            form, user = forms.by_link(session, t, form_id_of(form_id), token, "answer_web")
            version = forms.version(session, form)
            earlier = forms.response_of(session, form, user)
            values: dict[int, object] = {}
            if earlier is not None and earlier.version_id == version.id:
                values = {int(i): v for i, v in earlier.answers.items()}
            return html(
                "form_answer.html",
                form=form,
                user=user,
                questions=version.definition["questions"],
                description=version.definition.get("description", ""),
                values=values,
                problems={},
                general=[],
                answered=earlier is not None,
            )

    @app.post("/t/{tenant}/forms/{form_id}/answer/{token}", response_class=HTMLResponse)
    async def answer(request: Request, tenant: str, form_id: str, token: str) -> HTMLResponse:
        data = await request.form()
        with unit_of_work(sessions) as session:
            t = get_tenant(session, tenant)
            form, user = forms.by_link(session, t, form_id_of(form_id), token, "answer_web")
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
                return html(
                    "form_answer.html",
                    422,
                    form=form,
                    user=user,
                    questions=questions,
                    description=version.definition.get("description", ""),
                    values=raw,
                    problems={p.index: p.message for p in reading.problems if p.index is not None},
                    general=[p.message for p in reading.problems if p.index is None],
                    answered=False,
                )
            forms.answer(session, t, form, version, user, reading.values, "web")
            recorded = [
                (q["text"], forms.shown(q, reading.values[i]))
                for i, q in enumerate(questions)
                if i in reading.values
            ]
            page = html("form_answered.html", form=form, recorded=recorded)
        notify(made_by(session))
        return page

    @app.get("/t/{tenant}/forms/{form_id}/results/{token}", response_class=HTMLResponse)
    def results_page(tenant: str, form_id: str, token: str) -> HTMLResponse:
        with sessions() as session:
            t = get_tenant(session, tenant)
            form, _ = forms.by_link(session, t, form_id_of(form_id), token, "results")
            res = forms.results(session, t, form)
            return html(
                "form_results.html",
                form=form,
                results=res,
                counts=res.counts(),
                shown=forms.shown,
                export=f"/t/{tenant}/forms/{form.id}/results/{token}/export",
            )

    @app.get("/t/{tenant}/forms/{form_id}/results/{token}/export.{fmt}")
    def export(tenant: str, form_id: str, token: str, fmt: str) -> Response:
        if fmt not in ("csv", "json"):
            raise NotFound(fmt)
        with sessions() as session:
            t = get_tenant(session, tenant)
            form, _ = forms.by_link(session, t, form_id_of(form_id), token, "results")
            res = forms.results(session, t, form)
            name = f"form-{form.id}-answers.{fmt}"
            disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
            if fmt == "csv":
                return Response(
                    forms.to_csv(res), media_type="text/csv; charset=utf-8", headers=disposition
                )
            body = json.dumps(forms.to_json(session, res), ensure_ascii=False, indent=2)
            return Response(body, media_type="application/json", headers=disposition)
