"""Privacy requests as records (GDPR Art. 12: within one month, identity verified).

`request` records what a person asked for and mails them a link; nothing runs until that link
is confirmed by a POST from the page it opens (`verify`), and asking again while a request is
open only mails the link again, so no duplicate skips the check. A verified request runs at
once: an objection or restriction is recorded; an access report is mailed. Each step is a line
in the audit log (PrivacyEvent) that names no one: the subject is a salted hash, the detail
says which stores were read and how many items.

Due dates are a month after receipt; a week before, the tenant's administrators are told
(`warn_due`, from the sweeper and `mailhub privacy list`).
"""

from __future__ import annotations

import hashlib
import secrets
from calendar import monthrange
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.db import SessionFactory, unit_of_work
from mailhub.domain import objections
from mailhub.domain.directory import get_user
from mailhub.errors import InvalidInput, NotFound
from mailhub.i18n import N_
from mailhub.models import (
    NotificationKind,
    PrivacyEvent,
    PrivacyRequest,
    Tenant,
    User,
    utcnow,
)
from mailhub.outbound.events import owe
from mailhub.outbound.keys import TokenRefused, token_for, use_token
from mailhub.privacy.export import build
from mailhub.privacy.report import access_report
from mailhub.stores.blobs import CHUNK, DatabaseBlobs
from mailhub.stores.files import FileStore

KINDS = ("access", "export", "erase", "object", "restrict")
ARCHIVE_DAYS = 7  # how long an export can be downloaded before it deletes itself
OPEN = ("received", "verified", "running")


