"""Signing in without passwords: a magic link by mail, and the session it opens.

The link's token is minted when the mail is made (outbound/mails/account.py), so no secret
exists outside the mail; it is single use, expires after 15 minutes, and is consumed only by the POST
of the page it opens, so a mail scanner that fetches every link signs nobody in. Asking for a
link says the same whether or not the address belongs to a member (no one learns who is one),
and at most LINKS_PER_HOUR are mailed to one person.

A session is a random secret in an HttpOnly cookie, stored only as a SHA-256; it lasts
SESSION_DAYS from its last use and ends on sign-out, or at once when the user is deactivated.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mailhub.db import rowcount
from mailhub.domain.directory import get_user, mark_active, user_by_email
from mailhub.models import (
    ActionToken,
    Notification,
    NotificationKind,
    SubjectKind,
    Tenant,
    User,
    WebSession,
    utcnow,
)
from mailhub.outbound.contexts import Welcome
from mailhub.outbound.events import owe
from mailhub.outbound.keys import TokenRefused, hash_key, mint_token, new_key, token_for, use_token

LINKS_PER_HOUR = 5
SESSION_DAYS = 30
TOUCH_EVERY = timedelta(minutes=5)  # how stale last_seen_at may get before it is written
VISIT_GAP = timedelta(hours=1)  # a pause this long ends a visit


def request_link(session: Session, tenant: Tenant, email: str, next_path: str = "") -> int | None:
    """Queue a sign-in mail to a member; None (and nothing mailed) for anyone else, or when
    this person already got LINKS_PER_HOUR links in the last hour."""
    user = user_by_email(session, tenant.id, email)
    if user is None or not user.active or user.guest:
        return None
    recent = session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(
            Notification.tenant_id == tenant.id,
            Notification.user_id == user.id,
            Notification.kind == NotificationKind.SIGN_IN,
            Notification.created_at >= utcnow() - timedelta(hours=1),
        )
    )
    if (recent or 0) >= LINKS_PER_HOUR:
        return None
    stamp = secrets.token_hex(8)
    return owe(
        session,
        user,
        kind=NotificationKind.SIGN_IN,
        event_key=f"signin:{user.id}:{stamp}",
        reason="you asked to sign in",
        context={"next": safe_next(tenant, next_path)},
        message_id=f"<{tenant.slug}/signin/{stamp}@{tenant.domain}>",
    )


def safe_next(tenant: Tenant, path: str) -> str:
    """Where to go after signing in: a path inside this tenant, never another site."""
    prefix = f"/t/{tenant.slug}/"
    if path.startswith(prefix) and "//" not in path and "\\" not in path and "\n" not in path:
        return path
    return f"/t/{tenant.slug}/pages"


def link_for(session: Session, tenant: Tenant, email: str, base_url: str) -> str:
    """A sign-in link for an administrator to hand over (the first sign-in of a new
    deployment, or a member whose mail does not arrive); the same 15-minute, single-use
    token a mailed link carries."""
    user = get_user(session, tenant, email)
    if not user.active or user.guest:
        raise TokenRefused(f"{user.email} cannot sign in: the account is not an active member")
    token = mint_token(session, tenant.id, user.id, "signin", SubjectKind.TENANT, tenant.id)
    return f"{base_url.rstrip('/')}/t/{tenant.slug}/signin/{token}"


@dataclass(frozen=True)
class Opened:
    cookie: str  # the secret for the browser; only its hash is stored
    next_path: str


def holder(session: Session, tenant: Tenant, token: str) -> User:
    """Whom a magic link would sign in, without using it; TokenRefused with a sentence for a
    person (unknown, expired, already used, or an account that may not sign in)."""
    return _check(session, tenant, token)[1]


def _check(session: Session, tenant: Tenant, token: str) -> tuple[ActionToken, User]:
    row = token_for(session, tenant.id, token)
    if row.action not in ("signin", "welcome"):
        raise TokenRefused("This link is not valid. It may have been mistyped or cut off.")
    user = session.get(User, row.user_id)
    if user is None or user.tenant_id != tenant.id or not user.active or user.guest:
        raise TokenRefused("This account cannot sign in. Ask an administrator.")
    return row, user


def sign_in(session: Session, tenant: Tenant, token: str, next_path: str = "") -> Opened:
    """Consume a magic link and open a session; TokenRefused with a sentence for a person."""
    row, user = _check(session, tenant, token)
    use_token(session, row)
    mark_active(user)
    secret = new_key()
    session.add(
        WebSession(
            tenant_id=tenant.id,
            user_id=user.id,
            token_hash=hash_key(secret),
            csrf=secrets.token_urlsafe(24),
            expires_at=utcnow() + timedelta(days=SESSION_DAYS),
        )
    )
    return Opened(secret, safe_next(tenant, next_path))


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a signed-in member of this tenant."""

    user: User
    tenant: Tenant
    csrf: str
    session_id: int


def viewer(session: Session, tenant: Tenant, cookie: str | None) -> Viewer | None:
    """The signed-in member behind a session cookie, or None (unknown, expired, another
    tenant's, or a user who is no longer active)."""
    if not cookie:
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_hash == hash_key(cookie)))
    now = utcnow()
    if row is None or row.tenant_id != tenant.id or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active or user.guest or user.tenant_id != tenant.id:
        return None
    if now - row.last_seen_at > VISIT_GAP:  # a new visit: the previous one ended then
        user.previous_visit_at = row.last_seen_at
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at, row.expires_at = now, now + timedelta(days=SESSION_DAYS)
    return Viewer(user, tenant, row.csrf, row.id)


def sign_out(session: Session, cookie: str | None) -> None:
    if cookie:
        session.execute(delete(WebSession).where(WebSession.token_hash == hash_key(cookie)))


def purge_expired(session: Session) -> int:
    result = session.execute(delete(WebSession).where(WebSession.expires_at <= utcnow()))
    return rowcount(result)


def welcome(session: Session, user: User) -> int:
    """The welcome mail a member an administrator added gets (once): what the intranet is,
    where to mail, how replying works, a one-time way in and where to choose their mail."""
    tenant = session.get_one(Tenant, user.tenant_id)
    return owe(
        session,
        user,
        kind=NotificationKind.WELCOME,
        event_key=f"welcome:{user.id}",
        reason="an administrator added you to the intranet",
        context=Welcome(),
        message_id=f"<{tenant.slug}/welcome/{user.id}.{secrets.token_hex(4)}@{tenant.domain}>",
    )
