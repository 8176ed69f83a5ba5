"""The link that confirms a privacy request made in someone's name: GET shows what was asked
and a button, only the POST confirms it (and the request then runs), so a mail scanner that
fetches the link confirms nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response

from mailhub.db import SessionFactory, unit_of_work
from mailhub.domain.directory import get_tenant
from mailhub.errors import NotFound
from mailhub.i18n import N_
from mailhub.privacy import requests
from mailhub.stores.blobs import DatabaseBlobs
from mailhub.web.notify import Notify

Html = Callable[..., HTMLResponse]


def register(
    app: FastAPI,
    sessions: SessionFactory,
    html: Html,
    notify: Notify,
    exports: Path | None,
    export_blobs: DatabaseBlobs | None = None,
) -> None:
    @app.get("/t/{tenant}/exports/{token}")
    def download(tenant: str, token: str) -> Response:
        if exports is None:
            raise NotFound("exports are served by `mailhub serve` and `mailhub web`")
        with sessions() as session:
            t = get_tenant(session, tenant)
            req, rel = requests.archive_of(session, t, token)
        try:
            archive = export_blobs.cached(rel) if export_blobs is not None else exports / rel
        except FileNotFoundError:
            raise NotFound("export archive") from None
        return FileResponse(
            archive,
            media_type="application/zip",
            filename=f"{t.slug}-my-data-{req.id}.zip",
            headers={"Cache-Control": "no-store"},
        )

    @app.get("/t/{tenant}/privacy/{token}", response_class=HTMLResponse)
    def confirm_page(tenant: str, token: str) -> HTMLResponse:
        with sessions() as session:
            t = get_tenant(session, tenant)
            req = requests.of_token(session, t, token)
            return html(
                "privacy_confirm.html", tenant=t, req=req, action=f"/t/{t.slug}/privacy/{token}"
            )

    @app.post("/t/{tenant}/privacy/{token}", response_class=HTMLResponse)
    def confirm(tenant: str, token: str) -> HTMLResponse:
        with unit_of_work(sessions) as session:
            t = get_tenant(session, tenant)
            req, mails = requests.verify(session, t, token)
            kind = req.kind
        notify(mails)
        said = {
            "access": N_("Confirmed. The report of your data is on its way to your inbox."),
            "object": N_(
                "Confirmed. Your objection is recorded: no more notifications, and mail "
                "you send in is not processed."
            ),
            "restrict": N_("Confirmed. The restriction is recorded."),
            "export": N_("Confirmed. Your data is being packed; a download link follows by mail."),
            "erase": N_(
                "Confirmed. Your account is being erased now; you will get one last mail "
                "when it is done, and nothing after it."
            ),
        }
        return html("done.html", message=said.get(kind, N_("Confirmed.")))
