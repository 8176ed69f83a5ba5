"""The Starlette/FastAPI application: routes map requests to queries and errors to pages.

Error mapping lives here and only here: NotFound is a 404 page, anything else a 500 page;
no route ever shows a traceback.
"""

from __future__ import annotations

import logging

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mailhub import TEMPLATES_DIR
from mailhub.db import SessionFactory
from mailhub.errors import MailhubError, NotFound
from mailhub.files import FileStore
from mailhub.queries import attachment_file, form_view, list_pages, page_view
from mailhub.web import actions, forms
from mailhub.web.gmail import GoogleBearer
from mailhub.web.notify import Notify, due_for_next_sweep

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def create_app(
    sessions: SessionFactory,
    files: FileStore,
    gmail: GoogleBearer | None = None,
    notify: Notify | None = None,
) -> FastAPI:
    """The web application; `gmail` verifies Google's bearer on ConfirmAction handlers;
    `notify` enqueues notifications a request made (without it, the next sweep sends them)."""
    app = FastAPI(title="mailhub", docs_url=None, redoc_url=None, openapi_url=None)
    notify = notify or due_for_next_sweep(sessions)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR / "web"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )

    def html(template: str, code: int = 200, **context: object) -> HTMLResponse:
        return HTMLResponse(env.get_template(template).render(**context), status_code=code)

    def error(code: int, heading: str, message: str) -> HTMLResponse:
        return html("error.html", code, status=code, heading=heading, message=message)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, exc: NotFound) -> HTMLResponse:
        return error(404, "Not found", "There is nothing here, or it is not yours to see.")

    @app.exception_handler(MailhubError)
    async def refused(_request: Request, exc: MailhubError) -> HTMLResponse:
        return error(400, "That did not work", str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        if exc.status_code == 404:
            return error(404, "Not found", "There is nothing here, or it is not yours to see.")
        return error(exc.status_code, "That did not work", str(exc.detail))

    @app.exception_handler(Exception)
    async def crashed(_request: Request, exc: Exception) -> HTMLResponse:
        log.exception("web request failed")
        return error(500, "Something went wrong", "The error was logged. Please try again later.")

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return html("index.html")

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/t/{tenant}/pages", response_class=HTMLResponse)
    def pages(tenant: str) -> HTMLResponse:
        with sessions() as session:
            return html("pages.html", tenant=tenant, pages=list_pages(session, tenant))

    # Raster images are shown inline; everything else (SVG and HTML included, which could
    # carry script) is only ever a download, sandboxed by CSP either way.
    inline_types = {"image/png", "image/jpeg", "image/gif", "image/webp"}

    @app.get("/t/{tenant}/attachments/{attachment_id}")
    @app.get("/t/{tenant}/attachments/{attachment_id}/thumb/{width}")
    def attachment(tenant: str, attachment_id: str, width: str = "") -> Response:
        if not attachment_id.isdigit():
            raise NotFound(attachment_id)
        with sessions() as session:
            a, rel = attachment_file(session, tenant, int(attachment_id), width)
        if width:
            media = "image/png" if rel.endswith(".png") else "image/jpeg"
            return FileResponse(files.path(rel), media_type=media)
        shown_inline = a.content_type in inline_types
        return FileResponse(
            files.path(rel),
            media_type=a.content_type if shown_inline else "application/octet-stream",
            filename=a.filename,
            content_disposition_type="inline" if shown_inline else "attachment",
            headers={"Content-Security-Policy": "default-src 'none'; sandbox"},
        )

    @app.get("/t/{tenant}/pages/{page_id}", response_class=HTMLResponse)
    def page(tenant: str, page_id: str) -> HTMLResponse:
        if not page_id.isdigit():
            raise NotFound(page_id)
        with sessions() as session:
            return html("page.html", page=page_view(session, tenant, int(page_id)))

    @app.get("/t/{tenant}/forms/{form_id}", response_class=HTMLResponse)
    def form(tenant: str, form_id: str) -> HTMLResponse:
        if not form_id.isdigit():
            raise NotFound(form_id)
        with sessions() as session:
            return html("form.html", form=form_view(session, tenant, int(form_id)))

    actions.register(app, sessions, html, gmail, notify)
    forms.register(app, sessions, html, notify)
    return app