def one_month_after(moment: datetime) -> datetime:
    """The same day next month, or its last day (31 January → 28 or 29 February)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=min(moment.day, monthrange(year, month)[1]))


def subject_hash(salt: str, email: str) -> str:
    return hashlib.sha256(f"{salt}:{email.strip().lower()}".encode()).hexdigest()


def log(session: Session, req: PrivacyRequest, event: str, **detail: Any) -> None:
    session.add(
        PrivacyEvent(tenant_id=req.tenant_id, request_id=req.id, event=event, detail=detail)
    )


def request(
    session: Session, tenant: Tenant, email: str, kind: str, via: str = "cli"
) -> tuple[PrivacyRequest, int]:
    """Record a request and queue the mail that verifies it; (the request, the mail's id).
    An open request of the same kind is not duplicated: its link is mailed again."""
    req = open_request(session, tenant, email, kind, via)
    if req.state != "received":
        return req, 0
    stamp = secrets.token_hex(6)  # each resend is its own mail
    user = session.get_one(User, req.user_id)
    mail = _mail(
        session,
        tenant,
        req,
        user,
        NotificationKind.PRIVACY_VERIFY,
        f"verify:{stamp}",
        "a request about your data was made in your name",
    )
    return req, mail


def open_request(
    session: Session, tenant: Tenant, email: str, kind: str, via: str
) -> PrivacyRequest:
    """The person's open request of this kind, or a new one, received now."""
    if kind not in KINDS:
        raise InvalidInput(f"a request is one of {', '.join(KINDS)}, not {kind!r}")
    user = get_user(session, tenant, email)
    if user.guest:
        raise InvalidInput(f"{user.email} has no account to make requests for")
    if not user.active and kind != "erase":
        raise InvalidInput(f"{user.email} has no active account to make requests for")
    req = session.scalar(
        select(PrivacyRequest).where(
            PrivacyRequest.user_id == user.id,
            PrivacyRequest.kind == kind,
            PrivacyRequest.state.in_(OPEN),
        )
    )
    if req is None:
        salt = secrets.token_hex(16)
        now = utcnow()
        req = PrivacyRequest(
            tenant_id=tenant.id,
            user_id=user.id,
            subject_hash=subject_hash(salt, user.email),
            salt=salt,
            kind=kind,
            via=via,
            received_at=now,
            due_at=one_month_after(now),
        )
        session.add(req)
        session.flush()
        log(session, req, "received", via=via)
    else:
        log(session, req, "asked again", via=via)
    return req


def of_token(session: Session, tenant: Tenant, token: str) -> PrivacyRequest:
    row = token_for(session, tenant.id, token)
    req = session.get(PrivacyRequest, row.subject_id)
    if row.action != "verify" or req is None or req.tenant_id != tenant.id:
        raise TokenRefused(N_("This link is not valid. It may have been mistyped or cut off."))
    return req


def verify(session: Session, tenant: Tenant, token: str) -> tuple[PrivacyRequest, list[int]]:
    """Confirm a request from its link, and run it; (the request, mails to send now)."""
    row = token_for(session, tenant.id, token)
    req = of_token(session, tenant, token)
    if req.state != "received":
        raise TokenRefused(f"This request is already {req.state}.")
    use_token(session, row)
    req.state, req.verified_at = "verified", utcnow()
    log(session, req, "verified")
    if req.kind in ("export", "erase"):
        return req, []  # run by the worker's sweeper, which can resume them
    return req, run(session, tenant, req)


def run(session: Session, tenant: Tenant, req: PrivacyRequest) -> list[int]:
    user = session.get(User, req.user_id) if req.user_id else None
    if user is None:
        return _finish(session, req, "failed", "the account no longer exists")
    req.state = "running"
    log(session, req, "running")
    if req.kind in ("object", "restrict"):
        kind = "objection" if req.kind == "object" else "restriction"
        objections.object_to_processing(session, tenant, user, kind)
        _finish(session, req, "done", stores=["objections"], items=1)
        return [_outcome(session, tenant, req, user)]

    report = access_report(session, tenant, user)
    _finish(
        session,
        req,
        "done",
        stores=[c.table for c in report.categories if c.count],
        items=sum(c.count for c in report.categories),
    )
    return [_outcome(session, tenant, req, user)]


def _finish(
    session: Session, req: PrivacyRequest, state: str, error: str = "", **detail: Any
) -> list[int]:
    req.state, req.finished_at, req.error = state, utcnow(), error
    log(session, req, state, **detail)
    return []


def _outcome(session: Session, tenant: Tenant, req: PrivacyRequest, user: User) -> int:
    """The mail that ends a request: the access report itself, or what was recorded."""
    return _mail(
        session,
        tenant,
        req,
        user,
        NotificationKind.PRIVACY_REPORT,
        "outcome",
        "you made a request about your data",
    )


def _mail(
    session: Session,
    tenant: Tenant,
    req: PrivacyRequest,
    user: User,
    kind: NotificationKind,
    step: str,
    reason: str,
) -> int:
    return owe(
        session,
        user,
        kind=kind,
        event_key=f"privacy:{req.id}:{step}",
        reason=reason,
        context={"request_id": req.id},
        message_id=f"<{tenant.slug}/privacy/{req.id}/{step.replace(':', '.')}@{tenant.domain}>",
    )


def proofs(session: Session, request_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The proof recorded with each erasure among these requests: stores, hits, left."""
    return {
        e.request_id: e.detail
        for e in session.scalars(
            select(PrivacyEvent).where(
                PrivacyEvent.request_id.in_(request_ids), PrivacyEvent.event == "proof"
            )
        )
    }


def cancel(session: Session, tenant: Tenant, request_id: int) -> PrivacyRequest:
    req = session.get(PrivacyRequest, request_id)
    if req is None or req.tenant_id != tenant.id:
        raise NotFound(f"no privacy request {request_id} in {tenant.slug}")
    if req.state not in ("received", "verified"):
        raise InvalidInput(f"request {request_id} is {req.state}; it can no longer be cancelled")
    req.state, req.finished_at = "cancelled", utcnow()
    log(session, req, "cancelled")
    return req


def listing(session: Session, tenant: Tenant) -> list[PrivacyRequest]:
    return list(
        session.scalars(
            select(PrivacyRequest)
            .where(PrivacyRequest.tenant_id == tenant.id)
            .order_by(PrivacyRequest.id.desc())
        )
    )


def warn_due(session: Session, now: datetime | None = None) -> list[int]:
    """Tell each tenant's administrators once about open requests due within a week."""
    now = now or utcnow()
    ids: list[int] = []
    for req in session.scalars(
        select(PrivacyRequest).where(
            PrivacyRequest.state.in_(OPEN),
            PrivacyRequest.warned_at.is_(None),
            PrivacyRequest.due_at <= now + timedelta(days=7),
        )
    ):
        req.warned_at = now
        log(session, req, "due soon", due=req.due_at.isoformat())
        admins = session.scalars(
            select(User).where(
                User.tenant_id == req.tenant_id, User.is_admin, User.active, ~User.guest
            )
        )
        for admin in admins:
            ids.append(
                owe(
                    session,
                    admin,
                    kind=NotificationKind.PRIVACY_DUE,
                    event_key=f"privacy:{req.id}:due:{admin.id}",
                    reason="you administer privacy requests",
                    context={"request_id": req.id},
                    message_id=f"<privacy/{req.id}/due/{admin.id}@mailhub.invalid>",
                )
            )
    return ids


def pending_exports(session: Session) -> list[int]:
    """Verified exports, and any a killed worker left running: the sweeper builds them."""
    return list(
        session.scalars(
            select(PrivacyRequest.id).where(
                PrivacyRequest.kind == "export", PrivacyRequest.state.in_(("verified", "running"))
            )
        )
    )


def run_export(
    factory: SessionFactory,
    request_id: int,
    files: FileStore,
    exports: Path,
    blobs: DatabaseBlobs | None = None,
) -> list[int]:
    """Build one export's archive and mail its link; [] if another run got there first."""
    with unit_of_work(factory) as session:
        req = session.get(PrivacyRequest, request_id)
        if req is None or req.kind != "export" or req.state not in ("verified", "running"):
            return []
        if req.state == "verified":
            req.state = "running"
            log(session, req, "running")
    with unit_of_work(factory) as session:
        req = session.get_one(PrivacyRequest, request_id)
        tenant = session.get_one(Tenant, req.tenant_id)
        user = session.get(User, req.user_id) if req.user_id else None
        if user is None:
            return _finish(session, req, "failed", "the account no longer exists")
        rel, counts = build(session, tenant, user, files, exports)
        if blobs is not None:  # kept in the database, for whichever host serves the download
            with open(exports / rel, "rb") as fh:
                blobs.write(tenant.id, rel, iter(lambda: fh.read(CHUNK), b""))
            (exports / rel).unlink()
        req.archive, req.archive_expires_at = rel, utcnow() + timedelta(days=ARCHIVE_DAYS)
        _finish(session, req, "done", stores=sorted(counts), items=sum(counts.values()))
        return [_outcome(session, tenant, req, user)]


def expire_archives(
    session: Session,
    exports: Path,
    now: datetime | None = None,
    blobs: DatabaseBlobs | None = None,
) -> int:
    """Delete export archives whose link has expired (files before rows)."""
    now = now or utcnow()
    count = 0
    for req in session.scalars(
        select(PrivacyRequest).where(
            PrivacyRequest.archive.is_not(None), PrivacyRequest.archive_expires_at <= now
        )
    ):
        assert req.archive is not None
        (exports / req.archive).unlink(missing_ok=True)
        if blobs is not None:
            blobs.delete(req.archive)
        req.archive = None
        log(session, req, "archive deleted")
        count += 1
    return count


def archive_of(session: Session, tenant: Tenant, token: str) -> tuple[PrivacyRequest, str]:
    """The export a download link is for, while it lasts."""
    row = token_for(session, tenant.id, token)
    req = session.get(PrivacyRequest, row.subject_id)
    if row.action != "download" or req is None or req.tenant_id != tenant.id:
        raise TokenRefused(N_("This link is not valid. It may have been mistyped or cut off."))
    if req.archive is None or (req.archive_expires_at and req.archive_expires_at <= utcnow()):
        raise TokenRefused(N_("This export has expired and was deleted. Ask for a new one."))
    return req, req.archive
