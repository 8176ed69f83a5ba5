"""Search on the web: a page that works without JavaScript, and the JSON it fetches to find as
the person types. Only the signed-in member's tenant is searched."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from mailhub import i18n
from mailhub.db import SessionFactory
from mailhub.domain import search
from mailhub.web.auth import require
from mailhub.web.language import page_language

Html = Callable[..., HTMLResponse]


def register(app: FastAPI, sessions: SessionFactory, html: Html) -> None:
    @app.get("/t/{tenant}/search", response_class=HTMLResponse)
    def page(request: Request, tenant: str, q: str = "") -> HTMLResponse:
        with sessions() as session:
            t, seen = require(request, session, tenant)
            _ = i18n.translator(page_language({"viewer": seen}))
            hits = search.find(session, t, q, viewer=seen.user, _=_)
            return html("search.html", viewer=seen, q=q, hits=hits)

    @app.get("/t/{tenant}/search.json")
    def as_you_type(request: Request, tenant: str, q: str = "") -> JSONResponse:
        with sessions() as session:
            t, seen = require(request, session, tenant)
            _ = i18n.translator(page_language({"viewer": seen}))
            hits = [asdict(h) for h in search.find(session, t, q, viewer=seen.user, _=_)]
        return JSONResponse({"q": q, "hits": hits}, headers={"Cache-Control": "no-store"})
