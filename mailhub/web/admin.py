"""Administering a tenant on the web: its mail policy, users, spaces and their default
subscriptions (mandatory or not), the moderation queue, the inbound log with retry, and the
record of objections and restrictions. For the tenant's administrators only; everyone else
is answered as if the pages did not exist. Every change is a POST with the session's CSRF
token, done by the same functions as the CLI."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub import i18n
from mailhub.db import SessionFactory, unit_of_work
from mailhub.domain import directory, inbound_log, preferences, signin
from mailhub.domain.signin import Viewer
from mailhub.errors import InvalidInput, MailhubError, NotFound
from mailhub.i18n import N_
from mailhub.models import (
    InboundStatus,
    Objection,
    Space,
    SpaceMember,
    SubjectKind,
    SubscriptionDefault,
    Tenant,
    User,
)
from mailhub.outbound.doctor import Finding
from mailhub.privacy import requests
from mailhub.web.auth import Forbidden, check_csrf, require_admin
from mailhub.web.language import page_language
from mailhub.web.notify import Notify

Html = Callable[..., HTMLResponse]
STATUSES = [s.value for s in InboundStatus]


Doctor = Callable[[str, str], list[Finding]]  # (slug, domain) -> what `mailhub doctor` says


def register(
    app: FastAPI, sessions: SessionFactory, html: Html, notify: Notify, doctor: Doctor | None
) -> None:
    def overview(
        session: Session, t: Tenant, seen: Viewer, status: str, message: str, code: int = 200
    ) -> HTMLResponse:
        defaults = {
            (d.subject_kind, d.subject_id): d
            for d in session.scalars(
                select(SubscriptionDefault).where(SubscriptionDefault.tenant_id == t.id)
            )
        }
        spaces = session.scalars(
            select(Space).where(Space.tenant_id == t.id).order_by(Space.name)
        ).all()
        members: dict[int, list[str]] = {}
        for space_id, email in session.execute(
            select(SpaceMember.space_id, User.email)
            .join(User, User.id == SpaceMember.user_id)
            .where(SpaceMember.tenant_id == t.id)
            .order_by(User.email)
        ):
            members.setdefault(space_id, []).append(email)
        users = session.scalars(
            select(User).where(User.tenant_id == t.id).order_by(User.guest, User.email)
        ).all()
        privacy = session.execute(
            select(Objection, User.email)
            .join(User, User.id == Objection.user_id)
            .where(Objection.tenant_id == t.id)
            .order_by(Objection.id.desc())
            .limit(100)
        ).all()
        return html(
            "admin.html",
            code,
            viewer=seen,
            tenant=t,
            spaces=[(s, defaults.get((SubjectKind.SPACE.value, s.id))) for s in spaces],
            everywhere=defaults.get((SubjectKind.TENANT.value, t.id)),
            members=members,
            users=users,
            held=inbound_log.list_inbound(session, t.slug, InboundStatus.HELD, 50),
            inbound=inbound_log.list_inbound(session, t.slug, status or None, 100),
            status=status,
            statuses=STATUSES,
            privacy=privacy,
            requests=(listed := requests.listing(session, t)[:100]),
            proofs=requests.proofs(session, [r.id for r in listed]),
            message=message,
            levels=("watching", "normal", "muted"),
            frequencies=("immediately", "hourly", "daily", "weekly", "never"),
        )

    @app.get("/t/{tenant}/admin", response_class=HTMLResponse)
    def admin(request: Request, tenant: str, status: str = "", done: str = "") -> HTMLResponse:
        if status and status not in STATUSES:
            raise NotFound(status)
        with sessions() as session:
            t, seen = require_admin(request, session, tenant)
            return overview(session, t, seen, status, done)

    @app.get("/t/{tenant}/admin/doctor", response_class=HTMLResponse)
    def mail_setup(request: Request, tenant: str) -> HTMLResponse:
        with sessions() as session:
            t, seen = require_admin(request, session, tenant)
            slug, domain = t.slug, t.domain
        findings = doctor(slug, domain) if doctor is not None else None  # DNS, no session held
        return html("doctor.html", viewer=seen, tenant=t, findings=findings)

    @app.post("/t/{tenant}/admin")
    async def change(request: Request, tenant: str) -> Response:
        form: Mapping[str, object] = await request.form()
        owed: list[int] = []
        try:
            with unit_of_work(sessions) as session:
                t, seen = require_admin(request, session, tenant)
                check_csrf(seen, form)
                _ = i18n.translator(page_language({"viewer": seen}))
                said = act(session, t, seen, form, owed, _)
        except (NotFound, Forbidden):
            raise
        except MailhubError as exc:  # a bad value: nothing changed, and the page says why
            with sessions() as session:
                t, seen = require_admin(request, session, tenant)
                _ = i18n.translator(page_language({"viewer": seen}))
                said = _("Not changed: {reason}", reason=_(str(exc)))
                return overview(session, t, seen, "", said, 422)
        notify(owed)
        return RedirectResponse(f"/t/{tenant}/admin?done={quote(said)}", status_code=303)

    def act(
        session: Session,
        t: Tenant,
        seen: Viewer,
        form: Mapping[str, object],
        owed: list[int],
        _: i18n.Translator,
    ) -> str:
        """Do what the form asks; what was done, in a sentence in the administrator's
        language."""
        do = str(form.get("do") or "")

        def value(name: str) -> str:
            return str(form.get(name) or "").strip()

        if do == "tenant":
            directory.set_policy(
                session,
                t,
                unknown_senders=value("unknown_senders") or None,
                require_authenticated=value("require_authenticated") == "yes",
                apply_dmarc=value("apply_dmarc") == "yes",
                locale=value("locale") or None,
                publish_receipts=value("receipts") == "yes",
                default_space=value("default_space") or None,
                hourly_cap=value("hourly_cap") or None,
                keep_shared_content=value("keep_shared_content") == "yes",
                inactive_days=value("inactive_days") or "0",
            )
            return _("Settings saved.")
        if do == "add_user":
            user = directory.add_user(
                session, t, value("email"), value("name"), admin=value("admin") == "yes"
            )
            owed.append(signin.welcome(session, user))
            return _("{email} added and sent a welcome mail.", email=user.email)
        if do == "user":
            email = value("email")
            if email == seen.user.email and value("active") == "no":
                raise InvalidInput(N_("You cannot deactivate yourself."))
            user = directory.set_user(
                session,
                t,
                email,
                active=None if not value("active") else value("active") == "yes",
                admin=None if not value("admin") else value("admin") == "yes",
            )
            if not user.active:
                return _("{email}: deactivated.", email=user.email)
            if user.is_admin:
                return _("{email}: active, administrator.", email=user.email)
            return _("{email}: active.", email=user.email)
        if do == "add_space":
            added = directory.add_space(session, t, value("slug"), value("name"))
            return _(
                "Space {space} added: mail {address}.",
                space=added.name,
                address=f"{added.slug}@{t.domain}",
            )
        if do == "space":
            restricted = value("restricted") == "yes"
            changed = directory.set_space(
                session,
                t,
                value("space"),
                restricted=restricted,
                description=value("description") if "description" in form else None,
            )
            if restricted:
                return _(
                    "{space}: open to its members and administrators only.", space=changed.name
                )
            return _("{space}: open to every member.", space=changed.name)
        if do == "add_member":
            directory.add_member(session, t, value("space"), value("email"))
            return _(
                "{email} is a member of {space}.",
                email=value("email").lower(),
                space=value("space"),
            )
        if do == "remove_member":
            directory.remove_member(session, t, value("space"), value("email"))
            return _(
                "{email} is no longer a member of {space}.",
                email=value("email").lower(),
                space=value("space"),
            )
        if do == "default":
            slug = value("space")
            space = directory.get_space(session, t, slug) if slug else None
            preferences.set_default(
                session,
                t,
                space,
                preferences.parse_level(value("level")),
                preferences.parse_frequency(value("frequency")),
                mandatory=value("mandatory") == "yes",
            )
            if space is None:
                return _("Default for every space saved.")
            return _("Default for {space} saved.", space=space.name)
        if do in ("approve", "reject", "retry"):
            inbound_id = value("inbound")
            if not inbound_id.isdigit():
                raise NotFound(inbound_id)
            if do == "approve":
                inbound_log.approve(session, t.slug, int(inbound_id))
                return _("Message {id} approved: it is published in a moment.", id=inbound_id)
            if do == "reject":
                inbound_log.reject_held(session, t.slug, int(inbound_id))
                return _("Message {id} rejected.", id=inbound_id)
            inbound_log.retry_inbound(session, t.slug, int(inbound_id))
            return _("Message {id} is queued again.", id=inbound_id)
        raise NotFound(do)
