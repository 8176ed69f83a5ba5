"""The Starlette/FastAPI application: routes map requests to queries and errors to pages.

Error mapping lives here and only here: NotFound is a 404 page, anything else a 500 page;
no route ever shows a traceback.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mailhub import TEMPLATES_DIR, i18n
from mailhub.db import SessionFactory
from mailhub.errors import MailhubError, NotFound
from mailhub.i18n import N_
from mailhub.ingress.ratelimit import SenderRateLimiter
from mailhub.stores.blobs import DatabaseBlobs
from mailhub.stores.files import FileStore
from mailhub.web import (
    actions,
    admin,
    auth,
    forms,
    pages,
    preferences,
    privacy,
    search,
    spaces,
    static,
)
from mailhub.web.admin import Doctor
from mailhub.web.auth import Forbidden, SignInRequired, same_origin, to_signin
from mailhub.web.gmail import GoogleBearer
from mailhub.web.language import DIGESTS, browser_languages, page_language
from mailhub.web.notify import Notify, due_for_next_sweep

log = logging.getLogger(__name__)
# One line per request: method, path (redacted like every log line; the query left out),
# status, milliseconds.
# uvicorn's own access log is off: its formatter needs the record's arguments, which the
# redaction has already folded into the message.
access_log = logging.getLogger("mailhub.access")

SECURITY_HEADERS = {
    # Scripts only from mailhub's own files (find-as-you-type): never inline, never from mail.
    "Content-Security-Policy": "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; "
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
    base_url: str = "",
    limiter: SenderRateLimiter | None = None,
    exports: Path | None = None,
    file_key: bytes = b"",
    doctor: Doctor | None = None,
    export_blobs: DatabaseBlobs | None = None,
) -> FastAPI:
    """The web application; `gmail` verifies Google's bearer on ConfirmAction handlers;
    `notify` enqueues notifications a request made (without it, the next sweep sends them);
    cookies are Secure when `base_url` is https; `limiter` counts sign-in requests per client
    address (10 per 15 minutes by default); `file_key` checks the file links that mails carry
    (without it, none opens); `doctor` checks a domain's mail setup for the admin page;
    `export_blobs` holds export archives when they are in the database."""
    limiter = limiter or SenderRateLimiter(limit=10, window=900)
    app = FastAPI(title="mailhub", docs_url=None, redoc_url=None, openapi_url=None)
    notify = notify or due_for_next_sweep(sessions)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR / "web"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )

    def html(template: str, code: int = 200, **context: object) -> HTMLResponse:
        context.setdefault("viewer", None)  # base.html shows who is signed in
        _ = i18n.translator(page_language(context))
        digests = {frequency: _(name) for frequency, name in DIGESTS.items()}
        context.update(_=_, _html=_.html, ngettext=_.n, lang=_.locale, digests=digests)
        return HTMLResponse(env.get_template(template).render(**context), status_code=code)

    def error(code: int, heading: str, message: str) -> HTMLResponse:
        """An error page; `heading` and `message` are English, translated where the
        catalogs have them."""
        return html("error.html", code, status=code, heading=heading, message=message)

    @app.middleware("http")
    async def posts_from_our_pages(request: Request, call_next):  # type: ignore[no-untyped-def]
        # RFC 8058's one-click unsubscribe and Gmail's action handler are POSTed by mail
        # providers' servers, and only their tokens decide.
        exempt = request.url.path.endswith("/gmail") or "/unsubscribe/" in request.url.path
        if request.method == "POST" and not exempt and not same_origin(request, base_url):
            return error(403, N_("Not allowed"), N_("This form was sent from another site."))
        response: Response = await call_next(request)
        return response

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.middleware("http")  # added after the others: it sees every answer they give
    async def log_access(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        status = 500  # unless a response says otherwise
        try:
            response: Response = await call_next(request)
            status = response.status_code
            return response
        finally:
            access_log.info(  # a query (what someone searched for) is shown as "?…"
                "%s %s %d %.1f ms",
                request.method,
                request.url.path + ("?…" if request.url.query else ""),
                status,
                (time.perf_counter() - started) * 1000,
            )

    @app.middleware("http")  # outermost: every page of the request, errors included, reads it
    async def languages(request: Request, call_next):  # type: ignore[no-untyped-def]
        browser_languages.set(tuple(i18n.accepted(request.headers.get("accept-language", ""))))
        response: Response = await call_next(request)
        return response

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        return to_signin(exc, request.method)

    @app.exception_handler(Forbidden)
    async def forbidden(_request: Request, exc: Forbidden) -> HTMLResponse:
        return error(403, N_("Not allowed"), str(exc))

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, exc: NotFound) -> HTMLResponse:
        return error(404, N_("Not found"), N_("There is nothing here, or it is not yours to see."))

    @app.exception_handler(MailhubError)
    async def refused(_request: Request, exc: MailhubError) -> HTMLResponse:
        return error(400, N_("That did not work"), str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        if exc.status_code == 404:
            return error(
                404, N_("Not found"), N_("There is nothing here, or it is not yours to see.")
            )
        return error(exc.status_code, N_("That did not work"), str(exc.detail))

    @app.exception_handler(Exception)
    async def crashed(_request: Request, exc: Exception) -> HTMLResponse:
        log.exception("web request failed")
        return error(
            500, N_("Something went wrong"), N_("The error was logged. Please try again later.")
        )

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    auth.register(app, sessions, html, notify, base_url.startswith("https://"), limiter)
    pages.register(app, sessions, files, html, notify, file_key)
    actions.register(app, sessions, html, gmail, notify)
    forms.register(app, sessions, html, notify)
    preferences.register(app, sessions, html, notify)
    search.register(app, sessions, html)
    static.register(app)
    spaces.register(app, sessions, html)
    admin.register(app, sessions, html, notify, doctor)
    privacy.register(app, sessions, html, notify, exports, export_blobs)
    return app
